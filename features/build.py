"""Point-in-time feature job: household histories and escalation labels.

For every as-of date ``t`` and every household of the cohort (households with
at least one approved visit known before ``t``) the job computes the features
declared in ``features.catalogue.FEATURES`` from records known strictly before
``t``, and the label ``1`` iff an escalation incident is reported in
``[t, t + H)``.

Point-in-time rule (DESIGN.md)
------------------------------
* A visit counts at ``t`` iff ``review_status == "approved"``,
  ``recorded_at < t``, ``visited_at < t`` and (when present) ``reviewed_at <
  t``. A rejected visit never counts as a visit; it only feeds the record-quality
  share (as rejected once ``reviewed_at < t``, or when ``reviewed_at`` is
  missing).
* An incident counts at ``t`` iff ``recorded_at < t`` and ``reported_at < t``.
* The warehouse keeps every version of a record; at ``t`` only the latest
  version with ``recorded_at < t`` of each ``visit_id`` / ``incident_id`` counts
  (a version is live on ``(recorded_at, next version's recorded_at]``), so an
  edit recorded at or after ``t`` changes nothing at ``t``. Labels use each
  incident's current version.
* Windows are ``[t - w, t)`` on the event time (``visited_at`` /
  ``reported_at``), ``w`` in days (Asia/Shanghai has no daylight saving, so a
  day is 86 400 s).
* Labels may look at incidents after ``t`` (whatever their ``recorded_at``);
  a row whose horizon ends after the warehouse's last date (the latest
  ``recorded_at`` of either table) gets ``<NA>``.

How it is computed
------------------
The chain is: normalise time zones → integer nanoseconds and category codes →
sort each household's records by time once → for each as-of date, a boolean
knowledge mask → window masks → ``numpy.bincount`` aggregates per household.
Every feature is a function of one household's own records except the four
context rates, which are per-village / per-township aggregates of per-household
flags (leave-one-out). So the job runs on any partition of households that
keeps each household's records together; the context rates need the partition
to hold whole villages (or townships for the township rates).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.asof import normalise_as_of_dates, to_local
from features.catalogue import (
    INCIDENT_CATEGORY_WINDOWS,
    QUALITY_WINDOWS,
    WINDOWS,
    feature_names,
)
from features.episodes import episode_features
from features.prepare import (
    _CATEGORIES,
    _DISPUTE_CALLS,
    _HAZARDS,
    _HTYPES,
    _NAN,
    _NAT,
    _NEVER,
    _SEVERITIES,
    _TYPES,
    INCIDENT_COLUMNS_NEEDED,
    NS_PER_DAY,
    EmptyWarehouseError,
    FeatureBuildError,
    MissingColumnsError,
    _Incidents,
    _last_rows,
    _ns,
    _prepare,
    _ratio,
    _Visits,
)
from features.visit_review import SuspectVisits
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DEFAULT_HORIZON_DAYS,
    JURISDICTION_COLUMNS,
    KEY_COLUMNS,
    LABEL_COLUMN,
    TABLE_VISITS,
    TIMEZONE,
    warehouse_path,
)

logger = logging.getLogger(__name__)


def _days_since(t: int, times: np.ndarray) -> np.ndarray:
    return (t - times) / NS_PER_DAY


def _window_start(t: int, window: str) -> int:
    days = WINDOWS[window]
    return _NAT if days is None else t - days * NS_PER_DAY


# ---------------------------------------------------------------------------
# Per as-of date
# ---------------------------------------------------------------------------


def _features_at(
    v: _Visits, inc: _Incidents, n: int, t: int, drop: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Features of every household at ``t`` (ns); returns cohort, features, htype, village code.

    ``drop`` (bool per sorted visit row) marks visits treated as missing evidence at ``t``,
    except in households where they are all the approved visits known then.
    """
    f: dict[str, np.ndarray] = {}
    live = (v.rec < t) & (v.sup >= t)  # the latest version known before t
    if drop is not None and drop.any():
        counts = v.approved & live & (v.vis < t) & ((v.rev == _NAT) | (v.rev < t))
        kept_any = np.bincount(v.hh[counts & ~drop], minlength=n) > 0
        live &= ~(drop & kept_any[v.hh])
    known = v.approved & live & (v.vis < t) & ((v.rev == _NAT) | (v.rev < t))
    recorded = live & (v.vis < t)
    rejected = recorded & v.rejected & ((v.rev == _NAT) | (v.rev < t))
    known_rows = np.flatnonzero(known)

    # visits, disputes and quality per window
    dispute_counts: dict[str, np.ndarray] = {}
    for w in WINDOWS:
        lo = _window_start(t, w)
        rows = known_rows if lo == _NAT else known_rows[v.vis[known_rows] >= lo]
        g = v.hh[rows]
        count = np.bincount(g, minlength=n).astype(float)
        pm = v.persons[rows]
        pm_known = ~np.isnan(pm)
        pm_n = np.bincount(g, weights=pm_known, minlength=n)
        f[f"visits_{w}_count"] = count
        f[f"visits_{w}_persons_met_mean"] = _ratio(
            np.bincount(g, weights=np.where(pm_known, pm, 0.0), minlength=n), pm_n
        )
        f[f"visits_{w}_share_nobody_met"] = _ratio(
            np.bincount(g, weights=pm_known & (pm == 0), minlength=n), pm_n
        )
        d = rows[v.dispute[rows]]
        gd = v.hh[d]
        dcount = np.bincount(gd, minlength=n).astype(float)
        dispute_counts[w] = dcount
        f[f"disputes_{w}_count"] = dcount
        by_type = np.bincount(gd * len(_TYPES) + v.dtype[d], minlength=n * len(_TYPES))
        by_type = by_type.reshape(n, len(_TYPES)).astype(float)
        for k, code in enumerate(_TYPES):
            f[f"disputes_{w}_count_{code}"] = by_type[:, k]
        sev = v.severity[d]
        ds = d[sev >= 0]
        by_sev = np.bincount(
            v.hh[ds] * len(_SEVERITIES) + v.severity[ds], minlength=n * len(_SEVERITIES)
        ).reshape(n, len(_SEVERITIES))
        for k, code in enumerate(_SEVERITIES):
            f[f"disputes_{w}_count_{code}"] = by_sev[:, k].astype(float)
        f[f"disputes_{w}_share_resolved"] = _ratio(
            np.bincount(gd, weights=v.resolved[d], minlength=n), dcount
        )
        f[f"disputes_{w}_mediation_agreements"] = np.bincount(
            gd, weights=v.mediation[d], minlength=n
        )
        if w in QUALITY_WINDOWS:
            in_w = recorded if lo == _NAT else recorded & (v.vis >= lo)
            rej_w = rejected if lo == _NAT else rejected & (v.vis >= lo)
            f[f"quality_{w}_share_rejected"] = _ratio(
                np.bincount(v.hh[rej_w], minlength=n).astype(float),
                np.bincount(v.hh[in_w], minlength=n).astype(float),
            )
            delay = (v.rec[rows] - v.vis[rows]) / NS_PER_DAY
            f[f"quality_{w}_recording_delay_days"] = _ratio(
                np.bincount(g, weights=delay, minlength=n), count
            )

    last = _last_rows(known_rows, v.hh)
    since = np.full(n, _NAN)
    since[v.hh[last]] = _days_since(t, v.vis[last])
    f["visits_all_days_since_last"] = since

    # open disputes: identity (household, type), status of the latest record
    dp = v.dperm[known[v.dperm]]
    ident = v.hh[dp] * len(_TYPES) + v.dtype[dp]
    open_count = np.zeros(n)
    open_by_type = np.zeros((n, len(_TYPES)))
    max_age = np.full(n, -np.inf)
    if len(dp):
        pos = np.arange(len(dp))
        is_start = np.r_[True, ident[1:] != ident[:-1]]
        is_last = np.r_[ident[1:] != ident[:-1], True]
        last_resolved = np.maximum.accumulate(np.where(v.resolved[dp], pos, -1))
        group_start = np.maximum.accumulate(np.where(is_start, pos, 0))
        open_last = pos[is_last & ~v.resolved[dp]]
        episode = np.maximum(last_resolved[open_last] + 1, group_start[open_last])
        oh = v.hh[dp[open_last]]
        open_count = np.bincount(oh, minlength=n).astype(float)
        open_by_type[oh, v.dtype[dp[open_last]]] = 1.0
        np.maximum.at(max_age, oh, _days_since(t, v.vis[dp[episode]]))
    f["disputes_all_open"] = open_count
    for k, code in enumerate(_TYPES):
        f[f"disputes_all_open_{code}"] = open_by_type[:, k]
    f["disputes_all_open_max_age_days"] = np.where(np.isinf(max_age), _NAN, max_age)
    dlast = _last_rows(known_rows[v.dispute[known_rows]], v.hh)
    dsince = np.full(n, _NAN)
    dsince[v.hh[dlast]] = _days_since(t, v.vis[dlast])
    f["disputes_all_days_since_last"] = dsince
    f["disputes_30d_trend"] = (
        dispute_counts["30d"] - (dispute_counts["90d"] - dispute_counts["30d"]) / 2
    )

    # hazards
    g_all = v.hh[known_rows]
    hz = v.hazards[known_rows]
    ever = np.zeros((n, len(_HAZARDS)))
    for k, code in enumerate(_HAZARDS):
        ever[:, k] = np.bincount(g_all, weights=hz[:, k], minlength=n) > 0
        f[f"hazards_all_ever_{code}"] = ever[:, k]
    latest = np.zeros((n, len(_HAZARDS)))
    latest[v.hh[last]] = v.hazards[last]
    for k, code in enumerate(_HAZARDS):
        f[f"hazards_all_latest_{code}"] = latest[:, k]
    f["hazards_all_distinct"] = ever.sum(axis=1)

    # incidents
    ik = np.flatnonzero((inc.hh >= 0) & (inc.rec < t) & (inc.sup >= t) & (inc.rep < t))
    for w in WINDOWS:
        lo = _window_start(t, w)
        rows = ik if lo == _NAT else ik[inc.rep[ik] >= lo]
        g = inc.hh[rows]
        f[f"incidents_{w}_count"] = np.bincount(g, minlength=n).astype(float)
        f[f"incidents_{w}_escalations"] = np.bincount(g, weights=inc.esc[rows], minlength=n)
        if w in INCIDENT_CATEGORY_WINDOWS:
            ok = rows[inc.cat[rows] >= 0]
            by_cat = np.bincount(
                inc.hh[ok] * len(_CATEGORIES) + inc.cat[ok], minlength=n * len(_CATEGORIES)
            ).reshape(n, len(_CATEGORIES))
            for k, code in enumerate(_CATEGORIES):
                f[f"incidents_{w}_count_{code}"] = by_cat[:, k].astype(float)
    ilast = _last_rows(ik, inc.hh)
    isince = np.full(n, _NAN)
    isince[inc.hh[ilast]] = _days_since(t, inc.rep[ilast])
    f["incidents_all_days_since_last"] = isince
    elast = _last_rows(ik[inc.esc[ik]], inc.hh)
    esince = np.full(n, _NAN)
    esince[inc.hh[elast]] = _days_since(t, inc.rep[elast])
    f["incidents_all_days_since_last_escalation"] = esince

    # context: household type and jurisdiction from the latest known visit
    hlast = _last_rows(known_rows[v.htype[known_rows] >= 0], v.hh)
    htype = np.full(n, -1, dtype=np.int64)
    htype[v.hh[hlast]] = v.htype[hlast]
    village = np.full(n, -1, dtype=np.int64)
    village[v.hh[last]] = v.village[last]
    township = np.full(n, -1, dtype=np.int64)
    township[v.hh[last]] = v.township[last]
    cohort = np.flatnonzero(f["visits_all_count"] > 0)
    flags = {
        "dispute": f["disputes_365d_count"] > 0,
        "escalation": f["incidents_365d_escalations"] > 0,
    }
    for level, codes in (("village", village), ("township", township)):
        c = codes[cohort]
        size = np.bincount(c)
        for what, flag in flags.items():
            own = flag[cohort].astype(float)
            total = np.bincount(c, weights=own, minlength=len(size))
            rate = np.full(n, _NAN)
            rate[cohort] = _ratio(total[c] - own, (size[c] - 1).astype(float))
            f[f"context_365d_{level}_{what}_rate"] = rate
    f.update(episode_features(v, inc, n, t, known, n_types=len(_TYPES), call_codes=_DISPUTE_CALLS))
    return cohort, f, htype, village


