"""One report: figures of every level for a period, its comparisons, headline and appraisal.

:func:`build_report` is the one entry point of the CLI and the HTTP route; it
reads nothing itself (frames in, :class:`Report` out), so scoping to a
jurisdiction is a filter on the frames before the call.  Rendering lives in
:mod:`campaign.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from campaign.appraisal import appraise
from campaign.reports import (
    FIGURES,
    LEVELS,
    RATE_FIGURES,
    ReportError,
    ReportInputError,
    Window,
    headline,
    headline_numbers,
    household_units,
    known_before,
    known_visits,
    local_midnight,
    pct_change,
    period_figures,
    period_windows,
    weekly_trend,
)
from warehouse.contract import TABLE_INCIDENTS
from warehouse.jurisdictions import LEVELS as PATH_LEVELS
from warehouse.jurisdictions import UnknownPlace, split_path

#: Figures compared with the previous period and the year before, in every level.
COMPARED = ("officer_days", "households_visited", "disputes_found", "escalations")


@dataclass
class Report:
    """A command-centre report.

    Attributes
    ----------
    period : str
        ``daily``, ``weekly`` or ``monthly``.
    as_of : Timestamp
        Report date (local midnight, Asia/Shanghai); the period ends there (exclusive).
    windows : dict of str to Window
        ``current``, ``previous``, ``year_ago``.
    scope : dict of str to str
        ``{"county": ...}`` / ``{"township": ...}`` or empty (whole prefecture).
    levels : dict of str to DataFrame
        Per level of :data:`campaign.reports.LEVELS`: key columns, every figure of the
        period, ``<figure>_prev`` and ``<figure>_yoy`` for :data:`COMPARED`, and
        ``escalations_change_prev`` / ``escalations_change_yoy`` (relative, Float64).
    headline_zh, headline_en : str
        The headline of the period.
    totals : dict
        Prefecture (scope) totals of the current, previous and year-ago periods.
    trend : DataFrame
        :func:`campaign.reports.weekly_trend` (12 weeks).
    appraisal : DataFrame or None
        Township appraisal (:func:`campaign.appraisal.appraise`) for monthly reports.
    tasks_known : bool
        Whether task figures were computed (else shown as "n/a").
    """

    period: str
    as_of: pd.Timestamp
    windows: dict[str, Window]
    scope: dict[str, str]
    levels: dict[str, pd.DataFrame]
    headline_zh: str
    headline_en: str
    totals: dict[str, dict[str, float]]
    trend: pd.DataFrame
    appraisal: pd.DataFrame | None = None
    tasks_known: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: dates as ISO text, missing values as None."""

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in frame.astype(object).to_dict(orient="records"):
                out.append({str(k): _plain(v) for k, v in rec.items()})
            return out

        return {
            "period": self.period,
            "as_of": self.as_of.date().isoformat(),
            "scope": self.scope,
            "windows": {
                k: {"start": w.start.date().isoformat(), "end": w.end.date().isoformat()}
                for k, w in self.windows.items()
            },
            "headline_zh": self.headline_zh,
            "headline_en": self.headline_en,
            "totals": {k: {n: _plain(x) for n, x in v.items()} for k, v in self.totals.items()},
            "tasks_known": self.tasks_known,
            "levels": {name: rows(frame) for name, frame in self.levels.items()},
            "trend": rows(self.trend.assign(week_start=self.trend["week_start"].dt.date)),
            "appraisal": None if self.appraisal is None else rows(self.appraisal),
            "notes": self.notes,
        }


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def place_columns(level: str, name: str) -> dict[str, str]:
    """The column filters of a place: a path (``兴仁市/城南街道``) fixes every level down to
    ``level``; a bare name only its own level (names repeat across counties, so it may
    cover namesakes).

    Raises
    ------
    ReportInputError
        When the text is no name nor path (``/``, ``a//b``, blanks).
    """
    try:
        parts = split_path(name)
    except UnknownPlace as err:
        raise ReportInputError(f"{level}: {err}") from err
    if len(parts) == PATH_LEVELS.index(level) + 1:
        return dict(zip(PATH_LEVELS, parts, strict=False))
    return {level: parts[-1] if parts else name}


