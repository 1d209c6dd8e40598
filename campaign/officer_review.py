"""Review list of officers whose visit records look perfunctory or made up.

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
recent visits are suspect are marked in lists, and features may treat those
visits as missing evidence (:func:`suspect_visit_ids`).
"""

from __future__ import annotations

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
    known = current_versions(visits[visits["recorded_at"].lt(t).fillna(False)], TABLE_VISITS)
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
    day = v["visited_at"].dt.normalize()
    same_day = v["officer_id"].eq(v["officer_id"].shift()) & day.eq(day.shift())
    delay = (v["recorded_at"] - v["visited_at"]).dt.total_seconds().to_numpy() / 3600.0
    hour = v["visited_at"].dt.hour
    start, end = cfg.odd_hours
    return v.assign(
        in_burst=near >= cfg.burst_visits,
        nobody_met=persons <= 0,
        found_dispute=has_dispute,
        found_hazard=hazards,
        identical=(same_day & content.eq(content.shift())).to_numpy(dtype=bool),
        quick_entry=delay * 60.0 <= cfg.quick_entry_minutes,
        odd_hours=((hour >= start) | (hour < end)).to_numpy(dtype=bool),
        delay_hours=delay,
    )


def _most_frequent(values: pd.Series) -> object:
    """The most frequent non-missing value (the first in sort order on ties), else None."""
    mode = values.mode()
    return mode.iloc[0] if len(mode) else None


def officer_indicators(flagged: pd.DataFrame) -> pd.DataFrame:
    """Per-officer indicators from :func:`reviewed_visits`.

    Parameters
    ----------
    flagged : DataFrame
        Output of :func:`reviewed_visits`.

    Returns
    -------
    DataFrame
        One row per officer: ``officer_id``, ``county``, ``township``, ``station`` (most
        frequent), ``n_visits`` (int64) and every indicator of :data:`INDICATORS` (float64;
        shares in [0, 1], delay in hours).
    """
    g = flagged.groupby("officer_id", sort=True)
    out = pd.DataFrame(
        {
            "n_visits": g.size().astype("int64"),
            "burst_share": g["in_burst"].mean(),
            "nobody_met_share": g["nobody_met"].mean(),
            "dispute_rate": g["found_dispute"].mean(),
            "hazard_rate": g["found_hazard"].mean(),
            "identical_share": g["identical"].mean(),
            "quick_entry_share": g["quick_entry"].mean(),
            "odd_hours_share": g["odd_hours"].mean(),
            "recording_delay_hours": g["delay_hours"].median(),
        }
    )
    for col in ("county", "township", "station"):
        out[col] = g[col].agg(_most_frequent)
    out = out.reset_index()
    cols = ["officer_id", "county", "township", "station", "n_visits", *INDICATORS]
    return out[cols].astype({c: "float64" for c in INDICATORS})


def _peer_medians(frame: pd.DataFrame, name: str, min_peers: int) -> pd.Series:
    """Median of indicator ``name`` among each officer's peers (township, else county, else all)."""
    overall = frame[name].median()
    result = pd.Series(overall, index=frame.index, dtype="float64")
    for level in ("county", "township"):  # finer levels overwrite where they have enough peers
        grp = frame.groupby(level, dropna=False)[name]
        big = grp.transform("size") >= min_peers
        result = result.where(~big, grp.transform("median"))
    return result


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
    ind = officer_indicators(reviewed_visits(visits, as_of, cfg))
    ind = ind[ind["n_visits"] >= cfg.min_visits].reset_index(drop=True)
    total_w = sum(cfg.weights.get(k, 0.0) for k in INDICATORS)
    contrib = pd.DataFrame(index=ind.index)
    for name, (direction, floor, _, _) in INDICATORS.items():
        x = ind[name]
        mad = float((x - x.median()).abs().median()) if len(x) else 0.0
        scale = max(1.4826 * mad, floor)
        z = direction * (x - _peer_medians(ind, name, cfg.min_peers)) / scale
        ind[f"z_{name}"] = z.astype("float64")
        contrib[name] = cfg.weights.get(name, 0.0) * z.clip(0.0, 10.0)
    ind["score"] = (contrib.sum(axis=1) / total_w).astype("float64") if len(ind) else 0.0
    ind["review"] = ind["score"] >= cfg.threshold

    def drivers(row: pd.Series) -> str:
        top = row[row > 0.5 * total_w / len(INDICATORS)].sort_values(ascending=False)
        return ";".join(top.index[:3])

    ind["drivers"] = contrib.apply(drivers, axis=1) if len(ind) else pd.Series(dtype="str")
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
    review = score_officers(visits, as_of, cfg) if review is None else review
    listed = set(review.loc[review["review"], "officer_id"])
    v = reviewed_visits(visits, as_of, cfg)
    pattern = v["in_burst"] | v["quick_entry"] | v["odd_hours"]
    mask = v["officer_id"].isin(listed) & ~v["found_dispute"] & ~v["found_hazard"] & pattern
    return v.loc[mask, "visit_id"].reset_index(drop=True)


def households_with_suspect_visits(visits: pd.DataFrame, suspect_ids: pd.Series) -> pd.DataFrame:
    """Households whose recent visits include suspect ones.

    Parameters
    ----------
    visits : DataFrame
        Canonical warehouse visits.
    suspect_ids : Series of str
        From :func:`suspect_visit_ids`.

    Returns
    -------
    DataFrame
        ``household_id`` (str), ``suspect_visits`` (int64), ``last_suspect_at``
        (datetime, Asia/Shanghai), one row per household with at least one.
    """
    v = visits[visits["visit_id"].isin(set(suspect_ids))]
    g = v.groupby("household_id")
    return pd.DataFrame(
        {"suspect_visits": g.size().astype("int64"), "last_suspect_at": g["visited_at"].max()}
    ).reset_index()


#: The note shown on a household whose recent visits are suspect.
SUSPECT_NOTE_EN: Final = "records of recent visits may be unreliable: verify in person"
SUSPECT_NOTE_ZH: Final = "近期走访记录可能不实，请实地核查"
