"""``POST /v1/admin/reload``: load a new champion/snapshot beside the old one and swap (admins)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status

from serving.auth import AdminUser
from serving.deps import HolderDep
from serving.errors import StateLoadError
from serving.schemas import ReloadOut

router = APIRouter(prefix="/v1/admin", tags=["admin"])
logger = logging.getLogger(__name__)


@router.post(
    "/reload",
    response_model=ReloadOut,
    responses={
        401: {"description": "No or invalid token."},
        403: {"description": "Admins only."},
        503: {"description": "The reload failed; the previous state keeps serving."},
    },
)
def post_reload(user: AdminUser, holder: HolderDep) -> ReloadOut:
    """Rebuild the scored snapshot from the registry and warehouse, then swap it in atomically."""
    logger.info("reload asked by token %s", user.token_id)
    try:
        state = holder.reload()
    except StateLoadError as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"reload failed, the previous state keeps serving: {holder.last_error}",
        ) from err
    return ReloadOut(
        model_version=state.model_info.version,
        as_of=state.as_of.date(),
        n_households=state.n_households,
        load_seconds=holder.load_seconds or 0.0,
    )
