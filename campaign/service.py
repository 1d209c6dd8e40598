"""The command centre over a Revisit home: read the warehouse, then report or review.

The CLI (``revisit report``, ``revisit officers review``) and the HTTP routes
(``/v1/reports/{period}``, ``/v1/officers/review``) call these two functions,
so both give the same figures for the same home, as-of date and scope.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from campaign.bulletin import Report, build_report, scope_frames
from campaign.officer_review import ReviewConfig, score_officers, suspect_visit_ids
from campaign.reports import DateLike, ReportError, local_midnight
from features.build import EmptyWarehouseError, default_snapshot_as_of
from warehouse.store import read_incidents, read_visits


def resolve_as_of(
    visits: pd.DataFrame, incidents: pd.DataFrame, as_of: DateLike | None
) -> pd.Timestamp:
    """The given as-of date at local midnight, or the day after the latest record.

    Raises
    ------
    ReportError
        When no date is given and the warehouse is empty.
    """
    if as_of is not None:
        return local_midnight(as_of)
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
    review_config: ReviewConfig | None = None,
) -> Report:
    """A report of the warehouse under ``home``.

    Suspect visits come from the officer review of the whole prefecture at the same
    as-of date (peers are never limited by the scope). ``tasks`` (helper #14's task
    table) is optional: without it the task figures read "n/a".

    Raises
    ------
    ReportError
        For an unknown period, more than one scope, or an empty warehouse.
    """
    visits, incidents = read_visits(home), read_incidents(home)
    t = resolve_as_of(visits, incidents, as_of)
    suspects = suspect_visit_ids(visits, t, review_config)
    v, i, scope = scope_frames(visits, incidents, county=county, township=township, village=village)
    if tasks is not None and scope:
        ((col, name),) = scope.items()
        tasks = tasks[tasks[col] == name]
    return build_report(period, v, i, as_of=t, scope=scope, tasks=tasks, suspect_ids=suspects)


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
