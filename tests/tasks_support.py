"""Fakes shared by the follow-through tests: visits of the serving fake snapshot's households."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.test_serving_support import AS_OF, make_snapshot
from warehouse.store import VISITS_DTYPES, write_table

TZ = "Asia/Shanghai"


def visit(
    household_id: str,
    place: tuple[str, str, str],
    visited_at: str,
    *,
    officer_id: str | None = "P001",
    followup_due: str | None = None,
    review_status: str = "approved",
    has_dispute: bool = False,
    resolution_status: str | None = None,
    recorded_at: str | None = None,
    visit_id: str | None = None,
) -> dict[str, object]:
    """One canonical visit row (every column of the contract)."""
    at = pd.Timestamp(visited_at, tz=TZ)
    return {
        "visit_id": visit_id or f"V-{household_id}-{visited_at}",
        "household_id": household_id,
        "visited_at": at,
        "recorded_at": pd.Timestamp(recorded_at, tz=TZ) if recorded_at else at,
        "officer_id": officer_id,
        "station": "S1",
        "county": place[0],
        "township": place[1],
        "village": place[2],
        "persons_met": 2,
        "household_type": "ordinary",
        "has_dispute": has_dispute,
        "dispute_type": "neighbour" if has_dispute else None,
        "dispute_severity": "general" if has_dispute else None,
        "dispute_parties": 2 if has_dispute else 0,
        "risk_hazards": "",
        "resolution_status": resolution_status,
        "mediation_agreement": None,
        "followup_due": pd.Timestamp(followup_due, tz=TZ) if followup_due else pd.NaT,
        "review_status": review_status,
        "reviewed_at": at,
        "source_file": "test.xlsx",
        "source_row": 2,
    }


def frame_of(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Canonical visits frame of ``rows``."""
    frame = pd.DataFrame(rows, columns=list(VISITS_DTYPES))
    for col in ("visited_at", "recorded_at", "followup_due", "reviewed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_convert(TZ)
    return frame.astype(VISITS_DTYPES)


def snapshot_visits() -> pd.DataFrame:
    """Two past visits per household of the fake snapshot (officer P<village index>), and
    for H00005 a follow-up due 2026-11-20 that nobody made (10 days overdue at AS_OF)."""
    snap = make_snapshot()
    rows = []
    villages = sorted(set(snap["village"] + "|" + snap["township"]))
    for r in snap.itertuples(index=False):
        officer = f"P{villages.index(r.village + '|' + r.township) + 1:03d}"
        place = (r.county, r.township, r.village)
        due = "2026-11-20" if r.household_id == "H00005" else None
        rows.append(visit(r.household_id, place, "2026-06-01 10:00", officer_id="P999"))
        rows.append(visit(r.household_id, place, "2026-10-01 10:00", officer_id=officer))
        rows.append(
            visit(r.household_id, place, "2026-10-15 10:00", officer_id=officer, followup_due=due)
        )
    return frame_of(rows)


def write_visits(home: Path, frame: pd.DataFrame) -> None:
    """Write the warehouse's visits table."""
    write_table(home, "visits", frame)


__all__ = ["AS_OF", "frame_of", "snapshot_visits", "visit", "write_visits"]
