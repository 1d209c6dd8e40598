"""Daily dispatch, weekly bulletin and monthly appraisal: the campaign's figures by unit.

The rule
--------
A report at as-of date t (local midnight, Asia/Shanghai) covers a period that
ends at t (exclusive): the day before t (daily), the 7 days before t (weekly)
or the month before t (``t - 1 month``, monthly).  It compares the period with
the previous period of the same length and with the same period a year
earlier (同比).  Only records known before t count (``recorded_at < t``; of a
record sent in several versions, the latest known before t) and rejected
visits never count; pending ones do, as in the field's own tallies.

Figures per unit (county, township, station, officer), for a period:

* ``officer_days``: distinct (officer, local date) with a visit (投入警力人次);
* ``households_visited`` and ``visited_share`` (of the households known in the
  unit before t); ``people_met``: sum of ``persons_met``;
* ``disputes_found``: distinct (household, dispute type) recorded with a dispute
  in the period; ``disputes_handled``: those whose latest record in the period
  is resolved, referred, or mediating with a follow-up date; ``handled_rate``
  (处置率) = handled / found, the seed's own count;
* ``hazards_found``: distinct (household, hazard) recorded in the period;
  ``hazards_handled``: those whose household had a later visit before t;
* ``overdue_followups``: households whose latest record before t is an open
  dispute (mediating, unresolved or referred) with a follow-up date before t;
* ``tasks_issued``, ``tasks_on_time``, ``tasks_overdue`` and ``list_adherence``
  (tasks issued in the period completed by t over tasks issued) from an optional
  tasks table; missing (shown as "n/a") without one;
* ``escalations`` (有效警情): incidents of the escalation categories reported in
  the period, placed in the unit of the household (station and officer: those of
  the household's latest visit before t);
* ``suspect_visits``: visits of the period flagged by the officer review.

How: every figure is a ``groupby`` over the unit's key columns of small
pure frames (visits in a window, disputes, hazards), so the levels share one
code path; the same functions compute the current, previous and year-ago
periods.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

import pandas as pd

from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    HAZARD_SEPARATOR,
    TABLE_VISITS,
    TIMEZONE,
)
from warehouse.versions import current_versions

PERIODS: Final = ("daily", "weekly", "monthly")

#: What an as-of argument may be: a timestamp, a date or ISO text (naive: local time).
DateLike = pd.Timestamp | dt.date | str

#: Report levels: name -> key columns (a unit is one combination of their values).
LEVELS: Final[dict[str, tuple[str, ...]]] = {
    "county": ("county",),
    "township": ("county", "township"),
    "station": ("county", "station"),
    "officer": ("county", "station", "officer_id"),
}

#: Figures in report order: name -> (Chinese label, English label).
FIGURES: Final[dict[str, tuple[str, str]]] = {
    "officer_days": ("投入警力(人次)", "officer-days"),
    "households_visited": ("走访户数", "households visited"),
    "households_known": ("在册户数", "households known"),
    "visited_share": ("走访覆盖率", "share visited"),
    "people_met": ("走访人数", "people met"),
    "disputes_found": ("排查矛盾纠纷(起)", "disputes found"),
    "disputes_handled": ("处置矛盾纠纷(起)", "disputes handled"),
    "handled_rate": ("处置率", "handled rate"),
    "hazards_found": ("排查风险隐患(项)", "hazards found"),
    "hazards_handled": ("跟进风险隐患(项)", "hazards followed up"),
    "overdue_followups": ("逾期未回访纠纷", "open disputes past follow-up"),
    "tasks_issued": ("下发回访任务", "tasks issued"),
    "tasks_on_time": ("按期完成任务", "tasks on time"),
    "tasks_overdue": ("逾期任务", "tasks overdue"),
    "list_adherence": ("清单执行率", "list adherence"),
    "escalations": ("有效警情(起)", "escalation incidents"),
    "suspect_visits": ("疑似不实走访", "suspect visits"),
}
RATE_FIGURES: Final = ("visited_share", "handled_rate", "list_adherence")
TASK_FIGURES: Final = ("tasks_issued", "tasks_on_time", "tasks_overdue", "list_adherence")
TASK_COLUMNS: Final = (
    "task_id",
    "household_id",
    "county",
    "township",
    "village",
    "officer_id",
    "kind",
    "status",
    "issued_at",
    "due",
    "completed_at",
)
_OPEN: Final = ("mediating", "unresolved", "referred")


class ReportError(ValueError):
    """A report cannot be made from the arguments given."""


class ReportInputError(ReportError):
    """The arguments themselves are malformed (a place that is no name nor path, a date
    outside the years a report can cover): the caller's mistake, not missing data."""


