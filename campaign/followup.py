"""Follow-ups past due (回访期限): a rule of the campaign, independent of the model.

Rule: take each household's latest approved visit known before the as-of date
(``recorded_at < as_of``, ``review_status == "approved"``, latest by
``visited_at``). When that visit set a ``followup_due`` and it lies before the
as-of date, the follow-up is overdue by ``(as_of − followup_due)`` whole days: no
approved visit has happened since the visit that asked for it (a later one would
be the latest). Each missed ``followup_due`` gives one task, however many weeks it
stays missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def overdue_followups(visits: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Households whose follow-up is overdue at ``as_of``.

    Parameters
    ----------
    visits : DataFrame
        Canonical visits (``household_id, county, township, village, visited_at,
        recorded_at, review_status, followup_due``; times Asia/Shanghai).
    as_of : Timestamp
        Local midnight (Asia/Shanghai).

    Returns
    -------
    DataFrame
        ``household_id, county, township, village`` (from the latest visit),
        ``followup_due`` (Timestamp, local midnight) and ``days_overdue`` (int ≥ 1),
        sorted by ``days_overdue`` descending then ``household_id``.
    """
    cols = ["household_id", "county", "township", "village", "followup_due", "days_overdue"]
    if len(visits) == 0:
        return pd.DataFrame(columns=cols)
    known = (visits["review_status"] == "approved") & (visits["recorded_at"] < as_of)
    rows = np.flatnonzero(known.fillna(False).to_numpy(dtype=bool))
    # each household's latest known visit (latest visited_at, then later in the table; a
    # missing visited_at sorts last, as sort_values puts it), on integer codes: sorting
    # 10 M household ids as strings took minutes and gigabytes. Codes and times come from
    # the whole columns, then the known rows are taken (taking 10 M strings first cost
    # as much again at serving start-up).
    hh = pd.factorize(visits["household_id"])[0][rows]
    ns = visits["visited_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)[rows]
    ns = np.where(ns == np.iinfo(np.int64).min, np.iinfo(np.int64).max, ns)  # NaT sorts last
    order = np.lexsort((ns, hh))
    last = order[np.r_[np.flatnonzero(np.diff(hh[order])), order.size - 1]] if order.size else order
    latest = rows[np.sort(last)]  # positions of each household's latest known visit
    due = visits["followup_due"].iloc[latest]
    late = visits.iloc[latest[(due.notna() & (due < as_of)).to_numpy(dtype=bool)]].copy()
    late["days_overdue"] = ((as_of - late["followup_due"]).dt.days).astype("int64")
    late = late[late["days_overdue"] >= 1]
    return (
        late[cols]
        .sort_values(["days_overdue", "household_id"], ascending=[False, True])
        .reset_index(drop=True)
    )


#: Visit columns the follow-through reads (officers, follow-ups, closing tasks).
VISIT_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county",
    "township",
    "village",
    "officer_id",
    "visited_at",
    "recorded_at",
    "review_status",
    "followup_due",
    "has_dispute",
    "resolution_status",
)


#: Visit columns :func:`overdue_followups` reads.
FOLLOWUP_COLUMNS: tuple[str, ...] = (
    "household_id", "county", "township", "village", "visited_at", "recorded_at",
    "review_status", "followup_due",
)  # fmt: skip


def read_campaign_visits(home: Path, columns: Sequence[str] = VISIT_COLUMNS) -> pd.DataFrame:
    """The warehouse's visits, only the columns of :data:`VISIT_COLUMNS` (empty if none).

    ``columns`` narrows them further (serving reads :data:`FOLLOWUP_COLUMNS` of 10 M
    visits at start-up).

    Raises
    ------
    WarehouseError
        When the visits table exists but cannot be read.
    """
    from warehouse.contract import TABLE_VISITS, warehouse_path
    from warehouse.store import VISITS_DTYPES, WarehouseError, empty_visits

    path = warehouse_path(home, TABLE_VISITS)
    if not path.exists():
        return empty_visits()[list(columns)]
    try:
        frame = pd.read_parquet(path, columns=list(columns))
    except (OSError, ValueError) as err:
        raise WarehouseError(f"cannot read warehouse table {str(path)!r}: {err}") from err
    return frame.astype({c: VISITS_DTYPES[c] for c in columns})