def _labels_at(inc: _Incidents, n: int, t: int, horizon_ns: int, last_ns: int) -> np.ndarray:
    """Int8 label array for all households (``-1`` where the horizon is not observed)."""
    if t + horizon_ns > last_ns:
        return np.full(n, -1, dtype=np.int8)
    hit = (
        (inc.hh >= 0) & (inc.sup == _NEVER) & inc.esc & (inc.rep >= t) & (inc.rep < t + horizon_ns)
    )
    return (np.bincount(inc.hh[hit], minlength=n) > 0).astype(np.int8)


def last_recorded_at(visits: pd.DataFrame, incidents: pd.DataFrame) -> pd.Timestamp | None:
    """The warehouse's last date: the latest ``recorded_at`` over both tables.

    Parameters
    ----------
    visits, incidents : DataFrame
        Canonical tables (``recorded_at`` missing falls back to the event time).

    Returns
    -------
    pd.Timestamp or None
        Asia/Shanghai timestamp, or ``None`` when both tables are empty.
    """
    latest = _NAT
    for frame, event in ((visits, "visited_at"), (incidents, "reported_at")):
        if len(frame) and "recorded_at" in frame.columns:
            rec = _ns(frame["recorded_at"])
            if event in frame.columns:
                rec = np.where(rec == _NAT, _ns(frame[event]), rec)
            latest = max(latest, int(rec.max()))
    if latest == _NAT:
        return None
    return pd.Timestamp(latest, unit="ns", tz="UTC").tz_convert(TIMEZONE)


