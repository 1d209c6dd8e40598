"""The command centre over a Revisit home: read the warehouse, then report or review.

The CLI (``revisit report``, ``revisit officers review``) and the HTTP routes
(``/v1/reports/{period}``, ``/v1/officers/review``) call these two functions,
so both give the same figures for the same home, as-of date and scope.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from campaign.bulletin import Report, build_report, place_columns, scope_frames
from campaign.officer_review import ReviewConfig, score_officers, suspect_visit_ids
from campaign.reports import AS_OF_RANGE, DateLike, ReportError, ReportInputError, local_midnight
from features.build import EmptyWarehouseError, default_snapshot_as_of
from warehouse.contract import TIMEZONE
from warehouse.store import read_incidents, read_visits


def resolve_as_of(
    visits: pd.DataFrame, incidents: pd.DataFrame, as_of: DateLike | None
) -> pd.Timestamp:
    """The given as-of date at local midnight, or the day after the latest record.

    Raises
    ------
    ReportError
        When no date is given and the warehouse is empty.
    ReportInputError
        When the date lies outside :data:`campaign.reports.AS_OF_RANGE`.
    """
    if as_of is not None:
        first, last = AS_OF_RANGE
        text = str(as_of)[:10]
        try:
            t = local_midnight(as_of)
        except (ValueError, OverflowError) as err:
            raise ReportInputError(
                f"expected an as-of date such as 2025-03-03, got {text!r}"
            ) from err
        if not (local_midnight(first) <= t <= local_midnight(last)):
            raise ReportInputError(
                f"expected an as-of date from {first} to {last}, got {t.date().isoformat()}"
            )
        return t
    try:
        return default_snapshot_as_of(visits, incidents)
    except EmptyWarehouseError as err:
        raise ReportError(f"the warehouse holds no records to report on: {err}") from err


def report_from_home(
    home: Path,
    period: str,
    *,
    as_of: DateLike | None = None,
    county: str | None = None,
    township: str | None = None,
    village: str | None = None,
    tasks: pd.DataFrame | None = None,
    db_url: str | None = None,
    review_config: ReviewConfig | None = None,
) -> Report:
    """A report of the warehouse under ``home``.

    Suspect visits come from the officer review of the whole prefecture at the same
    as-of date (peers are never limited by the scope). Task figures come from ``tasks``
    when given, else from the task database (``db_url``, default ``<home>/tasks.db``:
    :func:`tasks_for_report`); with neither they read "n/a".

    Raises
    ------
    ReportError
        For an unknown period, more than one scope, or an empty warehouse.
    """
    visits, incidents = read_visits(home), read_incidents(home)
    t = resolve_as_of(visits, incidents, as_of)
    suspects = suspect_visit_ids(visits, t, review_config)
    v, i, scope = scope_frames(visits, incidents, county=county, township=township, village=village)
    if tasks is None:
        tasks = tasks_for_report(home, db_url)
    if tasks is not None and scope:
        ((col, name),) = scope.items()
        for level, value in place_columns(col, name).items():
            tasks = tasks[tasks[level] == value]
    return build_report(period, v, i, as_of=t, scope=scope, tasks=tasks, suspect_ids=suspects)


def tasks_for_report(home: Path, db_url: str | None = None) -> pd.DataFrame | None:
    """Revisit tasks of the task database in the columns a report reads.

    Parameters
    ----------
    home : Path
        The Revisit home (``<home>/tasks.db`` is the default database).
    db_url : str, optional
        SQLAlchemy URL (``$REVISIT_DB_URL``); None: the SQLite file under ``home``.

    Returns
    -------
    DataFrame or None
        Columns :data:`campaign.reports.TASK_COLUMNS`; ``issued_at``, ``due`` (local
        midnight) and ``completed_at`` (the closing time of tasks done, NaT otherwise) are
        ``datetime64[ns, Asia/Shanghai]``. None when no task database exists yet.
    """
    from campaign.db import TaskDB, default_db_url
    from campaign.reports import TASK_COLUMNS

    if db_url is None and not (Path(home) / "tasks.db").exists():
        return None
    frame = TaskDB(db_url or default_db_url(home)).tasks_frame(status="all")
    out = pd.DataFrame(index=frame.index)
    for col in ("task_id", "household_id", "county", "township", "village", "officer_id", "kind"):
        out[col] = frame[col].astype("str")
    out["status"] = frame["status"].astype("str")
    local = pd.DatetimeTZDtype("ns", TIMEZONE)
    out["issued_at"] = pd.to_datetime(frame["issued_at"], utc=True).dt.tz_convert(TIMEZONE)
    out["due"] = pd.to_datetime(frame["due"]).dt.tz_localize(TIMEZONE)
    closed = pd.to_datetime(frame["closed_at"], utc=True).dt.tz_convert(TIMEZONE)
    out["completed_at"] = closed.where(frame["status"].eq("done"))
    for col in ("issued_at", "due", "completed_at"):
        out[col] = out[col].astype(local)
    return out[list(TASK_COLUMNS)]


def review_from_home(
    home: Path, *, as_of: DateLike | None = None, config: ReviewConfig | None = None
) -> tuple[pd.Timestamp, pd.DataFrame]:
    """The officer review list of the warehouse under ``home``.

    Returns
    -------
    as_of : Timestamp
        The as-of date used (local midnight).
    review : DataFrame
        :func:`campaign.officer_review.score_officers`.

    Raises
    ------
    ReportError
        When no date is given and the warehouse is empty.
    """
    visits, incidents = read_visits(home), read_incidents(home)
    t = resolve_as_of(visits, incidents, as_of)
    return t, score_officers(visits, t, config)
