"""Building a priority list from a :class:`ServingState` (shared by the API and ``revisit rank``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serving.schemas import Language, PriorityItem, PriorityList, ReasonOut
from serving.state import ServingState


def reasons_out(reasons: Sequence[Any], lang: Language) -> list[ReasonOut]:
    """Reasons (``models.reasons.Reason``-like) as response objects, ``text`` in ``lang``."""
    return [
        ReasonOut(
            code=str(r.code),
            text=str(r.text_zh if lang == "zh" else r.text_en),
            text_en=str(r.text_en),
            text_zh=str(r.text_zh),
            contribution=float(r.contribution),
        )
        for r in reasons
    ]


def priority_list(
    state: ServingState, level: str, name: str, *, limit: int, offset: int, lang: Language
) -> PriorityList:
    """A ranked slice of a jurisdiction with reasons for the returned rows only.

    Parameters
    ----------
    state : ServingState
        The scored snapshot.
    level : {"county", "township", "village"}
    name : str
        Jurisdiction name.
    limit : int
        Rows, 1–500.
    offset : int
        Rows skipped, ≥ 0.
    lang : {"en", "zh"}
        Language of ``text`` in reasons.

    Raises
    ------
    UnknownJurisdiction
        When the snapshot has no such jurisdiction.
    """
    rows, total = state.page(level, name, limit, offset)
    reasons = state.reasons_for([r.position for r in rows])
    items = [
        PriorityItem(
            rank=r.rank,
            household_id=r.household_id,
            county=r.county,
            township=r.township,
            village=r.village,
            score=r.score,
            risk_band=r.risk_band,  # type: ignore[arg-type]
            reasons=reasons_out(rs, lang),
            days_since_last_visit=r.days_since_last_visit,
            open_disputes=r.open_disputes,
        )
        for r, rs in zip(rows, reasons, strict=True)
    ]
    return PriorityList(
        model_version=state.model_info.version,
        as_of=state.as_of.date(),
        horizon_days=state.model_info.horizon_days,
        level=level,  # type: ignore[arg-type]
        jurisdiction=name,
        total=total,
        limit=limit,
        offset=offset,
        language=lang,
        items=items,
    )