def default_snapshot_as_of(visits: pd.DataFrame, incidents: pd.DataFrame) -> pd.Timestamp:
    """The serving snapshot's as-of date: the day after the latest ``recorded_at``.

    Parameters
    ----------
    visits, incidents : DataFrame
        Canonical warehouse tables.

    Returns
    -------
    pd.Timestamp
        Local midnight (Asia/Shanghai) of the day after the latest ``recorded_at``
        of either table.

    Raises
    ------
    EmptyWarehouseError
        When both tables are empty.
    """
    last = last_recorded_at(visits, incidents)
    if last is None:
        raise EmptyWarehouseError("expected visits or incidents in the warehouse, got none")
    nxt = last.tz_localize(None).normalize() + pd.Timedelta(days=1)
    return nxt.tz_localize(TIMEZONE).as_unit("ns")


def build_features(
    visits: pd.DataFrame,
    incidents: pd.DataFrame,
    as_of_dates: Any,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    escalation_categories: Sequence[str] = DEFAULT_ESCALATION_CATEGORIES,
    with_labels: bool = True,
    progress: bool = False,
    exclude_visit_ids: Collection[str] | None = None,
    exclude_suspect_visits: bool = False,
) -> pd.DataFrame:
    """Point-in-time feature frame (and labels) for one or many as-of dates.

    Parameters
    ----------
    visits : DataFrame of shape (n_visits, ...)
        Canonical visits (docs/interfaces.md), any row order; timestamps
        ``datetime64[ns, Asia/Shanghai]`` (naive ones are read as local time).
    incidents : DataFrame of shape (n_incidents, ...)
        Canonical incidents, any row order.
    as_of_dates : date-like or sequence of date-likes
        As-of dates ``t`` (naive values are Asia/Shanghai local time); usually
        local midnights, e.g. from ``features.asof.weekly_as_of_dates``.
    horizon_days : int, default 30
        Label horizon ``H`` in days.
    escalation_categories : sequence of str
        Incident categories that make the label 1; also used by the
        ``incidents_*_escalations`` and escalation-rate features.
    with_labels : bool, default True
        Add the ``label`` column.
    progress : bool, default False
        Show a progress bar over the as-of dates.
    exclude_visit_ids : collection of str or None
        Visits treated as missing evidence (``campaign.officer_review`` suspect visits):
        dropped before any feature is computed, so a made-up "nothing found" visit
        neither counts as a visit nor as calm. Whether a visit is suspect depends on
        the as-of date: callers pass the set known at ``t`` and build one ``t`` at a time.
    exclude_suspect_visits : bool, default False
        At each ``t``, treat the visits the officer review finds suspect at ``t``
        (:class:`features.visit_review.SuspectVisits`, default review parameters) as
        missing evidence; a household whose approved visits known at ``t`` are all
        suspect keeps them. What ``revisit train`` and the serving snapshot do by default.

    Returns
    -------
    DataFrame of shape (n_rows, 5 + n_features [+ 1])
        One row per (household of the cohort at ``t``, ``t``), sorted by
        ``as_of`` then ``household_id``: ``household_id`` (str), ``as_of``
        (``datetime64[ns, Asia/Shanghai]``), ``county``, ``township``,
        ``village`` (str, from the latest approved visit known before ``t``),
        every feature of ``feature_names()`` (float64; counts in records,
        times in days, shares in [0, 1]; ``context_all_household_type`` is a
        ``category``), and ``label`` (``Int8``; ``<NA>`` where
        ``[t, t + H)`` ends after the warehouse's last ``recorded_at``).

    Raises
    ------
    MissingColumnsError
        When a table lacks a canonical column the job needs.
    features.asof.AsOfError
        When an as-of date cannot be read.
    ValueError
        When ``horizon_days`` is not a positive integer.
    """
    if int(horizon_days) != horizon_days or horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive integer, got {horizon_days!r}")
    dates = normalise_as_of_dates(as_of_dates)
    job = FeatureJob(
        visits,
        incidents,
        horizon_days=horizon_days,
        escalation_categories=escalation_categories,
        exclude_visit_ids=exclude_visit_ids,
    )
    iterator: Any = dates
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(dates, desc="as-of dates", unit="date")
    suspect = SuspectVisits(visits) if exclude_suspect_visits else None
    parts = [
        job.rows_at(
            ts,
            with_labels=with_labels,
            exclude_rows=None if suspect is None else suspect.rows_at(ts),
        )
        for ts in iterator
    ]
    frame = job.assemble(parts, with_labels=with_labels)
    logger.info(
        "built %d feature rows for %d as-of dates (%d households known)",
        len(frame),
        len(dates),
        job.n_households,
    )
    return frame


