"""``GET /v1/model``: the served model's version, metrics and training parameters (analysts)."""

from __future__ import annotations

from fastapi import APIRouter

from serving.auth import AnalystUser
from serving.deps import HolderDep, StateDep
from serving.schemas import ModelOut

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    response_model=ModelOut,
    responses={
        401: {"description": "No or invalid token."},
        403: {"description": "Analysts only."},
    },
)
def get_model(user: AnalystUser, state: StateDep, holder: HolderDep) -> ModelOut:
    """Champion version, training window (run parameters), metrics and snapshot size."""
    info = state.model_info
    return ModelOut(
        name=info.name,
        version=info.version,
        run_id=info.run_id,
        horizon_days=info.horizon_days,
        metrics={k: v for k, v in info.metrics.items() if v == v},
        params=info.params,
        feature_names=[str(n) for n in getattr(state.model, "feature_names_", [])],
        as_of=state.as_of.date(),
        n_households=state.n_households,
        loaded_at=holder.loaded_at,
    )
