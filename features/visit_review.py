"""Review of officers whose visit records look perfunctory or made up, and their suspect visits.

The officer review's rules live here, below :mod:`training`, because the
features treat suspect visits as missing evidence (:class:`SuspectVisits`,
used by the training frame and the serving snapshot); :mod:`campaign.officer_review`
re-exports them for the review list, the bulletins and the routes.

The rule
--------
At an as-of date t, for each officer, take the approved visits known before t
(``recorded_at < t``; the latest version of each known then) with ``visited_at`` in ``[t - window_days, t)``.  Seven
indicators describe how the officer's records look (:data:`INDICATORS`):
bursts of many visits within minutes, visits where nobody was met, the rates
of disputes and hazards found, records identical to the previous one of the
same day, records typed within minutes of the claimed visit, and visits at
implausible hours; the median recording delay is shown but not scored (a slow
recorder is not a fabricator).

Each indicator is compared with the officer's peers as a robust z-score,
``z = direction * (x - peer median) / scale``: the peers are the officers of
the same township when it has at least ``min_peers`` officers with enough
visits, else of the same county, else all; ``scale`` is 1.4826 x the median
absolute deviation over all officers (floored, :data:`INDICATORS`), so a
township of three officers cannot make a tiny difference look huge.  The
score is the weighted mean of ``clip(z, 0, 10)`` (only the suspicious
direction counts), weights :data:`DEFAULT_WEIGHTS` (configurable).  The
indicators with the largest contributions are named as the drivers.

Why robust peer z-scores rather than an IsolationForest: each component is a
sentence a supervisor can check ("41 % of records typed within 15 minutes of
the visit; peers 2 %"), peers absorb what villages share (a hard township
finds little everywhere), and it needs no training.

The list is for supervisors to look at, never an automatic sanction; an
officer with fewer than ``min_visits`` visits in the window is not scored.

Suspect visits
--------------
A visit is suspect when its officer is on the review list and the visit
itself looks like the pattern: nothing found (no dispute, no hazard) and in a
burst, typed within minutes, or at an implausible hour.  Households whose
recent visits are suspect are marked in lists, and the features treat those
visits as missing evidence (:func:`suspect_visit_ids`, :class:`SuspectVisits`).

Only the visits of the window can be suspect at t, so the review at t reads
only them: the visits known before t with ``visited_at`` in the window, and
every known version of a record that has several (an edit may move a visit
into or out of the window).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from warehouse.contract import TABLE_VISITS, TIMEZONE
from warehouse.versions import current_versions

#: name -> (direction, scale floor, English text, Chinese text); direction +1: high is
#: suspicious, -1: low is suspicious.
INDICATORS: Final[dict[str, tuple[int, float, str, str]]] = {
    "burst_share": (
        1,
        0.03,
        "share of visits logged in bursts (5 or more within 30 minutes)",
        "集中录入（30分钟内5次以上）走访占比",
    ),
    "nobody_met_share": (1, 0.03, "share of visits where nobody was met", "未见到人走访占比"),
    "dispute_rate": (-1, 0.02, "share of visits finding a dispute", "发现矛盾纠纷的走访占比"),
    "hazard_rate": (-1, 0.03, "share of visits finding a hazard", "发现风险隐患的走访占比"),
    "identical_share": (
        1,
        0.03,
        "share of records identical to the previous one of the same day",
        "与当日上一条记录完全相同的占比",
    ),
    "quick_entry_share": (
        1,
        0.02,
        "share of records typed within 15 minutes of the visit",
        "走访后15分钟内即录入的占比",
    ),
    "odd_hours_share": (
        1,
        0.02,
        "share of visits at implausible hours (20:00-07:00)",
        "非正常时段（20时至次日7时）走访占比",
    ),
    "recording_delay_hours": (1, 2.0, "median recording delay (hours)", "录入延迟中位数（小时）"),
}

#: Weight of each indicator in the score; the recording delay is shown, not scored.
DEFAULT_WEIGHTS: Final[dict[str, float]] = {
    "burst_share": 1.0,
    "nobody_met_share": 0.5,
    "dispute_rate": 1.0,
    "hazard_rate": 0.5,
    "identical_share": 0.5,
    "quick_entry_share": 1.0,
    "odd_hours_share": 1.0,
    "recording_delay_hours": 0.0,
}


class OfficerReviewError(ValueError):
    """The review cannot be computed from the input given."""


@dataclass(frozen=True)
class ReviewConfig:
    """Parameters of the officer review.

    Parameters
    ----------
    window_days : int
        Days of visits before the as-of date that are reviewed (default 90).
    min_visits : int
        Officers with fewer approved visits in the window are not scored (default 20).
    min_peers : int
        Officers with enough visits a township needs to be the peer group (else county, all).
    burst_minutes, burst_visits : int
        A visit is in a burst when the officer logged at least ``burst_visits`` visits
        within ``burst_minutes`` minutes either side (30, 5).
    quick_entry_minutes : int
        A record typed within this many minutes of the visit counts as quick entry (15).
    odd_hours : tuple of int
        Local hours (start, end): visits at or after ``start`` or before ``end`` (20, 7).
    threshold : float
        Score (weighted mean of clipped z-scores) from which an officer is on the review
        list (default 1.0).
    weights : dict of str to float
        Weight of each indicator (:data:`DEFAULT_WEIGHTS`).
    """

    window_days: int = 90
    min_visits: int = 20
    min_peers: int = 5
    burst_minutes: int = 30
    burst_visits: int = 5
    quick_entry_minutes: int = 15
    odd_hours: tuple[int, int] = (20, 7)
    threshold: float = 1.0
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def validate(self) -> ReviewConfig:
        """Check the parameters and return ``self``.

        Raises
        ------
        OfficerReviewError
            If a parameter is out of range or a weight names no indicator.
        """
        if self.window_days < 7:
            raise OfficerReviewError(f"window_days must be >= 7, got {self.window_days!r}")
        if self.min_visits < 1:
            raise OfficerReviewError(f"min_visits must be >= 1, got {self.min_visits!r}")
        unknown = set(self.weights) - set(INDICATORS)
        if unknown:
            raise OfficerReviewError(
                f"weights must name indicators of {sorted(INDICATORS)!r}, got {sorted(unknown)!r}"
            )
        if sum(self.weights.values()) <= 0:
            raise OfficerReviewError(f"weights must sum to > 0, got {self.weights!r}")
        return self


def _as_of(as_of: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_localize(TIMEZONE) if ts.tzinfo is None else ts.tz_convert(TIMEZONE)


def _window_candidates(visits: pd.DataFrame, t: pd.Timestamp, lo: pd.Timestamp) -> pd.DataFrame:
    """Rows known before ``t`` that may be a current version visited in ``[lo, t)``.

    The rows visited in the window, and every row of an id with several versions
    (its current version at ``t`` may lie elsewhere); stored order is kept.
    """
    rec_ok = visits["recorded_at"].lt(t).fillna(False)
    in_window = visits["visited_at"].ge(lo).fillna(False) & visits["visited_at"].lt(t).fillna(False)
    versioned = visits["visit_id"].duplicated(keep=False)
    return visits.loc[rec_ok & (in_window | versioned)]


def _flag_visits(candidates: pd.DataFrame, t: pd.Timestamp, cfg: ReviewConfig) -> pd.DataFrame:
    """The current versions of ``candidates`` that are reviewed at ``t``, with pattern flags."""
    lo = t - pd.Timedelta(days=cfg.window_days)
    versioned = candidates["visit_id"].duplicated().any()
    known = current_versions(candidates, TABLE_VISITS) if versioned else candidates
    keep = (
        known["review_status"].eq("approved")
        & (known["visited_at"] >= lo)
        & (known["visited_at"] < t)
        & known["officer_id"].notna()
    )
    v = known.loc[keep.fillna(False)].sort_values(["officer_id", "visited_at"], kind="stable")
    v = v.reset_index(drop=True)
    minutes = (v["visited_at"].astype("int64") // 60_000_000_000).to_numpy()
    code = pd.factorize(v["officer_id"])[0].astype(np.int64)
    key = code * 10**9 + (minutes - (minutes.min() if len(minutes) else 0))
    w = cfg.burst_minutes
    near = np.searchsorted(key, key + w, side="right") - np.searchsorted(key, key - w, side="left")
    persons = v["persons_met"].astype("Float64").fillna(0).to_numpy(dtype=float)
    has_dispute = v["has_dispute"].fillna(False).to_numpy(dtype=bool)
    hazards = v["risk_hazards"].fillna("").ne("").to_numpy(dtype=bool)
    content = pd.util.hash_pandas_object(
        v[["persons_met", "has_dispute", "dispute_type", "risk_hazards", "resolution_status"]],
        index=False,
    )
    offset = t.utcoffset()  # Asia/Shanghai: one offset, no daylight saving
    local = minutes + (0 if offset is None else int(offset.total_seconds()) // 60)
    day, hour = local // 1440, (local // 60) % 24
    same_day = np.r_[False, (code[1:] == code[:-1]) & (day[1:] == day[:-1])]
    delay = (v["recorded_at"] - v["visited_at"]).dt.total_seconds().to_numpy() / 3600.0
    start, end = cfg.odd_hours
    return v.assign(
        in_burst=near >= cfg.burst_visits,
        nobody_met=persons <= 0,
        found_dispute=has_dispute,
        found_hazard=hazards,
        identical=same_day & content.eq(content.shift()).to_numpy(dtype=bool),
        quick_entry=delay * 60.0 <= cfg.quick_entry_minutes,
        odd_hours=(hour >= start) | (hour < end),
        delay_hours=delay,
    )


def reviewed_visits(
    visits: pd.DataFrame, as_of: pd.Timestamp | str, config: ReviewConfig | None = None
) -> pd.DataFrame:
    """The approved visits in the review window, with per-visit pattern flags.

    Parameters
    ----------
    visits : DataFrame
        Canonical warehouse visits (``warehouse.store.read_visits``).
    as_of : Timestamp or str
        As-of date; naive values are local time (Asia/Shanghai).
    config : ReviewConfig or None
        Parameters (default :class:`ReviewConfig`).

    Returns
    -------
    DataFrame
        The visits kept (approved, known before ``as_of``, visited in the window, with an
        officer), plus boolean columns ``in_burst``, ``nobody_met``, ``found_dispute``,
        ``found_hazard``, ``identical``, ``quick_entry``, ``odd_hours`` and float
        ``delay_hours``.
    """
    cfg = (config or ReviewConfig()).validate()
    t = _as_of(as_of)
    lo = t - pd.Timedelta(days=cfg.window_days)
    return _flag_visits(_window_candidates(visits, t, lo), t, cfg)


#: Column of :func:`reviewed_visits` behind each share of :func:`officer_indicators`.
_SHARE_OF: Final[dict[str, str]] = {
    "burst_share": "in_burst",
    "nobody_met_share": "nobody_met",
    "dispute_rate": "found_dispute",
    "hazard_rate": "found_hazard",
    "identical_share": "identical",
    "quick_entry_share": "quick_entry",
    "odd_hours_share": "odd_hours",
}


def _most_frequent(officer: np.ndarray, n_officers: int, values: pd.Series) -> np.ndarray:
    """Per officer code, the most frequent non-missing value (the first in sort order on ties).

    Officers with no value get ``None``; an object array of length ``n_officers``.
    """
    codes, uniques = pd.factorize(values, sort=True)
    ok = codes >= 0
    width = max(len(uniques), 1)
    pair, count = np.unique(officer[ok] * width + codes[ok], return_counts=True)
    who, what = pair // width, pair % width
    order = np.lexsort((what, -count, who))  # per officer: most frequent, then first value
    first = order[np.r_[True, who[order][1:] != who[order][:-1]]] if len(order) else order
    out = np.full(n_officers, None, dtype=object)
    out[who[first]] = np.asarray(uniques, dtype=object)[what[first]]
    return out


def officer_indicators(flagged: pd.DataFrame) -> pd.DataFrame:
    """Per-officer indicators from :func:`reviewed_visits`.

    Parameters
    ----------
    flagged : DataFrame
        Output of :func:`reviewed_visits`.

    Returns
    -------
    DataFrame
        One row per officer, sorted by ``officer_id``: ``officer_id``, ``county``,
        ``township``, ``station`` (most frequent), ``n_visits`` (int64) and every indicator
        of :data:`INDICATORS` (float64; shares in [0, 1], delay in hours).
    """
    officer, officers = pd.factorize(flagged["officer_id"], sort=True)
    n = len(officers)
    n_visits = np.bincount(officer, minlength=n).astype(np.int64)
    data: dict[str, object] = {"officer_id": pd.array(np.asarray(officers), dtype="str")}
    for col in ("county", "township", "station"):
        data[col] = pd.array(_most_frequent(officer, n, flagged[col]), dtype="str")
    data["n_visits"] = n_visits
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, col in _SHARE_OF.items():
            hits = np.bincount(officer, weights=flagged[col].to_numpy(dtype=float), minlength=n)
            data[name] = hits / n_visits
    delay = flagged.groupby(officer, sort=True)["delay_hours"].median()
    data["recording_delay_hours"] = delay.reindex(range(n)).to_numpy(dtype=float)
    return pd.DataFrame(data)[
        ["officer_id", "county", "township", "station", "n_visits", *INDICATORS]
    ]


def _peer_medians(frame: pd.DataFrame, names: list[str], min_peers: int) -> pd.DataFrame:
    """Median of each indicator among each officer's peers (township, else county, else all)."""
    result = frame[names].median().to_numpy(dtype=float)[None, :].repeat(len(frame), axis=0)
    for level in ("county", "township"):  # finer levels overwrite where they have enough peers
        codes = pd.factorize(frame[level], use_na_sentinel=False)[0]
        big = np.bincount(codes)[codes] >= min_peers
        medians = frame[names].groupby(codes, sort=True).median().to_numpy(dtype=float)
        result[big] = medians[codes[big]]
    return pd.DataFrame(result, columns=names, index=frame.index)


