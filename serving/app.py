"""The FastAPI application: lifespan loads the scored snapshot once; routes are slices of it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from serving.audit import AuditLog
from serving.audit_middleware import AuditMiddleware
from serving.auth import TokenStore
from serving.config import ServingSettings
from serving.deps import single_valued_query
from serving.errors import (
    ForbiddenError,
    ServingError,
    StateLoadError,
    StateNotReady,
    TokenStoreError,
    UnknownHousehold,
    UnknownJurisdiction,
)
from serving.loading import default_change_probe, load_state
from serving.metrics import Metrics, RequestMiddleware
from serving.routes import (
    admin,
    command_centre,
    health,
    households,
    model,
    priority_list,
    score,
    tasks,
)
from serving.schemas import COMMON_ERROR_RESPONSES
from serving.state import ChangeProbe, StateHolder, StateLoader
from serving.tasks_support import TaskDBHolder

logger = logging.getLogger(__name__)

_STATUS_OF: tuple[tuple[type[ServingError], int, str], ...] = (
    (StateNotReady, 503, "the service has no scored snapshot loaded yet"),
    (StateLoadError, 503, "the scored snapshot could not be loaded"),
    (UnknownHousehold, 404, "no such household in your jurisdiction"),
    (UnknownJurisdiction, 404, "no such jurisdiction in the snapshot"),
    (ForbiddenError, 403, "outside your jurisdiction"),
    (TokenStoreError, 503, "the tokens file cannot be read; an administrator must repair it"),
)


def create_app(
    settings: ServingSettings | None = None,
    state_loader: StateLoader | None = None,
    change_probe: ChangeProbe | None = None,
) -> FastAPI:
    """Build the API application.

    Parameters
    ----------
    settings : ServingSettings or None
        Process settings (default: from the environment).
    state_loader : callable or None
        ``loader(settings) -> ServingState``; default :func:`serving.loading.load_state`
        (champion from the registry, snapshot from the warehouse). Tests inject a fake.
    change_probe : callable or None
        ``probe(settings) -> hashable`` watched by the periodic reload; default
        :func:`serving.loading.default_change_probe` with the default loader, none otherwise.

    Returns
    -------
    FastAPI
        The app; its lifespan loads the state (a failed first load leaves it not
        ready: ``/readyz`` answers 503 and reports why), starts the audit writer
        and the periodic reload check (``settings.reload_interval_s``), and on
        shutdown flushes the audit log.
    """
    settings = settings if settings is not None else ServingSettings()
    loader = state_loader if state_loader is not None else load_state
    probe = (
        change_probe
        if change_probe is not None
        else (default_change_probe if state_loader is None else None)
    )
    holder = StateHolder(settings, loader, probe)
    audit = AuditLog(settings.audit_db, busy_timeout_s=settings.audit_busy_timeout_s)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        audit.start()
        try:
            await run_in_threadpool(holder.reload)
        except StateLoadError:
            logger.error("no scored snapshot at start-up; /readyz reports why")
        holder.start_watcher(settings.reload_interval_s)
        try:
            yield
        finally:
            holder.stop_watcher()
            audit.close()
            app.state.tasks.close()

    # Swagger UI and ReDoc assets served from the installed package (fastapi-offline), no CDN.
    app = FastAPIOffline(
        title="Revisit",
        version="0.1.0",
        description="Ranked, explained lists of households for community police to revisit first.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.audit = audit
    app.state.tokens = TokenStore(settings.tokens_file)
    app.state.metrics = metrics
    app.state.tasks = TaskDBHolder(settings.tasks_db_url)

    once = [Depends(single_valued_query)]
    for module in (priority_list, households, score, model, admin, tasks, command_centre):
        app.include_router(module.router, responses=COMMON_ERROR_RESPONSES, dependencies=once)
    app.include_router(health.router)
    app.include_router(tasks.admin_router, responses=COMMON_ERROR_RESPONSES, dependencies=once)
    from serving.ui import routes as ui_routes

    ui_routes.mount(app)

    @app.exception_handler(ServingError)
    async def _serving_error(request: Request, exc: ServingError) -> JSONResponse:
        for kind, code, detail in _STATUS_OF:
            if isinstance(exc, kind):
                return JSONResponse({"detail": detail}, status_code=code)
        return _internal(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": plain_validation_errors(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request, exc)

    app.add_middleware(RequestMiddleware, metrics=metrics)
    # Outermost: bodies bounded before parsing; every /v1 answer waits for its durable audit row.
    app.add_middleware(AuditMiddleware, audit=audit, max_body_bytes=settings.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """App factory of a ``revisit serve --workers N`` worker: settings from the environment.

    Called in each worker process after it started, so the model is loaded there.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return create_app(ServingSettings())


#: Largest ``input`` (characters of JSON) a 422 echoes back; larger ones are left out.
MAX_ECHOED_INPUT_CHARS = 200

_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's 422 ``detail`` list, with plain ``msg`` and without large ``input`` echoes.

    Keeps each error's structure (``type``, ``loc``, ``msg``, ``input``, ``ctx``) but
    drops the ``Value error, `` prefix pydantic puts before validator messages, and
    drops ``input`` (and ``ctx``) when its JSON is longer than
    :data:`MAX_ECHOED_INPUT_CHARS` (a 10 001-row batch would otherwise come back whole).

    Parameters
    ----------
    errors : sequence of dict
        ``RequestValidationError.errors()``.
    """
    out: list[dict[str, Any]] = []
    for err in errors:
        item = dict(err)
        msg = str(item.get("msg", ""))
        for prefix in _PYDANTIC_PREFIXES:
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        item["msg"] = msg
        item.pop("url", None)
        if "input" in item:
            try:
                encoded = json.dumps(
                    jsonable_encoder(item["input"]), ensure_ascii=False, allow_nan=False
                )
            except (TypeError, ValueError):  # unencodable, or Infinity/NaN (not JSON)
                encoded = "?" * (MAX_ECHOED_INPUT_CHARS + 1)
            if len(encoded) > MAX_ECHOED_INPUT_CHARS:
                del item["input"]
        if "ctx" in item:
            item["ctx"] = {
                k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
                for k, v in dict(item["ctx"]).items()
            }
        out.append(item)
    return out


def _internal(request: Request, exc: BaseException) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    route = getattr(request.scope.get("route"), "path", "unmatched")
    logger.error(
        "internal error %s on %s (request %s)",
        type(exc).__name__,
        route,
        request_id,
        exc_info=exc,
    )
    return JSONResponse({"detail": "internal error", "request_id": request_id}, status_code=500)
