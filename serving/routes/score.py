"""``POST /v1/score``: score submitted feature rows (analysts)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, status

from serving.auth import AnalystUser
from serving.deps import LanguageDep, StateDep, reasons_out
from serving.errors import ScoringInputError
from serving.schemas import ScoreItem, ScoreRequest, ScoreResponse
from serving.state import ScoringModel, score_frame
from warehouse.contract import JURISDICTION_COLUMNS

router = APIRouter(prefix="/v1", tags=["score"])

_KEYS = ("household_id", "as_of", *JURISDICTION_COLUMNS)


#: Names listed at most in a 422 message about missing or unknown columns.
_LISTED = 10


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_LISTED])
    more = len(names) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _may_be_negative(name: str) -> bool:
    """Whether a feature may take negative values: only trends (see features.catalogue)."""
    from features.catalogue import FEATURES

    spec = FEATURES.get(name)
    return spec is None or spec.metric == "trend"


def rows_to_frame(model: ScoringModel, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Submitted rows as a feature frame in the model's column order.

    Missing features are NaN; text-valued features become ``category`` (with the
    model's fitted categories when it has ``categories_``). The frame is built
    in one go from per-column arrays (inserting columns one by one made pandas
    warn about fragmentation on every call).

    Parameters
    ----------
    model : ScoringModel
        Its ``feature_names_`` give the columns.
    rows : list of dict
        Feature name -> value; optional keys ``household_id``, ``as_of`` and the
        jurisdiction columns.

    Returns
    -------
    DataFrame of shape (len(rows), n_keys_given + n_features)

    Raises
    ------
    ScoringInputError
        On unknown column names, a row with none of the model's features, text
        mixed with numbers in a feature, or a negative count, number of days or
        share (every catalogue feature but the trends is non-negative).
    """
    names = list(model.feature_names_)
    feature_set = set(names)
    allowed = feature_set | set(_KEYS)
    unknown = sorted({k for row in rows for k in row} - allowed)
    if unknown:
        raise ScoringInputError(
            f"expected feature names of the model, got unknown columns {unknown[:_LISTED]!r}"
        )
    for i, row in enumerate(rows):
        if not any(row.get(k) is not None for k in feature_set):
            raise ScoringInputError(
                f"expected at least one of the model's {len(names)} features in each row, "
                f"got none in row {i}; missing: {_listed(names)}"
            )
    n = len(rows)
    columns: dict[str, Any] = {}
    for key in _KEYS:
        if any(key in row for row in rows):
            values = [row.get(key) for row in rows]
            columns[key] = (
                pd.Series(values, dtype="object")
                if key == "as_of"
                else pd.Series(values, dtype="object").astype("str")
            )
    fitted_categories: dict[str, Any] = dict(getattr(model, "categories_", {}) or {})
    for name in names:
        col = pd.Series([row.get(name) for row in rows], dtype="object")
        is_text = col.map(lambda v: isinstance(v, str))
        if name in fitted_categories or bool(is_text.any()):
            if name not in fitted_categories and not is_text[col.notna()].all():
                raise ScoringInputError(
                    f"expected numbers or text consistently in {name!r}, got a mix"
                )
            columns[name] = pd.Categorical(
                col.where(col.notna(), None), categories=fitted_categories.get(name)
            )
            continue
        numbers = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
        if not _may_be_negative(name):
            negative = np.flatnonzero(numbers < 0)
            if negative.size:
                i = int(negative[0])
                raise ScoringInputError(
                    f"expected a non-negative value in {name!r} (a count, number of days "
                    f"or share), got {float(numbers[i])!r} in row {i}"
                )
        columns[name] = numbers
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


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