#: The as-of dates a report or review accepts (local dates): pandas' nanosecond times
#: cannot subtract a review window from year 1, and no record predates 1970.
AS_OF_RANGE: tuple[str, str] = ("1970-01-01", "2199-12-31")


@dataclass(frozen=True)
class Window:
    """A report period ``[start, end)`` in local time (Asia/Shanghai)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def last_day(self) -> pd.Timestamp:
        """The last local date in the period (inclusive)."""
        return (self.end - pd.Timedelta(days=1)).normalize()


def local_midnight(value: DateLike) -> pd.Timestamp:
    """Local midnight (Asia/Shanghai) of a date; naive values are local."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize(TIMEZONE) if ts.tzinfo is None else ts.tz_convert(TIMEZONE)
    return ts.normalize()


def period_windows(period: str, as_of: DateLike) -> dict[str, Window]:
    """The current, previous and year-earlier windows of a report.

    Parameters
    ----------
    period : {"daily", "weekly", "monthly"}
    as_of : Timestamp or str
        Report date; the period ends at its local midnight (exclusive).

    Returns
    -------
    dict
        ``{"current": Window, "previous": Window, "year_ago": Window}``.

    Raises
    ------
    ReportError
        For an unknown period.
    """
    if period not in PERIODS:
        raise ReportError(f"period must be one of {PERIODS!r}, got {period!r}")
    end = local_midnight(as_of)
    length = {
        "daily": pd.DateOffset(days=1),
        "weekly": pd.DateOffset(days=7),
        "monthly": pd.DateOffset(months=1),
    }[period]
    start = end - length
    year = pd.DateOffset(years=1)
    return {
        "current": Window(start, end),
        "previous": Window(start - length, start),
        "year_ago": Window(start - year, end - year),
    }


