"""``POST /v1/score``: score submitted feature rows (analysts)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, status

from features.contract import JURISDICTION_COLUMNS
from serving.auth import AnalystUser
from serving.deps import LanguageDep, StateDep, reasons_out
from serving.errors import ScoringInputError
from serving.schemas import ScoreItem, ScoreRequest, ScoreResponse
from serving.state import ScoringModel, score_frame

router = APIRouter(prefix="/v1", tags=["score"])

_KEYS = ("household_id", "as_of", *JURISDICTION_COLUMNS)


def rows_to_frame(model: ScoringModel, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Submitted rows as a feature frame in the model's column order.

    Missing features are NaN; text-valued features become ``category`` (with the
    model's fitted categories when it has ``categories_``).

    Raises
    ------
    ScoringInputError
        On unknown column names, or text in a numeric feature.
    """
    names = list(model.feature_names_)
    allowed = set(names) | set(_KEYS)
    unknown = sorted({k for row in rows for k in row} - allowed)
    if unknown:
        raise ScoringInputError(
            f"expected feature names of the model, got unknown columns {unknown[:10]!r}"
        )
    frame = pd.DataFrame.from_records(rows)
    for key in _KEYS:
        if key in frame.columns and key != "as_of":
            frame[key] = frame[key].astype("str")
    fitted_categories: dict[str, Any] = dict(getattr(model, "categories_", {}) or {})
    for name in names:
        if name not in frame.columns:
            frame[name] = np.nan
            continue
        col = frame[name]
        is_text = col.map(lambda v: isinstance(v, str))
        if name in fitted_categories or is_text.any():
            if name not in fitted_categories and not is_text[col.notna()].all():
                raise ScoringInputError(
                    f"expected numbers or text consistently in {name!r}, got a mix"
                )
            cats = fitted_categories.get(name)
            frame[name] = pd.Categorical(
                col.where(col.notna(), None).astype("object"), categories=cats
            )
        else:
            frame[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return frame


@router.post(
    "/score",
    response_model=ScoreResponse,
    responses={
        401: {"description": "No or invalid bearer token."},
        403: {"description": "Needs the analyst or admin role."},
        503: {"description": "No model loaded yet."},
    },
)
def post_score(
    request_body: ScoreRequest,
    user: AnalystUser,
    state: StateDep,
    lang: LanguageDep,
    reasons: Annotated[bool, Query(description="Also explain each row (top reasons).")] = False,
) -> ScoreResponse:
    """Score up to 10 000 feature rows with the served model (calibrated probabilities)."""
    model = state.model
    try:
        frame = rows_to_frame(model, request_body.rows)
        scores = score_frame(model, frame)
        explained = model.explain(frame, top_k=state.top_k) if reasons else None
    except ScoringInputError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except (ValueError, TypeError, KeyError) as err:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the model could not use these rows: {err}"
        ) from err
    ids = request_body.rows
    items = [
        ScoreItem(
            index=i,
            household_id=None
            if ids[i].get("household_id") is None
            else str(ids[i]["household_id"]),
            score=float(s),
            reasons=None if explained is None else reasons_out(explained[i], lang),
        )
        for i, s in enumerate(scores)
    ]
    return ScoreResponse(
        model_version=state.model_info.version,
        horizon_days=state.model_info.horizon_days,
        items=items,
    )
