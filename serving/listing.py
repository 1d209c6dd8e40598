"""Building a priority list from a :class:`ServingState` (shared by the API and ``revisit rank``)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

from serving.schemas import Language, PriorityItem, PriorityList, ReasonOut
from serving.state import CachedPage, ServingState


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


def round_days(days: float | None) -> float | None:
    """Days since the last visit as shown: rounded to 0.1 day (``None`` stays ``None``)."""
    return None if days is None else round(float(days), 1)


def as_count(value: float | None) -> int | None:
    """A count feature (e.g. open disputes) as an integer (``None`` stays ``None``)."""
    return None if value is None else int(round(float(value)))


def with_rule_reasons(
    state: ServingState, rows: Sequence[Any], reasons: list[list[Any]]
) -> list[list[Any]]:
    """Put "follow-up overdue by N days" first among the reasons of households it applies to."""
    if not state.followups:
        return reasons
    from serving.publishing import followup_reason

    out = []
    for row, rs in zip(rows, reasons, strict=True):
        days = state.followups.get(row.household_id)
        out.append([followup_reason(days), *rs] if days is not None else rs)
    return out


def suspect_note(state: ServingState, household_id: str, lang: Language) -> str | None:
    """The "verify in person" note of a household whose recent visits are suspect, else None."""
    if household_id not in getattr(state, "suspect_households", frozenset()):
        return None
    from campaign.officer_review import SUSPECT_NOTE_EN, SUSPECT_NOTE_ZH

    return SUSPECT_NOTE_ZH if lang == "zh" else SUSPECT_NOTE_EN


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
    reasons = with_rule_reasons(state, rows, state.reasons_for([r.position for r in rows]))
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
            days_since_last_visit=round_days(r.days_since_last_visit),
            open_disputes=as_count(r.open_disputes),
            note=suspect_note(state, r.household_id, lang),
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


def page_key(
    state: ServingState, level: str, name: str, *, limit: int, offset: int, lang: Language
) -> Hashable:
    """Cache key of a rendered page: model version, as-of date, jurisdiction, slice, language."""
    return (state.model_info.version, state.as_of_day, level, name, limit, offset, lang)


def cached_page(
    state: ServingState, level: str, name: str, *, limit: int, offset: int, lang: Language
) -> CachedPage | None:
    """The rendered page if ``state`` has it cached, else ``None`` (cheap: no model call)."""
    return state.pages.get(page_key(state, level, name, limit=limit, offset=offset, lang=lang))


def render_page(
    state: ServingState, level: str, name: str, *, limit: int, offset: int, lang: Language
) -> CachedPage:
    """:func:`priority_list` serialised to JSON, from ``state.pages`` or built and cached there.

    The cache lives on the state, so a reload (a new state) never serves an old
    page. Parameters are those of :func:`priority_list`.

    Returns
    -------
    CachedPage
        UTF-8 JSON body and the returned household ids (for the audit row).

    Raises
    ------
    UnknownJurisdiction
        When the snapshot has no such jurisdiction (nothing is cached then).
    """
    key = page_key(state, level, name, limit=limit, offset=offset, lang=lang)
    page = state.pages.get(key)
    if page is not None:
        return page
    body = priority_list(state, level, name, limit=limit, offset=offset, lang=lang)
    ids = tuple(it.household_id for it in body.items)
    page = CachedPage(
        body=body.model_dump_json().encode("utf-8"),
        household_ids=ids,
        household_ids_json=json.dumps(list(ids), ensure_ascii=False),
    )
    state.pages.put(key, page)
    return page