def known_before(frame: pd.DataFrame, table: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per record, the latest version known before ``as_of`` (``warehouse.versions``)."""
    return current_versions(frame[frame["recorded_at"].lt(as_of).fillna(False)], table)


def known_visits(visits: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Visits known before ``as_of`` (latest version each) and not rejected, with ``date``."""
    v = known_before(visits, TABLE_VISITS, as_of)
    v = v.loc[v["review_status"].ne("rejected").fillna(True)].copy()
    v["station"] = v["station"].fillna("(未知)")
    v["officer_id"] = v["officer_id"].fillna("(未知)")
    v["date"] = v["visited_at"].dt.normalize()
    return v


def household_units(known: pd.DataFrame) -> pd.DataFrame:
    """Each household's unit (county, township, village, station, officer) of its latest visit."""
    cols = ["household_id", "county", "township", "village", "station", "officer_id"]
    latest = known.sort_values("visited_at", kind="stable").drop_duplicates(
        "household_id", keep="last"
    )
    return latest[cols].reset_index(drop=True)


def _in(frame: pd.DataFrame, col: str, w: Window) -> pd.DataFrame:
    return frame[(frame[col] >= w.start) & (frame[col] < w.end)]


def _count(frame: pd.DataFrame, keys: list[str], name: str) -> pd.Series:
    return frame.groupby(keys, dropna=False).size().rename(name)


def period_figures(
    known: pd.DataFrame,
    units: pd.DataFrame,
    incidents: pd.DataFrame,
    w: Window,
    as_of: pd.Timestamp,
    level: str,
    *,
    tasks: pd.DataFrame | None = None,
    suspect_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """Every figure of one level for one window.

    Parameters
    ----------
    known : DataFrame
        :func:`known_visits` at ``as_of``.
    units : DataFrame
        :func:`household_units` of ``known``.
    incidents : DataFrame
        Canonical incidents (those recorded before ``as_of`` count).
    w : Window
        The period.
    as_of : Timestamp
        The report date (knowledge cut-off, local midnight).
    level : {"county", "township", "station", "officer"}
    tasks : DataFrame or None
        Tasks with :data:`TASK_COLUMNS`; None leaves the task figures missing.
    suspect_ids : Series of str or None
        ``visit_id`` of suspect visits (:mod:`campaign.officer_review`).

    Returns
    -------
    DataFrame
        One row per unit with activity or households: the level's key columns and every
        figure of :data:`FIGURES` (counts ``Int64``, rates ``Float64`` in [0, 1]).
    """
    keys = list(LEVELS[level])
    cur = _in(known, "visited_at", w)
    parts: list[pd.Series] = [
        _count(units, keys, "households_known"),
        cur.drop_duplicates(["officer_id", "date"]).pipe(_count, keys, "officer_days"),
        cur.drop_duplicates("household_id").pipe(_count, keys, "households_visited"),
        cur.groupby(keys, dropna=False)["persons_met"].sum().rename("people_met"),
    ]
    disputes = cur[cur["has_dispute"].fillna(False)].sort_values("visited_at", kind="stable")
    disputes = disputes.drop_duplicates(["household_id", "dispute_type"], keep="last")
    status = disputes["resolution_status"]
    handled = status.isin(("resolved", "referred")) | (
        status.eq("mediating") & disputes["followup_due"].notna()
    )
    parts += [
        _count(disputes, keys, "disputes_found"),
        _count(disputes[handled.fillna(False)], keys, "disputes_handled"),
    ]
    hz = cur.loc[
        cur["risk_hazards"].fillna("").ne(""), [*keys, "household_id", "visited_at", "risk_hazards"]
    ]
    hz = hz.assign(hazard=hz["risk_hazards"].str.split(HAZARD_SEPARATOR)).explode("hazard")
    hz = hz.sort_values("visited_at").drop_duplicates(["household_id", "hazard"])
    last_visit = known.groupby("household_id")["visited_at"].max()
    if len(hz):
        followed = hz["household_id"].map(last_visit) > hz["visited_at"]
    else:  # mapping no row onto an empty datetime index fails (a date before any record)
        followed = pd.Series(False, index=hz.index, dtype=bool)
    parts += [_count(hz, keys, "hazards_found"), _count(hz[followed], keys, "hazards_handled")]
    latest = known.sort_values("visited_at", kind="stable").drop_duplicates(
        "household_id", keep="last"
    )
    overdue = (
        latest["has_dispute"].fillna(False)
        & latest["resolution_status"].isin(_OPEN)
        & latest["followup_due"].lt(w.end)
    )
    parts.append(_count(latest[overdue.fillna(False)], keys, "overdue_followups"))
    esc = incidents[
        incidents["category"].isin(DEFAULT_ESCALATION_CATEGORIES)
        & incidents["recorded_at"].lt(as_of)
    ]
    esc = _in(esc, "reported_at", w)[["household_id", "county", "township"]]
    esc = esc.merge(units[["household_id", "station", "officer_id"]], on="household_id", how="left")
    esc[["station", "officer_id"]] = esc[["station", "officer_id"]].fillna("(未知)")
    parts.append(_count(esc, keys, "escalations"))
    if suspect_ids is not None:
        parts.append(_count(cur[cur["visit_id"].isin(set(suspect_ids))], keys, "suspect_visits"))
    if tasks is not None:
        parts += _task_figures(tasks, units, keys, w)
    out = pd.concat(parts, axis=1).reset_index()
    counts = [f for f in FIGURES if f not in RATE_FIGURES and f in out.columns]
    out[counts] = out[counts].fillna(0).astype("Int64")
    if tasks is None:
        for f in TASK_FIGURES:
            out[f] = pd.NA
    if suspect_ids is None:
        out["suspect_visits"] = pd.NA
    out["visited_share"] = _ratio(out["households_visited"], out["households_known"])
    out["handled_rate"] = _ratio(out["disputes_handled"], out["disputes_found"])
    if tasks is not None:
        out["list_adherence"] = _ratio(out["list_adherence_done"], out["tasks_issued"])
    for f in TASK_FIGURES[:3]:
        out[f] = out[f].astype("Int64")
    for f in RATE_FIGURES:
        out[f] = out[f].astype("Float64")
    return out[[*keys, *FIGURES]].sort_values(keys, kind="stable").reset_index(drop=True)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = num.astype("Float64"), den.astype("Float64")
    return (num / den.where(den > 0)).astype("Float64")


def _task_figures(
    tasks: pd.DataFrame, units: pd.DataFrame, keys: list[str], w: Window
) -> list[pd.Series]:
    """Tasks issued, on time, overdue and completed-by-the-end in one window, per unit."""
    missing = set(TASK_COLUMNS) - set(tasks.columns)
    if missing:
        raise ReportError(f"tasks must have columns {TASK_COLUMNS!r}; missing {sorted(missing)!r}")
    t = tasks.merge(units[["household_id", "station"]], on="household_id", how="left")
    t["station"] = t["station"].fillna("(未知)")
    t["officer_id"] = t["officer_id"].fillna("(未知)")
    issued = _in(t, "issued_at", w)
    done_by_end = issued["completed_at"].notna() & issued["completed_at"].lt(w.end)
    done_in = _in(t[t["completed_at"].notna()], "completed_at", w)
    on_time = done_in[done_in["completed_at"] < done_in["due"] + pd.Timedelta(days=1)]
    open_at_end = t["completed_at"].isna() | t["completed_at"].ge(w.end)
    overdue = t[open_at_end & t["issued_at"].lt(w.end) & (t["due"] + pd.Timedelta(days=1) <= w.end)]
    return [
        _count(issued, keys, "tasks_issued"),
        _count(on_time, keys, "tasks_on_time"),
        _count(overdue, keys, "tasks_overdue"),
        _count(issued[done_by_end], keys, "list_adherence_done"),
    ]


def headline_numbers(current: pd.DataFrame) -> dict[str, float]:
    """Prefecture totals of one window from a county-level figure frame.

    Returns
    -------
    dict
        ``officer_days``, ``households_visited``, ``people_met``, ``disputes_found``,
        ``disputes_handled`` (int), ``handled_rate`` (float or NaN), ``escalations`` (int).
    """
    tot = {
        k: int(current[k].fillna(0).sum())
        for k in (
            "officer_days",
            "households_visited",
            "people_met",
            "disputes_found",
            "disputes_handled",
            "escalations",
        )
    }
    found = tot["disputes_found"]
    out: dict[str, float] = dict(tot)
    out["handled_rate"] = tot["disputes_handled"] / found if found else float("nan")
    return out


def wan(n: int) -> str:
    """A count in the seed's style: exact below 10 000, else 3 significant digits of 万, "余" if cut.

    ``675000 -> "67.5万"``, ``675432 -> "67.5万余"``, ``65213 -> "6.52万余"``,
    ``9999 -> "9999"``.
    """
    if n < 10_000:
        return str(int(n))
    value = n / 10_000
    decimals = max(0, 3 - len(str(int(value))))
    scale = 10**decimals
    cut = math.floor(value * scale + 1e-9) / scale
    text = f"{cut:.{decimals}f}万"
    return text + ("余" if round(cut * 10_000) < n else "")


def _zh_day(ts: pd.Timestamp) -> str:
    return f"{ts.month}月{ts.day}日"


def _en_day(ts: pd.Timestamp) -> str:
    return f"{ts.day} {ts.strftime('%b')}"


def headline(current: pd.DataFrame, w: Window, language: str = "zh") -> str:
    """The headline in the seed campaign's own form.

    Parameters
    ----------
    current : DataFrame
        County-level figures of the window (:func:`period_figures`).
    w : Window
        The period (its first and last local dates are named).
    language : {"zh", "en"}

    Returns
    -------
    str
        e.g. ``"1月20日至2月27日，共投入警力56995人次，走访群众67.5万余户94.3万余人，
        排查化解矛盾纠纷6.52万余起、处置率99.83%"``.

    Raises
    ------
    ReportError
        For an unknown language.
    """
    n = headline_numbers(current)
    rate = n["handled_rate"]
    first, last = w.start, w.last_day
    if language == "zh":
        days = _zh_day(first) if first == last else f"{_zh_day(first)}至{_zh_day(last)}"
        rate_zh = "—" if math.isnan(rate) else f"{100 * rate:.2f}%"
        return (
            f"{days}，共投入警力{int(n['officer_days'])}人次，"
            f"走访群众{wan(int(n['households_visited']))}户{wan(int(n['people_met']))}人，"
            f"排查化解矛盾纠纷{wan(int(n['disputes_found']))}起、处置率{rate_zh}"
        )
    if language == "en":
        days = _en_day(first) if first == last else f"{_en_day(first)} to {_en_day(last)}"
        rate_en = "n/a" if math.isnan(rate) else f"{100 * rate:.2f} %"
        return (
            f"{days}: {int(n['officer_days']):,} officer-days; "
            f"{int(n['households_visited']):,} households and {int(n['people_met']):,} people "
            f"visited; {int(n['disputes_found']):,} disputes found and mediated, "
            f"{rate_en} handled"
        )
    raise ReportError(f"language must be 'zh' or 'en', got {language!r}")


def pct_change(now: pd.Series, before: pd.Series) -> pd.Series:
    """Relative change ``(now - before) / before`` (Float64; missing where before is 0)."""
    now, before = now.astype("Float64"), before.astype("Float64")
    return ((now - before) / before.where(before > 0)).astype("Float64")


def weekly_trend(
    known: pd.DataFrame, incidents: pd.DataFrame, as_of: pd.Timestamp, weeks: int = 12
) -> pd.DataFrame:
    """Prefecture totals of the ``weeks`` 7-day periods ending at ``as_of``.

    Returns
    -------
    DataFrame
        ``week_start`` (Timestamp, local midnight), ``visits``, ``households_visited``,
        ``disputes_found`` (distinct household and type), ``escalations`` (int64).
    """
    rows = []
    esc = incidents[
        incidents["category"].isin(DEFAULT_ESCALATION_CATEGORIES)
        & incidents["recorded_at"].lt(as_of)
    ]
    for k in range(weeks, 0, -1):
        w = Window(as_of - pd.Timedelta(days=7 * k), as_of - pd.Timedelta(days=7 * (k - 1)))
        cur = _in(known, "visited_at", w)
        disp = cur[cur["has_dispute"].fillna(False)]
        rows.append(
            {
                "week_start": w.start,
                "visits": len(cur),
                "households_visited": int(cur["household_id"].nunique()),
                "disputes_found": len(disp.drop_duplicates(["household_id", "dispute_type"])),
                "escalations": len(_in(esc, "reported_at", w)),
            }
        )
    return pd.DataFrame(rows).astype(
        {c: "int64" for c in ("visits", "households_visited", "disputes_found", "escalations")}
    )
