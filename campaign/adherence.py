"""List adherence and the supervision list (督办), computed from the tasks frame.

Adherence of a unit (township, officer): among its tasks that can be judged — the
due date has passed, or the task is closed — the share visited on or before the due
date (``visited_at``'s local date ≤ ``due``). Declined tasks count as judged and not
visited. ``exposed`` counts tasks whose household appeared in an audited list read
by the unit after the task was issued (an officer saw it), when the caller passes
the audit exposures.

The supervision list ranks units slowest to act: most overdue tasks first, then the
longest median time to acknowledge (hours) and to close (days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from warehouse.contract import TIMEZONE

_OPEN = ("open", "acknowledged")


def _local_date(values: pd.Series) -> pd.Series:
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.tz_convert(ZoneInfo(TIMEZONE)).dt.date


def task_flags(frame: pd.DataFrame, today: date) -> pd.DataFrame:
    """Per-task booleans: ``overdue``, ``judged``, ``on_time``, ``declined``, ``done``.

    Parameters
    ----------
    frame : DataFrame
        Tasks (columns of :data:`campaign.db.TASK_COLUMNS`).
    today : date
        Local date (Asia/Shanghai).
    """
    out = frame.copy()
    due = pd.Series(out["due"].to_numpy(), index=out.index)
    status = out["status"].astype(str)
    is_open = status.isin(_OPEN)
    past_due = due.map(lambda d: d < today).astype(bool)
    visited_day = _local_date(out["visited_at"]) if len(out) else pd.Series(dtype=object)
    out["overdue"] = is_open & past_due
    out["done"] = status == "done"
    out["declined"] = status == "declined"
    out["judged"] = (~is_open) | past_due
    on_time = [
        bool(s == "done" and v is not None and not pd.isna(v) and v <= d)
        for s, v, d in zip(status, visited_day, due, strict=True)
    ]
    out["on_time"] = np.asarray(on_time, dtype=bool)
    return out


def adherence(
    frame: pd.DataFrame,
    today: date,
    *,
    by: tuple[str, ...] = ("county", "township"),
    exposed: set[str] | None = None,
) -> pd.DataFrame:
    """Adherence per unit.

    Parameters
    ----------
    frame : DataFrame
        Tasks.
    today : date
        Local date.
    by : tuple of str
        Unit columns (``("county", "township")`` or ``("officer_id",)``).
    exposed : set of str, optional
        Task ids whose household was shown to the unit in an audited read.

    Returns
    -------
    DataFrame
        ``by…, tasks, judged, on_time, overdue, done, declined, exposed`` (counts;
        ``exposed`` is NA without exposures) and ``adherence`` (share in [0, 1];
        NaN where nothing can be judged yet), units sorted by name.
    """
    cols = [
        *by,
        "tasks",
        "judged",
        "on_time",
        "overdue",
        "done",
        "declined",
        "exposed",
        "adherence",
    ]
    if len(frame) == 0:
        return pd.DataFrame(columns=cols)
    flags = task_flags(frame, today)
    for col in by:
        flags[col] = flags[col].fillna("(none)").astype(str)
    flags["exposed"] = flags["task_id"].isin(exposed) if exposed is not None else False
    grouped = flags.groupby(list(by), sort=True)
    out = grouped.agg(
        tasks=("task_id", "size"),
        judged=("judged", "sum"),
        on_time=("on_time", "sum"),
        overdue=("overdue", "sum"),
        done=("done", "sum"),
        declined=("declined", "sum"),
        exposed=("exposed", "sum"),
    ).reset_index()
    if exposed is None:
        out["exposed"] = pd.NA
    out["adherence"] = np.where(
        out["judged"] > 0, out["on_time"] / out["judged"].clip(lower=1), np.nan
    )
    return out[cols]


def overall(frame: pd.DataFrame, today: date) -> dict[str, Any]:
    """Prefecture-wide counts and adherence (same definitions as :func:`adherence`)."""
    if len(frame) == 0:
        return {"tasks": 0, "judged": 0, "on_time": 0, "overdue": 0, "adherence": None}
    flags = task_flags(frame, today)
    judged = int(flags["judged"].sum())
    on_time = int(flags["on_time"].sum())
    return {
        "tasks": len(flags),
        "judged": judged,
        "on_time": on_time,
        "overdue": int(flags["overdue"].sum()),
        "adherence": on_time / judged if judged else None,
    }


def slow_units(frame: pd.DataFrame, today: date) -> pd.DataFrame:
    """The supervision list (督办): townships slowest to acknowledge or complete.

    Returns
    -------
    DataFrame
        ``county, township, tasks, open, overdue, overdue_share, hours_to_acknowledge``
        (median over acknowledged tasks; NaN if none), ``days_to_close`` (median over
        closed tasks), ``adherence``; the slowest first (overdue share, then the
        medians, descending).
    """
    cols = [
        "county", "township", "tasks", "open", "overdue", "overdue_share",
        "hours_to_acknowledge", "days_to_close", "adherence",
    ]  # fmt: skip
    if len(frame) == 0:
        return pd.DataFrame(columns=cols)
    flags = task_flags(frame, today)
    issued = pd.to_datetime(flags["issued_at"], utc=True)
    flags["ack_h"] = (
        pd.to_datetime(flags["acknowledged_at"], utc=True) - issued
    ).dt.total_seconds() / 3600
    flags["close_d"] = (
        pd.to_datetime(flags["closed_at"], utc=True) - issued
    ).dt.total_seconds() / 86400
    flags["is_open"] = flags["status"].isin(_OPEN)
    out = (
        flags.groupby(["county", "township"], sort=True)
        .agg(
            tasks=("task_id", "size"),
            open=("is_open", "sum"),
            overdue=("overdue", "sum"),
            hours_to_acknowledge=("ack_h", "median"),
            days_to_close=("close_d", "median"),
            on_time=("on_time", "sum"),
            judged=("judged", "sum"),
        )
        .reset_index()
    )
    out["overdue_share"] = out["overdue"] / out["tasks"]
    out["adherence"] = np.where(
        out["judged"] > 0, out["on_time"] / out["judged"].clip(lower=1), np.nan
    )
    out = out.sort_values(
        ["overdue_share", "hours_to_acknowledge", "days_to_close"],
        ascending=False,
        na_position="last",
    )
    return out[cols].reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready dicts (NaN/NA as ``None``, numpy scalars as Python)."""
    out: list[dict[str, Any]] = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
                clean[str(k)] = None
            elif isinstance(v, np.generic):
                clean[str(k)] = v.item()
            else:
                clean[str(k)] = v
        out.append(clean)
    return out


