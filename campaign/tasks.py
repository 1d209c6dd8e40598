"""Revisit tasks: publishing a week, officers' actions, and closing tasks from later exports.

Life cycle of a task::

    open ──acknowledge──► acknowledged
      │                        │
      ├──outcome / later approved visit in an export──► done
      └──decline (reason code)─────────────────────────► declined

``overdue`` is not a status of its own: an open or acknowledged task whose due date
(local date, Asia/Shanghai) has passed. Publishing is idempotent per ISO week of the
as-of date: the second publication of a week creates nothing. A household that
already has an open task of the same kind gets no second one (it is counted as
carried over); a missed 回访期限 gives one ``followup_overdue`` task, ever.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from campaign.config import (
    DECLINE_CODES,
    FOLLOWUP_REASON_CODE,
    MIN_REASON_CONTRIBUTION,
    OUTCOME_CODES,
    PublishConfig,
    followup_reason,
)
from campaign.db import TaskDB, utc_naive
from campaign.errors import InvalidTaskAction, UnknownTask
from campaign.followup import overdue_followups
from campaign.officers import responsible_officers
from warehouse.contract import TIMEZONE

#: Decimals of the probability that decide a tie (what a sheet shows: ``0.80 %``).
TIE_DECIMALS = 4

#: Columns of the ranked frame :func:`publish` takes.
RANKED_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county",
    "township",
    "village",
    "score",
    "risk_band",
    "rank",
    "rank_range",
    "reasons",
)


@dataclass(frozen=True)
class PublishReport:
    """What one ``publish`` did.

    Attributes
    ----------
    week : str
        ISO week of the as-of date (``2026-W49``).
    created : bool
        ``False`` when the week had been published before (nothing new was written).
    n_model, n_followup : int
        Tasks of each kind in the week's publication.
    n_carried : int
        Listed households skipped because an open model task of theirs was still running.
    n_closed : int
        Open tasks closed from later approved visits before publishing.
    """

    week: str
    as_of: date
    created: bool
    n_model: int
    n_followup: int
    n_carried: int
    n_closed: int
    model_version: str | None


def iso_week(day: date) -> str:
    """ISO week of a date as ``YYYY-Www`` (Monday-based weeks)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def local_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai (what ``overdue`` is judged against)."""
    from zoneinfo import ZoneInfo

    now = now if now is not None else datetime.now(UTC)
    return now.astimezone(ZoneInfo(TIMEZONE)).date()


def shared_rank_ranges(scores_desc: Sequence[float], n: int) -> list[str]:
    """Rank ranges of the first ``n`` households of a ranking, ties sharing one range.

    Households whose scores agree to :data:`TIE_DECIMALS` decimals (what is shown)
    get one shared range such as ``"3–5"`` instead of a hidden order; others their
    rank (``"7"``).

    Parameters
    ----------
    scores_desc : sequence of float
        Every score of the jurisdiction, sorted descending.
    n : int
        How many leading ranges to return.
    """
    shown = [round(float(s), TIE_DECIMALS) for s in scores_desc]
    out: list[str] = []
    i = 0
    while i < min(n, len(shown)):
        j = i
        while j + 1 < len(shown) and shown[j + 1] == shown[i]:
            j += 1
        label = str(i + 1) if j == i else f"{i + 1}–{j + 1}"
        out.extend([label] * (min(j + 1, n) - i))
        i = j + 1
    return out


def keep_reasons(reasons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reasons worth showing: rule reasons and those contributing ≥ :data:`MIN_REASON_CONTRIBUTION`."""
    kept = []
    for r in reasons:
        c = r.get("contribution")
        if c is None or (not math.isnan(float(c)) and float(c) >= MIN_REASON_CONTRIBUTION):
            kept.append(dict(r))
    return kept


def _due(as_of: date, days: int) -> date:
    return as_of + timedelta(days=int(days))