def score_officers(
    visits: pd.DataFrame, as_of: pd.Timestamp | str, config: ReviewConfig | None = None
) -> pd.DataFrame:
    """Score every officer's visit records against peers: the review list.

    Parameters
    ----------
    visits : DataFrame
        Canonical warehouse visits.
    as_of : Timestamp or str
        As-of date (naive: local time, Asia/Shanghai).
    config : ReviewConfig or None
        Parameters (default :class:`ReviewConfig`).

    Returns
    -------
    DataFrame
        One row per officer with at least ``min_visits`` visits, sorted by ``score``
        descending: ``rank`` (1 = most anomalous), ``officer_id``, ``county``, ``township``,
        ``station``, ``n_visits``, ``score`` (float64, weighted mean of clipped robust
        z-scores, >= 0), ``review`` (bool: score >= threshold), ``drivers`` (str: the
        indicators with the largest contributions, ``;``-joined, "" when none), every
        indicator, and ``z_<indicator>`` (float64, signed so that positive is suspicious).
    """
    cfg = (config or ReviewConfig()).validate()
    return _score(reviewed_visits(visits, as_of, cfg), cfg)


def _score(flagged: pd.DataFrame, cfg: ReviewConfig, *, explain: bool = True) -> pd.DataFrame:
    """:func:`score_officers` from the output of :func:`reviewed_visits`.

    ``explain=False`` gives only ``officer_id``, ``score`` and ``review`` (all the
    suspect-visit rule needs), unsorted.
    """
    ind = officer_indicators(flagged)
    ind = ind[ind["n_visits"] >= cfg.min_visits].reset_index(drop=True)
    names = list(INDICATORS)
    total_w = sum(cfg.weights.get(k, 0.0) for k in INDICATORS)
    x = ind[names].to_numpy(dtype=float)
    peers = _peer_medians(ind, names, cfg.min_peers).to_numpy(dtype=float)
    direction = np.array([INDICATORS[k][0] for k in names], dtype=float)
    floor = np.array([INDICATORS[k][1] for k in names], dtype=float)
    weight = np.array([cfg.weights.get(k, 0.0) for k in names], dtype=float)
    with warnings.catch_warnings():  # an empty review or an all-missing column
        warnings.simplefilter("ignore", RuntimeWarning)
        mad = np.nanmedian(np.abs(x - np.nanmedian(x, axis=0)), axis=0)
    scale = np.maximum(1.4826 * np.nan_to_num(mad, nan=0.0), floor)
    z = direction * (x - peers) / scale
    contrib = weight * np.clip(z, 0.0, 10.0)
    for k, name in enumerate(names):
        ind[f"z_{name}"] = z[:, k]
    score = np.nansum(contrib, axis=1) / total_w
    if not explain:
        return pd.DataFrame(
            {"officer_id": ind["officer_id"], "score": score, "review": score >= cfg.threshold}
        )
    ind["score"] = score
    ind["review"] = ind["score"] >= cfg.threshold
    drivers = pd.Series("", index=ind.index, dtype="str")
    if len(ind):
        bar = 0.5 * total_w / len(INDICATORS)

        def top(row: pd.Series) -> str:  # pandas' order on ties, as the list always had
            return ";".join(row[row > bar].sort_values(ascending=False).index[:3])

        drivers = pd.DataFrame(contrib, columns=names, index=ind.index).apply(top, axis=1)
    ind["drivers"] = drivers
    ind = ind.sort_values(["score", "officer_id"], ascending=[False, True], kind="stable")
    ind.insert(0, "rank", np.arange(1, len(ind) + 1, dtype=np.int64))
    head = ["rank", "officer_id", "county", "township", "station", "n_visits", "score"]
    rest = ["review", "drivers", *INDICATORS, *(f"z_{k}" for k in INDICATORS)]
    return ind[head + rest].reset_index(drop=True)