def exposures(frame: pd.DataFrame, reads: Sequence[Mapping[str, Any]]) -> set[str]:
    """Task ids whose household was in an answered list or household read after the task was issued.

    Parameters
    ----------
    frame : DataFrame
        Tasks (``task_id, household_id, issued_at``).
    reads : list of mapping
        Audit rows (``at`` UTC ISO, ``household_ids`` JSON list, ``outcome``).
    """
    import json

    last_seen: dict[str, pd.Timestamp] = {}
    wanted = set(frame["household_id"].astype(str)) if len(frame) else set()
    for row in reads:
        if row.get("outcome", "ok") != "ok":
            continue
        try:
            ids = json.loads(str(row.get("household_ids") or "[]"))
            at = pd.Timestamp(str(row["at"]))
        except (ValueError, KeyError):
            continue
        if at.tzinfo is None:
            at = at.tz_localize("UTC")
        for hid in ids:
            if hid in wanted and (hid not in last_seen or at > last_seen[hid]):
                last_seen[hid] = at
    out: set[str] = set()
    for task_id, hid, issued in zip(
        frame["task_id"], frame["household_id"], frame["issued_at"], strict=True
    ):
        seen = last_seen.get(str(hid))
        issued_at = pd.Timestamp(issued)
        if issued_at.tzinfo is None:
            issued_at = issued_at.tz_localize("UTC")
        if seen is not None and seen >= issued_at:
            out.add(str(task_id))
    return out