def publish(
    db: TaskDB,
    ranked: pd.DataFrame,
    visits: pd.DataFrame,
    as_of: date,
    *,
    model_version: str | None,
    config: PublishConfig,
    actor: str,
    now: datetime | None = None,
) -> PublishReport:
    """Turn the week's ranking and the missed follow-ups into tasks (once per ISO week).

    Parameters
    ----------
    db : TaskDB
        The task database.
    ranked : DataFrame
        Columns :data:`RANKED_COLUMNS`: each township's top households (already cut
        to its capacity), ``rank`` 1-based within the township, ``rank_range`` the
        shared range of ties, ``reasons`` a list of dicts (``code, text_en, text_zh,
        contribution``).
    visits : DataFrame
        Canonical visits (for responsible officers, follow-ups and closing).
    as_of : date
        As-of date of the ranking (local, Asia/Shanghai).
    model_version : str or None
        Version of the model that ranked.
    config : PublishConfig
        Due days by band, roster.
    actor : str
        Who publishes (token id or OS account; never a resident).
    now : datetime, optional
        Issue time (default: now, UTC).

    Returns
    -------
    PublishReport

    Raises
    ------
    TaskStoreError
        When the database cannot be written.
    """
    now = now if now is not None else datetime.now(UTC)
    week = iso_week(as_of)
    n_closed = close_from_visits(db, visits, now=now)
    existing = db.publication(week)
    if existing is not None:
        return PublishReport(
            week, as_of, False, existing["n_model"], existing["n_followup"], 0, n_closed,
            existing["model_version"],
        )  # fmt: skip
    as_of_ts = pd.Timestamp(as_of).tz_localize(TIMEZONE)
    issued = utc_naive(now)
    compact = week.replace("-", "")

    open_model = db.open_households("model")
    listed = ranked[~ranked["household_id"].isin(open_model)]
    n_carried = len(ranked) - len(listed)
    listed = listed.sort_values(["county", "township", "rank", "household_id"])

    late = overdue_followups(visits, as_of_ts)
    seen_followups = db.open_keys("followup_overdue")
    if len(late):
        keys = late["followup_due"].dt.date.astype(str)
        fresh = [
            (h, k) not in seen_followups for h, k in zip(late["household_id"], keys, strict=True)
        ]
        late = late[fresh]

    people = pd.concat(
        [listed[["household_id", "county", "township", "village"]],
         late[["household_id", "county", "township", "village"]]],
        ignore_index=True,
    ).drop_duplicates("household_id")  # fmt: skip
    officers = responsible_officers(people, visits, as_of_ts, config.roster)
    officer_of = {
        str(h): (None if o is None or pd.isna(o) else str(o), str(src))
        for h, o, src in zip(
            officers["household_id"],
            officers["officer_id"],
            officers["officer_source"],
            strict=True,
        )
    }
    counties = sorted(set(listed["county"]) | set(late["county"]))
    notice_of = {c: f"{compact}-{i + 1:02d}" for i, c in enumerate(counties)}

    rows: list[dict[str, Any]] = []
    for seq, r in enumerate(_rows(listed), start=1):
        band = str(r.risk_band)
        rows.append(
            _row(
                task_id=f"{compact}-{seq:05d}",
                kind="model",
                source_key=week,
                week=week,
                as_of=as_of,
                place=(str(r.county), str(r.township), str(r.village)),
                household_id=str(r.household_id),
                officer=officer_of[str(r.household_id)],
                risk_band=band,
                score=float(r.score),
                rank=int(r.rank),
                rank_range=str(r.rank_range),
                due=_due(as_of, config.due_days.get(band, max(config.due_days.values()))),
                reasons=keep_reasons(list(r.reasons)),
                model_version=model_version,
                notice_no=notice_of[str(r.county)],
                issued_at=issued,
            )
        )
    for seq, r in enumerate(_rows(late), start=1):
        rows.append(
            _row(
                task_id=f"{compact}-F{seq:04d}",
                kind="followup_overdue",
                source_key=r.followup_due.date().isoformat(),
                week=week,
                as_of=as_of,
                place=(str(r.county), str(r.township), str(r.village)),
                household_id=str(r.household_id),
                officer=officer_of[str(r.household_id)],
                risk_band=None,
                score=None,
                rank=None,
                rank_range=None,
                due=_due(as_of, config.followup_due_days),
                reasons=[followup_reason(int(r.days_overdue))],
                model_version=None,
                notice_no=notice_of[str(r.county)],
                issued_at=issued,
            )
        )
    n_model = len(listed)
    n_followup = len(late)
    pub: dict[str, Any] = {
        "week": week,
        "as_of": as_of,
        "issued_at": issued,
        "model_version": model_version,
        "n_model": n_model,
        "n_followup": n_followup,
        "actor": actor,
    }
    if not db.publish(pub, rows):
        existing = db.publication(week) or dict(pub)
        return PublishReport(
            week, as_of, False, existing["n_model"], existing["n_followup"], 0, n_closed,
            existing["model_version"],
        )  # fmt: skip
    return PublishReport(week, as_of, True, n_model, n_followup, n_carried, n_closed, model_version)