def suspect_visit_ids(
    visits: pd.DataFrame,
    as_of: pd.Timestamp | str,
    config: ReviewConfig | None = None,
    review: pd.DataFrame | None = None,
) -> pd.Series:
    """Visits of officers on the review list that look like the pattern themselves.

    Parameters
    ----------
    visits : DataFrame
        Canonical warehouse visits.
    as_of : Timestamp or str
        As-of date (naive: local time).
    config : ReviewConfig or None
        Parameters (default :class:`ReviewConfig`).
    review : DataFrame or None
        Output of :func:`score_officers` for the same as-of (computed when None).

    Returns
    -------
    Series of str
        ``visit_id`` of the suspect visits in the window: officer on the review list,
        nothing found (no dispute, no hazard), and in a burst, typed within minutes or at
        an implausible hour.
    """
    cfg = (config or ReviewConfig()).validate()
    flagged = reviewed_visits(visits, as_of, cfg)
    review = _score(flagged, cfg, explain=False) if review is None else review
    return flagged.loc[_suspect_mask(flagged, review), "visit_id"].reset_index(drop=True)


def _suspect_mask(flagged: pd.DataFrame, review: pd.DataFrame) -> pd.Series:
    """Rows of :func:`reviewed_visits` that are suspect given the review list ``review``."""
    listed = set(review.loc[review["review"], "officer_id"])
    v = flagged
    pattern = v["in_burst"] | v["quick_entry"] | v["odd_hours"]
    return v["officer_id"].isin(listed) & ~v["found_dispute"] & ~v["found_hazard"] & pattern


