"""From the scored snapshot to the follow-through: the ranked frame to publish, follow-up reasons.

``campaign`` sits below ``serving`` and never sees a :class:`ServingState`; this
module hands it plain frames. Townships are taken as paths (county, township), so two
townships of the same name in different counties are published apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from campaign.config import PublishConfig
from campaign.db import TaskDB
from campaign.followup import FOLLOWUP_COLUMNS, overdue_followups, read_campaign_visits
from campaign.tasks import PublishReport, publish, shared_rank_ranges
from serving.state import ServingState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleReason:
    """A reason from a campaign rule (not the model): shown like a model reason, contribution 0."""

    code: str
    text_en: str
    text_zh: str
    contribution: float = 0.0


def followup_reason(days: int) -> RuleReason:
    """The list reason "follow-up overdue by N days" (回访已超期 N 天)."""
    from campaign.config import FOLLOWUP_REASON_CODE

    return RuleReason(
        FOLLOWUP_REASON_CODE, f"follow-up overdue by {days} days", f"回访已超期 {days} 天"
    )


def load_followups(home: Path, as_of: pd.Timestamp) -> dict[str, int]:
    """Days overdue of every household whose 回访期限 passed without an approved visit since.

    Returns an empty mapping (and logs why) when the visits cannot be read.
    """
    try:
        late = overdue_followups(read_campaign_visits(home, FOLLOWUP_COLUMNS), as_of)
    except Exception as err:  # a list without this reason beats no list at all
        logger.warning("follow-up reasons left out: %s", type(err).__name__)
        return {}
    return dict(
        zip(late["household_id"].astype(str), late["days_overdue"].astype(int), strict=True)
    )


def ranked_for_publication(
    state: ServingState, capacity_of: Callable[[str, str], int]
) -> pd.DataFrame:
    """Each township's top households with rank, shared rank range and reasons.

    Parameters
    ----------
    state : ServingState
        The scored snapshot.
    capacity_of : callable
        ``capacity_of(county, township) -> int`` households to take.

    Returns
    -------
    DataFrame
        Columns of :data:`campaign.tasks.RANKED_COLUMNS`, townships in name order.
    """
    frame = state.frame
    paths = pd.DataFrame(
        {
            "county": frame["county"].astype(str).to_numpy(),
            "township": frame["township"].astype(str).to_numpy(),
            "rank": state.global_rank,
        }
    )
    chosen: list[tuple[int, int, str]] = []  # (position, rank in township, rank range)
    for (county, township), group in paths.groupby(["county", "township"], sort=True):
        cap = capacity_of(str(county), str(township))
        if cap <= 0:
            continue
        ordered = group.sort_values("rank").index.to_numpy()
        ranges = shared_rank_ranges(state.scores[ordered], cap)
        for i, pos in enumerate(ordered[:cap]):
            chosen.append((int(pos), i + 1, ranges[i]))
    positions = [p for p, _, _ in chosen]
    reasons = state.reasons_for(positions) if positions else []
    rows = []
    for (pos, rank, span), rs in zip(chosen, reasons, strict=True):
        row = state.row(pos, rank)
        rows.append(
            {
                "household_id": row.household_id,
                "county": row.county,
                "township": row.township,
                "village": row.village,
                "score": row.score,
                "risk_band": row.risk_band,
                "rank": rank,
                "rank_range": span,
                "reasons": [
                    {
                        "code": str(r.code),
                        "text_en": str(r.text_en),
                        "text_zh": str(r.text_zh),
                        "contribution": float(r.contribution),
                    }
                    for r in rs
                ],
            }
        )
    columns = ["household_id", "county", "township", "village", "score", "risk_band", "rank",
               "rank_range", "reasons"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def publish_state(
    state: ServingState,
    db: TaskDB,
    home: Path,
    config: PublishConfig,
    *,
    actor: str,
    now: datetime | None = None,
) -> PublishReport:
    """Publish the week of ``state``'s as-of date (see :func:`campaign.tasks.publish`).

    Raises
    ------
    TaskStoreError
        When the task database cannot be written.
    WarehouseError
        When the visits cannot be read.
    """
    ranked = ranked_for_publication(state, config.capacity_of)
    visits = read_campaign_visits(home)
    return publish(
        db,
        ranked,
        visits,
        state.as_of.date(),
        model_version=state.model_info.version,
        config=config,
        actor=actor,
        now=now or datetime.now(UTC),
    )