def _rows(frame: pd.DataFrame) -> list[Any]:
    """Rows of a frame as named tuples (typed ``Any``: columns are read by name)."""
    return list(frame.itertuples(index=False))


def _row(
    *,
    officer: tuple[str | None, str],
    place: tuple[str, str, str],
    reasons: list[dict[str, Any]],
    **values: Any,
) -> dict[str, Any]:
    return {
        **values,
        "county": place[0],
        "township": place[1],
        "village": place[2],
        "officer_id": officer[0],
        "officer_source": officer[1],
        "reasons": json.dumps(reasons, ensure_ascii=False),
        "status": "open",
        "acknowledged_at": None,
        "closed_at": None,
        "closed_by": None,
        "visited_at": None,
        "outcome": None,
        "decline_reason": None,
    }


# ------------------------------------------------------------------ officers' actions
def acknowledge(
    db: TaskDB, task_id: str, *, actor: str, role: str, now: datetime | None = None
) -> dict[str, Any]:
    """Mark an open task as seen (签收).

    Raises
    ------
    UnknownTask
        When no task has this id.
    InvalidTaskAction
        When the task is not open.
    """
    at = utc_naive(now or datetime.now(UTC))
    return _act(
        db, task_id, ("open",),
        {"status": "acknowledged", "acknowledged_at": at},
        {"at": at, "action": "acknowledge", "code": None, "actor": actor, "role": role},
    )  # fmt: skip


