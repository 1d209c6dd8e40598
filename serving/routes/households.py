"""``GET /v1/households/{household_id}``: score, reasons and history summary of one household."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Path, status

from serving.audit import AuditEvent
from serving.auth import CurrentUser
from serving.deps import AuditDep, LanguageDep, StateDep, reasons_out
from serving.errors import UnknownHousehold
from serving.listing import as_count, round_days, with_rule_reasons
from serving.schemas import HouseholdOut
from serving.scope import may_see_household
from serving.state import ServingState

router = APIRouter(prefix="/v1", tags=["households"])

_NOT_FOUND = "no such household in your jurisdiction"


def _rank_within(state: ServingState, level: str, position: int) -> int:
    ranking = state.ranking(level, state.path_of(level, position))
    hits = np.flatnonzero(ranking == position)
    return int(hits[0]) + 1


@router.get(
    "/households/{household_id}",
    response_model=HouseholdOut,
    responses={
        401: {"description": "No or invalid bearer token."},
        404: {"description": "Unknown household, or outside the token's jurisdiction."},
        503: {"description": "No scored snapshot loaded yet."},
    },
)
def get_household(
    household_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    state: StateDep,
    audit: AuditDep,
    lang: LanguageDep,
) -> HouseholdOut:
    """Score, rank, reasons and feature history of one household.

    A household outside an officer's jurisdiction answers 404, exactly like an
    unknown id, so that ids cannot be probed. Every read is audited, refused ones
    too: outcome ``not_found`` for an unknown id (not stored), ``forbidden`` for a
    household outside the jurisdiction (the HTTP answer is the same 404).
    """
    info = state.model_info
    as_of = state.as_of.date()

    def audit_read(ids: list[str], outcome: str) -> None:
        audit.record(
            AuditEvent.make(
                token_id=user.token_id,
                role=user.role,
                level=user.level,
                jurisdiction=user.jurisdiction,
                endpoint="/v1/households/{household_id}",
                household_ids=ids,
                model_version=info.version,
                as_of=as_of.isoformat(),
                outcome=outcome,
                label=user.label,
            )
        )

    try:
        position = state.position(household_id)
    except UnknownHousehold as err:
        # The asked id is not stored: it is no household's, and may be anything typed.
        audit_read([], "not_found")
        raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_FOUND) from err
    if not may_see_household(state, user, position):
        # Answered like an unknown id, audited as what it is: a read outside the scope.
        audit_read([household_id], "forbidden")
        raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_FOUND)
    row = state.row(position, rank=1)
    (reasons,) = with_rule_reasons(state, [row], state.reasons_for([position]))
    audit_read([row.household_id], "ok")
    return HouseholdOut(
        household_id=row.household_id,
        county=row.county,
        township=row.township,
        village=row.village,
        score=row.score,
        risk_band=row.risk_band,  # type: ignore[arg-type]
        rank_in_village=_rank_within(state, "village", position),
        rank_in_township=_rank_within(state, "township", position),
        rank_in_county=_rank_within(state, "county", position),
        reasons=reasons_out(reasons, lang),
        days_since_last_visit=round_days(row.days_since_last_visit),
        open_disputes=as_count(row.open_disputes),
        history=state.feature_values(position),
        model_version=info.version,
        as_of=as_of,
        horizon_days=info.horizon_days,
        language=lang,
    )
