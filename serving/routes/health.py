"""``/healthz`` (liveness), ``/readyz`` (a scored snapshot serves) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import HolderDep
from serving.errors import AuthError, TokenStoreError
from serving.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """Liveness: answers on the event loop, whatever the state."""
    return HealthOut(status="ok")


def _is_admin(request: Request) -> bool:
    """Whether the request carries a valid admin bearer token (no error otherwise)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer ":
        return False
    try:
        user = request.app.state.tokens.authenticate(header[7:].strip())
    except (AuthError, TokenStoreError):
        return False
    return bool(user.role == "admin")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(request: Request, holder: HolderDep) -> ReadyOut | JSONResponse:
    """200 while a scored snapshot serves, else 503.

    Anonymous callers (load balancers) learn only ``status``; with an admin bearer
    token the answer adds the model version, snapshot, load time and, after a
    failed reload, why it failed (the previous state keeps serving: ``degraded``).
    """
    state = holder.state
    if not _is_admin(request):
        body = ReadyOut(status="not ready" if state is None else "ready")
        return JSONResponse(
            body.model_dump(mode="json", exclude_none=True),
            status_code=503 if state is None else 200,
        )
    if state is None:
        body = ReadyOut(
            status="not ready",
            last_reload_error=holder.last_error,
            last_reload_error_at=holder.last_error_at,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    degraded = holder.last_error is not None
    return ReadyOut(
        status="degraded" if degraded else "ready",
        model_version=state.model_info.version,
        as_of=state.as_of.date(),
        n_households=state.n_households,
        loaded_at=holder.loaded_at,
        last_reload_error=holder.last_error,
        last_reload_error_at=holder.last_error_at,
        warning="the last reload failed; the previous state keeps serving" if degraded else None,
    )


@router.get("/metrics", response_class=Response, include_in_schema=True)
def metrics(request: Request) -> Response:
    """Request counts and latencies per route, Prometheus text format."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