def record_outcome(
    db: TaskDB,
    task_id: str,
    *,
    outcome: str,
    visited_at: datetime,
    actor: str,
    role: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Close a task with the outcome of the officer's visit.

    Parameters
    ----------
    outcome : str
        A code of :data:`campaign.config.OUTCOME_CODES`.
    visited_at : datetime
        When the visit happened (aware; naive is taken as Asia/Shanghai local time).

    Raises
    ------
    UnknownTask
        When no task has this id.
    InvalidTaskAction
        When the code is unknown, the visit lies in the future or before the task's
        as-of date, or the task is already closed.
    """
    if outcome not in OUTCOME_CODES:
        raise InvalidTaskAction(f"expected an outcome in {tuple(OUTCOME_CODES)!r}, got {outcome!r}")
    from zoneinfo import ZoneInfo

    now = now or datetime.now(UTC)
    if visited_at.tzinfo is None:
        visited_at = visited_at.replace(tzinfo=ZoneInfo(TIMEZONE))
    if visited_at > now + timedelta(minutes=5):
        raise InvalidTaskAction(
            f"expected a visit time in the past, got {visited_at.isoformat()!r}"
        )
    task = db.get(task_id)
    if visited_at.astimezone(ZoneInfo(TIMEZONE)).date() < task["as_of"]:
        raise InvalidTaskAction(
            f"expected a visit on or after the task's as-of date {task['as_of'].isoformat()}, "
            f"got {visited_at.isoformat()!r}"
        )
    at = utc_naive(now)
    return _act(
        db, task_id, ("open", "acknowledged"),
        {"status": "done", "closed_at": at, "closed_by": "officer",
         "visited_at": utc_naive(visited_at), "outcome": outcome},
        {"at": at, "action": "outcome", "code": outcome, "actor": actor, "role": role},
    )  # fmt: skip


def decline(
    db: TaskDB, task_id: str, *, reason: str, actor: str, role: str, now: datetime | None = None
) -> dict[str, Any]:
    """Close a task without a visit, with a reason code of :data:`campaign.config.DECLINE_CODES`.

    Raises
    ------
    UnknownTask
        When no task has this id.
    InvalidTaskAction
        When the code is unknown or the task is already closed.
    """
    if reason not in DECLINE_CODES:
        raise InvalidTaskAction(f"expected a reason in {tuple(DECLINE_CODES)!r}, got {reason!r}")
    at = utc_naive(now or datetime.now(UTC))
    return _act(
        db, task_id, ("open", "acknowledged"),
        {"status": "declined", "closed_at": at, "closed_by": "officer", "decline_reason": reason},
        {"at": at, "action": "decline", "code": reason, "actor": actor, "role": role},
    )  # fmt: skip


def _act(
    db: TaskDB,
    task_id: str,
    allowed: tuple[str, ...],
    values: dict[str, Any],
    event_row: dict[str, Any],
) -> dict[str, Any]:
    if not db.change(task_id, allowed_from=allowed, values=values, event_row=event_row):
        task = db.get(task_id)  # UnknownTask when there is none
        raise InvalidTaskAction(
            f"expected a task in status {' or '.join(allowed)} to {event_row['action']}, "
            f"got one in status {task['status']!r}"
        )
    return db.get(task_id)


# ------------------------------------------------------------------ closing from exports
def visit_outcome(has_dispute: Any, resolution_status: Any) -> str:
    """Outcome code of an exported visit: its dispute and how far it was resolved."""
    if has_dispute is None or pd.isna(has_dispute) or not bool(has_dispute):
        return "none"
    status = (
        None if resolution_status is None or pd.isna(resolution_status) else str(resolution_status)
    )
    return status if status in ("resolved", "mediating", "referred") else "dispute_found"


def close_from_visits(
    db: TaskDB,
    visits: pd.DataFrame,
    *,
    now: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Close open tasks whose household has an approved visit on or after the task's as-of date.

    The earliest such visit closes the task: status ``done``, ``closed_by="export"``,
    ``visited_at`` the visit's time and ``outcome`` from its content
    (:func:`visit_outcome`). Tasks already closed by an officer are left as they are.

    Returns
    -------
    int
        Tasks closed.
    """
    if len(visits) == 0:
        return 0
    approved = visits[visits["review_status"] == "approved"]
    open_tasks = db.open_tasks_of(approved["household_id"].unique())
    if len(open_tasks) == 0:
        return 0
    at = utc_naive(now or datetime.now(UTC))
    approved = approved.sort_values("visited_at")
    by_household = {h: g for h, g in approved.groupby("household_id", sort=False)}
    closed = 0
    for task in _rows(open_tasks):
        group = by_household.get(task.household_id)
        if group is None:
            continue
        start = pd.Timestamp(task.as_of).tz_localize(TIMEZONE)
        later = group[group["visited_at"] >= start]
        if len(later) == 0:
            continue
        first = later.iloc[0]
        outcome = visit_outcome(first["has_dispute"], first["resolution_status"])
        visited = first["visited_at"].to_pydatetime()
        ok = db.change(
            task.task_id,
            allowed_from=("open", "acknowledged"),
            values={"status": "done", "closed_at": at, "closed_by": "export",
                    "visited_at": utc_naive(visited), "outcome": outcome},
            event_row={"at": at, "action": "visited", "code": outcome, "actor": "export",
                       "role": "export"},
        )  # fmt: skip
        closed += int(ok)
        if on_progress is not None:
            on_progress(closed)
    return closed


__all__ = [
    "FOLLOWUP_REASON_CODE",
    "PublishReport",
    "RANKED_COLUMNS",
    "UnknownTask",
    "acknowledge",
    "close_from_visits",
    "decline",
    "iso_week",
    "keep_reasons",
    "local_today",
    "publish",
    "record_outcome",
    "shared_rank_ranges",
    "visit_outcome",
]
