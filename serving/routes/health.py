"""``/healthz`` (liveness), ``/readyz`` (a scored snapshot serves) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import HolderDep
from serving.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """Liveness: answers on the event loop, whatever the state."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(holder: HolderDep) -> ReadyOut | JSONResponse:
    """200 while a scored snapshot serves (with a warning after a failed reload), else 503."""
    state = holder.state
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