def scope_frames(
    visits: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    county: str | None = None,
    township: str | None = None,
    village: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Visits and incidents of one jurisdiction (all when no name is given).

    A name may be a path (``county/township[/village]``) or a bare name.

    Raises
    ------
    ReportError
        If more than one of county, township, village is given.
    """
    pairs = (("county", county), ("township", township), ("village", village))
    given = {k: v for k, v in pairs if v is not None}
    if len(given) > 1:
        raise ReportError(f"give at most one of county, township, village; got {given!r}")
    for col, name in given.items():
        for level, value in place_columns(col, name).items():
            visits = visits[visits[level] == value]
            incidents = incidents[incidents[level] == value]
    return visits, incidents, given


def build_report(
    period: str,
    visits: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str,
    scope: dict[str, str] | None = None,
    tasks: pd.DataFrame | None = None,
    suspect_ids: pd.Series | None = None,
    appraisal_weights: dict[str, float] | None = None,
) -> Report:
    """Compute a daily, weekly or monthly report.

    Parameters
    ----------
    period : {"daily", "weekly", "monthly"}
    visits, incidents : DataFrame
        Canonical warehouse frames, already limited to the scope (:func:`scope_frames`).
    as_of : Timestamp or str
        Report date; the period ends at its local midnight.
    scope : dict or None
        The jurisdiction the frames were limited to (shown in the report).
    tasks : DataFrame or None
        Revisit tasks (:data:`campaign.reports.TASK_COLUMNS`); None: task figures "n/a".
    suspect_ids : Series of str or None
        Suspect visit ids from the officer review; None: that figure "n/a".
    appraisal_weights : dict or None
        Weights of the monthly appraisal (:data:`campaign.appraisal.DEFAULT_WEIGHTS`).

    Returns
    -------
    Report

    Raises
    ------
    ReportError
        For an unknown period or malformed tasks.
    """
    t = local_midnight(as_of)
    windows = period_windows(period, t)
    known = known_visits(visits, t)
    incidents = known_before(incidents, TABLE_INCIDENTS, t)
    units = household_units(known)
    levels: dict[str, pd.DataFrame] = {}
    totals: dict[str, dict[str, float]] = {}
    heads: dict[str, str] = {}
    for level, keys in LEVELS.items():
        frames = {
            name: period_figures(
                known, units, incidents, w, t, level, tasks=tasks, suspect_ids=suspect_ids
            )
            for name, w in windows.items()
        }
        cur = frames["current"]
        for name, suffix in (("previous", "prev"), ("year_ago", "yoy")):
            other = frames[name][[*keys, *COMPARED]].rename(
                columns={c: f"{c}_{suffix}" for c in COMPARED}
            )
            cur = cur.merge(other, on=list(keys), how="left")
            for c in COMPARED:
                cur[f"{c}_{suffix}"] = cur[f"{c}_{suffix}"].astype("Int64").fillna(0)
            cur[f"escalations_change_{suffix}"] = pct_change(
                cur["escalations"], cur[f"escalations_{suffix}"]
            )
        levels[level] = cur
        if level == "county":
            totals = {name: headline_numbers(f) for name, f in frames.items()}
            heads = {
                lang: headline(frames["current"], windows["current"], lang) for lang in ("zh", "en")
            }
    appraisal = appraise(levels["township"], appraisal_weights) if period == "monthly" else None
    notes = []
    if tasks is None:
        notes.append("tasks figures n/a: no tasks table given")
    if not totals.get("current", {}).get("households_visited"):
        notes.append(no_visits_note(windows["current"], known))
    return Report(
        period=period,
        as_of=t,
        windows=windows,
        scope=dict(scope or {}),
        levels=levels,
        headline_zh=heads["zh"],
        headline_en=heads["en"],
        totals=totals,
        trend=weekly_trend(known, incidents, t),
        appraisal=appraisal,
        tasks_known=tasks is not None,
        notes=notes,
    )


def no_visits_note(window: Window, known: pd.DataFrame) -> str:
    """The plain-words note of a period without any known visit (its figures all read 0).

    Parameters
    ----------
    window : Window
        The report's current period.
    known : DataFrame
        Visits known by the report date (``visited_at``, Asia/Shanghai).

    Returns
    -------
    str
        E.g. "no visits recorded in the period 2025-03-03 to 2025-03-09: the latest
        visit known by the report date is on 2024-12-31".
    """
    text = (
        f"no visits recorded in the period {window.start.date().isoformat()} to "
        f"{window.last_day.date().isoformat()}"
    )
    latest = known["visited_at"].max() if len(known) else None
    if latest is not None and pd.notna(latest):
        text += f": the latest visit known by the report date is on {latest.date().isoformat()}"
    return text


def figure_columns() -> list[str]:
    """Figure names in report order (:data:`campaign.reports.FIGURES`)."""
    return list(FIGURES)


def rate_columns() -> tuple[str, ...]:
    """Figures that are rates in [0, 1] (shown as percentages)."""
    return RATE_FIGURES