@dataclass
class DateRows:
    """Feature rows of one as-of date, as arrays (before they become a frame).

    Attributes
    ----------
    as_of : pandas.Timestamp
        The as-of date (Asia/Shanghai).
    households : ndarray of int64, shape (n_rows,)
        Household codes (positions in :attr:`FeatureJob.households`).
    values : ndarray of shape (n_float_features, n_rows)
        Every feature but ``context_all_household_type``, in catalogue order.
    htype : ndarray of int64, shape (n_rows,)
        Household type code (``-1`` missing).
    village : ndarray of int64, shape (n_rows,)
        Village code of the latest known visit (row of the geography table).
    labels : ndarray of int8, shape (n_rows,)
        1/0, or ``-1`` where the horizon is not observed.
    """

    as_of: pd.Timestamp
    households: np.ndarray
    values: np.ndarray
    htype: np.ndarray
    village: np.ndarray
    labels: np.ndarray

    def take(self, rows: np.ndarray) -> DateRows:
        """The subset of rows at positions (or boolean mask) ``rows``."""
        return DateRows(
            self.as_of,
            self.households[rows],
            self.values[:, rows],
            self.htype[rows],
            self.village[rows],
            self.labels[rows],
        )


class FeatureJob:
    """The warehouse prepared once; features of any as-of date computed from it.

    :func:`build_features` is ``FeatureJob(...)`` then :meth:`rows_at` per date and
    :meth:`assemble`. The training frame uses the same steps one date at a
    time, so that no more than one date's rows are held at once.

    Parameters
    ----------
    visits, incidents : DataFrame
        Canonical tables (see :func:`build_features`).
    horizon_days : int
        Label horizon ``H`` in days.
    escalation_categories : sequence of str
        Incident categories that make the label 1.

    Raises
    ------
    MissingColumnsError
        When a table lacks a canonical column the job needs.
    ValueError
        When ``horizon_days`` is not a positive integer or a category is unknown.
    """

    def __init__(
        self,
        visits: pd.DataFrame,
        incidents: pd.DataFrame,
        *,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
        escalation_categories: Sequence[str] = DEFAULT_ESCALATION_CATEGORIES,
        exclude_visit_ids: Any = None,
    ) -> None:
        if int(horizon_days) != horizon_days or horizon_days <= 0:
            raise ValueError(f"horizon_days must be a positive integer, got {horizon_days!r}")
        unknown = sorted(set(escalation_categories) - set(_CATEGORIES))
        if unknown:
            raise ValueError(f"escalation categories must be in {_CATEGORIES!r}, got {unknown!r}")
        kept = visits  # suspect visits (features.visit_review) count as missing evidence
        if exclude_visit_ids is not None:
            kept = visits[~visits["visit_id"].isin(set(exclude_visit_ids))]
        self._v, self._inc, self.households, self._geo = _prepare(
            kept, incidents, escalation_categories
        )
        self._filtered = exclude_visit_ids is not None
        last = last_recorded_at(visits, incidents)
        self._last_ns = _NAT if last is None else int(last.value)
        self._horizon_ns = int(horizon_days) * NS_PER_DAY
        names = feature_names()
        self._names = names
        self.float_names = [k for k in names if k != "context_all_household_type"]

    @property
    def n_households(self) -> int:
        """Households with at least one visit row (known or not)."""
        return len(self.households)

    def is_labelled(self, as_of: pd.Timestamp) -> bool:
        """Whether the horizon ``[t, t + H)`` ends on or before the warehouse's last date."""
        return int(as_of.value) + self._horizon_ns <= self._last_ns

    def rows_at(
        self,
        as_of: pd.Timestamp,
        *,
        with_labels: bool = True,
        dtype: Any = np.float64,
        exclude_rows: np.ndarray | None = None,
    ) -> DateRows:
        """Feature rows of the cohort at one as-of date.

        Parameters
        ----------
        as_of : pandas.Timestamp
            Time-zone-aware as-of date (from ``features.asof.normalise_as_of_dates``).
        with_labels : bool, default True
            Compute labels (else ``labels`` is all ``-1``).
        dtype : numpy dtype, default float64
            Dtype of :attr:`DateRows.values` (float32 halves the training frame).
        exclude_rows : ndarray of int64, optional
            Positions (``iloc``) in the visits frame the job was built from of the
            current versions of visits treated as missing evidence at this date
            (``features.visit_review.SuspectVisits.rows_at``); a household whose
            approved visits known at ``t`` are all excluded keeps them.

        Returns
        -------
        DateRows
        """
        n = self.n_households
        t = int(as_of.value)
        drop = None
        if exclude_rows is not None and len(exclude_rows):
            if self._filtered:
                raise ValueError("give exclude_visit_ids or exclude_rows, not both")
            excluded = np.zeros(len(self._v.row), dtype=bool)
            excluded[np.asarray(exclude_rows, dtype=np.int64)] = True
            drop = excluded[self._v.row]
        cohort, f, htype, village = _features_at(self._v, self._inc, n, t, drop)
        labels = (
            _labels_at(self._inc, n, t, self._horizon_ns, self._last_ns)
            if with_labels
            else np.full(n, -1, dtype=np.int8)
        )
        values = np.empty((len(self.float_names), len(cohort)), dtype=dtype)
        for k, name in enumerate(self.float_names):
            values[k] = f[name][cohort]
        logger.debug("as_of=%s cohort=%d", as_of.date(), len(cohort))
        return DateRows(as_of, cohort, values, htype[cohort], village[cohort], labels[cohort])

    def assemble(self, parts: list[DateRows], *, with_labels: bool = True) -> pd.DataFrame:
        """One frame from the rows of one or many dates (see :func:`build_features`).

        The float block of ``parts`` is released as it is copied into the frame.
        """
        names, float_names = self._names, self.float_names
        rows = np.concatenate([p.households for p in parts]) if parts else np.empty(0, np.int64)
        village_codes = (
            np.concatenate([p.village for p in parts]) if parts else np.empty(0, np.int64)
        )
        dtype = parts[0].values.dtype if parts else np.dtype(np.float64)
        data: dict[str, Any] = {
            "household_id": pd.array(self.households[rows], dtype="str"),
            "as_of": pd.DatetimeIndex(
                np.repeat(
                    np.array([p.as_of.value for p in parts], dtype=np.int64),
                    [len(p.households) for p in parts],
                ),
                tz="UTC",
            )
            .tz_convert(TIMEZONE)
            .as_unit("ns"),
        }
        for col in JURISDICTION_COLUMNS:
            data[col] = pd.array(self._geo[col].to_numpy()[village_codes], dtype="str")
        # One (n_features, n_rows) float block, filled once: the frame takes it without a copy.
        if len(parts) == 1:
            block = parts[0].values
        else:
            block = np.empty((len(float_names), len(rows)), dtype=dtype)
            offset = 0
            for part in parts:
                block[:, offset : offset + len(part.households)] = part.values
                offset += len(part.households)
                part.values = np.empty((0, 0), dtype=dtype)
        codes = np.concatenate([p.htype for p in parts]) if parts else np.empty(0, np.int64)
        household_type = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(_HTYPES))
        frame = pd.DataFrame(block.T, columns=float_names, copy=False)
        for pos, (col, values) in enumerate(data.items()):
            frame.insert(pos, col, values)
        frame.insert(
            len(data) + names.index("context_all_household_type"),
            "context_all_household_type",
            pd.Series(household_type),
        )
        if with_labels:
            lab = np.concatenate([p.labels for p in parts]) if parts else np.empty(0, np.int8)
            frame[LABEL_COLUMN] = pd.Series(lab, dtype="Int8").mask(lab < 0).array
        frame.index = pd.RangeIndex(len(frame))
        return frame