#: The columns of the visits table the review reads.
REVIEW_COLUMNS: Final = (
    "visit_id", "officer_id", "county", "township", "station", "visited_at", "recorded_at",
    "review_status", "persons_met", "has_dispute", "dispute_type", "risk_hazards",
    "resolution_status",
)  # fmt: skip


class SuspectVisits:
    """The suspect visits of one visits table at any as-of date, for the feature job.

    The table is indexed once by ``visited_at``, so the review at each date reads
    only the window's rows (and the rows of records with several versions)
    rather than the whole table: the training frame asks at every weekly date.

    Parameters
    ----------
    visits : DataFrame of shape (n_visits, ...)
        Canonical warehouse visits; kept by reference, not copied (do not modify it).
    config : ReviewConfig or None
        Parameters of the review (default :class:`ReviewConfig`).

    Examples
    --------
    >>> finder = SuspectVisits(visits)                       # doctest: +SKIP
    >>> rows = finder.rows_at(pd.Timestamp("2025-03-03", tz="Asia/Shanghai"))  # doctest: +SKIP
    >>> FeatureJob(visits, incidents).rows_at(t, exclude_rows=rows)            # doctest: +SKIP
    """

    def __init__(self, visits: pd.DataFrame, config: ReviewConfig | None = None) -> None:
        self.config = (config or ReviewConfig()).validate()
        self._visits = visits[[c for c in REVIEW_COLUMNS if c in visits.columns]]  # no copy
        vis = pd.to_datetime(visits["visited_at"])
        if vis.dt.tz is None:
            vis = vis.dt.tz_localize(TIMEZONE)
        ns = vis.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view(np.int64)
        ns = np.where(vis.isna().to_numpy(), np.iinfo(np.int64).max, ns)  # never in a window
        self._order = np.argsort(ns, kind="stable")
        self._sorted_ns = ns[self._order]
        self._versioned = np.flatnonzero(visits["visit_id"].duplicated(keep=False).to_numpy())

    def _candidates(self, t: pd.Timestamp) -> pd.DataFrame:
        lo = t - pd.Timedelta(days=self.config.window_days)
        start, stop = np.searchsorted(self._sorted_ns, [lo.value, t.value], side="left")
        rows = np.union1d(self._order[start:stop], self._versioned)  # sorted: stored order
        part = self._visits.iloc[rows]
        part = part.assign(_row=rows)
        return part[part["recorded_at"].lt(t).fillna(False).to_numpy()]

    def at(self, as_of: pd.Timestamp | str) -> tuple[pd.DataFrame, np.ndarray]:
        """The review list at ``as_of`` and the positions of its suspect visits.

        Parameters
        ----------
        as_of : Timestamp or str
            As-of date (naive: local time, Asia/Shanghai).

        Returns
        -------
        review : DataFrame
            One row per officer scored: ``officer_id``, ``score`` and ``review`` (as
            :func:`score_officers`, without the indicators and unsorted).
        rows : ndarray of int64
            Ascending positions (0-based, ``iloc``) in ``visits`` of the current
            version of each suspect visit (:func:`suspect_visit_ids`).
        """
        t = _as_of(as_of)
        flagged = _flag_visits(self._candidates(t), t, self.config)
        review = _score(flagged, self.config, explain=False)
        rows = flagged.loc[_suspect_mask(flagged, review), "_row"].to_numpy(dtype=np.int64)
        return review, np.sort(rows)

    def rows_at(self, as_of: pd.Timestamp | str) -> np.ndarray:
        """Positions in ``visits`` of the suspect visits at ``as_of`` (see :meth:`at`)."""
        return self.at(as_of)[1]