def _read_tables(home: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the canonical tables of the warehouse under ``home``."""
    from warehouse import store

    return store.read_visits(home), store.read_incidents(home)


def build_feature_table(
    home: Path,
    as_of: Any = None,
    *,
    visits_per_partition: int | None = None,
    known_suspects: tuple[pd.Timestamp, np.ndarray] | None = None,
    **kw: Any,
) -> pd.DataFrame:
    """Feature table of the warehouse under ``home`` for one as-of date.

    A warehouse of more than ``visits_per_partition`` visit rows is built one
    partition of whole townships at a time (:mod:`features.snapshot`): the same
    rows, a fraction of the memory.

    Parameters
    ----------
    home : Path
        Revisit home folder (holds ``warehouse/``).
    as_of : date-like or None
        As-of date (local midnight when a date is given); ``None`` means
        :func:`default_snapshot_as_of` (the serving snapshot).
    visits_per_partition : int, optional
        Visit rows per partition (default ``features.snapshot.VISITS_PER_PARTITION``,
        1 500 000: the 1 000 000-household prefecture in 7 partitions).
    known_suspects : (Timestamp, ndarray of int64), optional
        Suspect visits the caller already found (``features.snapshot.suspect_visit_rows``),
        used by the partitioned build instead of reading the review window again; the
        in-memory build reviews the visits it holds.
    **kw
        Passed to :func:`build_features` (``horizon_days``,
        ``escalation_categories``, ``with_labels``, ``progress``).

    Returns
    -------
    DataFrame
        As :func:`build_features`.

    Raises
    ------
    EmptyWarehouseError
        When the warehouse has no visits (missing or empty).
    """
    from features.snapshot import build_snapshot_in_parts, partitions_for, warehouse_visit_rows

    n_parts = partitions_for(warehouse_visit_rows(Path(home)), visits_per_partition)
    if n_parts > 1:  # a large warehouse: one partition of whole townships at a time
        from features.distributed import snapshot_as_of

        when = snapshot_as_of(Path(home)) if as_of is None else to_local(as_of)
        return build_snapshot_in_parts(
            Path(home), when, n_parts, known_suspects=known_suspects, **kw
        )
    visits, incidents = _read_tables(Path(home))
    if len(visits) == 0:
        raise EmptyWarehouseError(
            f"expected visits in the warehouse at {warehouse_path(Path(home), TABLE_VISITS)}, "
            "got none (run `revisit ingest` first)"
        )
    if len(incidents) == 0 and not set(INCIDENT_COLUMNS_NEEDED) <= set(incidents.columns):
        incidents = pd.DataFrame({c: pd.Series(dtype="str") for c in INCIDENT_COLUMNS_NEEDED})
        for c in ("reported_at", "recorded_at"):
            incidents[c] = pd.Series(dtype=f"datetime64[ns, {TIMEZONE}]")
    when = default_snapshot_as_of(visits, incidents) if as_of is None else to_local(as_of)
    return build_features(visits, incidents, [when], **kw)


__all__ = [
    "KEY_COLUMNS",
    "DateRows",
    "EmptyWarehouseError",
    "FeatureBuildError",
    "FeatureJob",
    "MissingColumnsError",
    "build_feature_table",
    "build_features",
    "default_snapshot_as_of",
    "last_recorded_at",
]
