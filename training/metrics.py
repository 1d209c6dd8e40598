"""Evaluation metrics of ranked risk scores (bootstrap intervals: :mod:`training.bootstrap`).

Every metric here is computed from a label vector ``y`` (0/1, no missing
values: drop unlabelled rows first) and a score vector (larger = riskier). The
probability metrics (Brier score, expected calibration error) additionally need
the score to be a probability in [0, 1].

Top-k rules (capacity)
----------------------
Officers revisit a fixed number of households per week, so lists are judged by
precision@k and recall@k, where ``k`` is the number of rows selected:

* ``k`` as a ``float`` in (0, 1] is a share of the rows of the pool:
  ``ceil(k * n)`` rows are selected (at least one row of a non-empty pool).
* ``k`` as an ``int`` >= 1 is a count; a pool with fewer rows selects them all.
* Rows are ranked by score, descending; ties are broken by the tie-break
  column ascending when one is given (e.g. ``household_id``), then by row
  position (a stable sort). Results therefore never depend on row order except
  among rows with equal score and equal tie-break value.
* With an ``as_of`` column the pool is one as-of date: the top ``k`` is taken
  within each as-of date (capacity is per week) and precision and recall are
  averaged over as-of dates (unweighted; dates without a selected row are
  skipped for precision, dates without a positive row for recall).
* With a ``group`` column (e.g. township) the top ``k`` is taken within each
  group of each as-of date and the selections of all groups of a date are
  pooled before computing that date's precision and recall.

Bootstrap
---------
Intervals are percentile bootstrap intervals (Efron & Tibshirani 1993,
ch. 13): rows (or, with ``clusters``, whole households, so that the weekly rows
of one household stay together) are resampled with replacement ``n_boot``
times; each metric is recomputed on every resample, represented as integer
row weights so that the data are sorted once, and the interval is the
``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
resampled values. In :func:`evaluate` all models share the same resamples
(a paired bootstrap), so intervals of lift and oracle share are valid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Default capacities: the top 1 % and 5 % of households of each as-of date.
DEFAULT_KS: tuple[float | int, ...] = (0.01, 0.05)
#: Default per-group capacity: the top 20 households per township.
DEFAULT_GROUP_KS: tuple[int, ...] = (20,)
#: Number of equal-width bins of the expected calibration error.
DEFAULT_ECE_BINS = 10

KValue = float | int


class MetricInputError(ValueError):
    """Labels, scores or options given to a metric are not usable."""


class Interval(NamedTuple):
    """A point estimate with its bootstrap interval (same unit as the metric)."""

    value: float
    low: float
    high: float


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def _as_labels(y: Any) -> np.ndarray:
    """Return ``y`` as a float64 array of 0.0/1.0, refusing missing or other values."""
    try:
        arr = pd.Series(y, copy=False).astype("float64").to_numpy()
    except (TypeError, ValueError) as err:
        raise MetricInputError(f"labels must be 0/1 numbers, got {y!r:.200}") from err
    if arr.ndim != 1:
        raise MetricInputError(f"labels must be one-dimensional, got shape {arr.shape!r}")
    if np.isnan(arr).any():
        raise MetricInputError(
            f"labels must not be missing; got {int(np.isnan(arr).sum())} missing "
            "(drop rows whose horizon is not observed first)"
        )
    bad = (arr != 0.0) & (arr != 1.0)
    if bad.any():
        raise MetricInputError(f"labels must be 0 or 1, got {np.unique(arr[bad])[:5]!r}")
    return arr


def _as_scores(score: Any, n: int, *, probability: bool = False) -> np.ndarray:
    """Return ``score`` as a finite float64 array of length ``n``."""
    try:
        arr = pd.Series(score, copy=False).astype("float64").to_numpy()
    except (TypeError, ValueError) as err:
        raise MetricInputError(f"scores must be numbers, got {score!r:.200}") from err
    if arr.shape != (n,):
        raise MetricInputError(f"expected {n} scores (one per label), got shape {arr.shape!r}")
    if not np.isfinite(arr).all():
        raise MetricInputError(
            f"scores must be finite; got {int((~np.isfinite(arr)).sum())} missing or infinite"
        )
    if probability and n and (arr.min() < 0.0 or arr.max() > 1.0):
        raise MetricInputError(
            f"a probability in [0, 1] was expected, got range [{arr.min()!r}, {arr.max()!r}]"
        )
    return arr


def _check_k(k: Any) -> KValue:
    """Validate a capacity: a share in (0, 1] (float) or a count >= 1 (int)."""
    if isinstance(k, bool) or not isinstance(k, int | float | np.integer | np.floating):
        raise MetricInputError(f"k must be a share (float) or a count (int), got {k!r}")
    if isinstance(k, int | np.integer):
        if k < 1:
            raise MetricInputError(f"a count k must be >= 1, got {k!r}")
        return int(k)
    if not 0.0 < float(k) <= 1.0:
        raise MetricInputError(f"a share k must lie in (0, 1], got {k!r}")
    return float(k)


def k_label(k: KValue) -> str:
    """Return the metric-name suffix of a capacity: ``0.01 -> "1pct"``, ``20 -> "20"``."""
    k = _check_k(k)
    if isinstance(k, int):
        return str(k)
    pct = f"{k * 100:.4f}".rstrip("0").rstrip(".")
    return f"{pct}pct"


def _k_rows(k: KValue, pool_size: np.ndarray) -> np.ndarray:
    """Number of rows selected per pool of total weight ``pool_size`` (float64 array)."""
    if isinstance(k, int):
        return np.minimum(float(k), pool_size)
    # round first so that 0.01 * 300 (= 3.0000000000000004) selects 3 rows, not 4
    return np.minimum(np.ceil(np.round(k * pool_size, 9)), pool_size)


# ---------------------------------------------------------------------------
# Weighted kernels (weights = bootstrap multiplicities; all ones for the estimate)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pooled:
    """Rows sorted by score, ascending, with the blocks of equal score."""

    order: np.ndarray  # permutation: sorted position -> row
    y: np.ndarray  # labels in sorted order
    p: np.ndarray  # scores in sorted order
    starts: np.ndarray  # first sorted position of each block of equal score
    bins: np.ndarray | None  # ECE bin of each sorted row, None if not a probability
    n_bins: int

    @classmethod
    def build(cls, y: np.ndarray, score: np.ndarray, *, n_bins: int) -> _Pooled:
        order = np.argsort(score, kind="stable")
        p = score[order]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(p) != 0) + 1)) if p.size else p
        probability = p.size > 0 and p[0] >= 0.0 and p[-1] <= 1.0
        bins = None
        if probability:
            # Guo et al. (2017): bin m holds ((m - 1)/M, m/M]; a score of 0 goes to the first bin
            bins = np.clip(np.ceil(p * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
        return cls(order, y[order], p, starts.astype(np.int64), bins, n_bins)

    def metrics(self, w: np.ndarray | None) -> dict[str, float]:
        """ROC AUC, average precision, Brier score and ECE under row weights ``w``."""
        ws = np.ones_like(self.y) if w is None else w[self.order]
        wy = ws * self.y
        total = ws.sum()
        pos_b = np.add.reduceat(wy, self.starts) if self.starts.size else wy
        neg_b = np.add.reduceat(ws - wy, self.starts) if self.starts.size else wy
        n_pos, n_neg = pos_b.sum(), neg_b.sum()
        out = {"roc_auc": math.nan, "average_precision": math.nan}
        if n_pos > 0 and n_neg > 0:
            neg_below = np.cumsum(neg_b) - neg_b
            out["roc_auc"] = float((pos_b * (neg_below + 0.5 * neg_b)).sum() / (n_pos * n_neg))
        if n_pos > 0:
            pos_d, neg_d = pos_b[::-1], neg_b[::-1]
            tp, fp = np.cumsum(pos_d), np.cumsum(neg_d)
            seen = tp + fp
            precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
            out["average_precision"] = float((pos_d * precision).sum() / n_pos)
        out["brier"] = math.nan
        out["ece"] = math.nan
        if self.bins is not None and total > 0:
            out["brier"] = float((ws * (self.p - self.y) ** 2).sum() / total)
            conf = np.bincount(self.bins, ws * self.p, minlength=self.n_bins)
            acc = np.bincount(self.bins, wy, minlength=self.n_bins)
            out["ece"] = float(np.abs(acc - conf).sum() / total)
        return out


def _stable_order(seg: np.ndarray, score: np.ndarray, ties: np.ndarray | None) -> np.ndarray:
    """Rows sorted by segment, score descending, tie-break code, then position.

    The same permutation as ``np.lexsort([arange, ties, -score, seg])``, as three
    stable sorts from the least significant key up: the integer keys take a radix
    sort, so 12 M rows sort in about a third of lexsort's time.
    """
    order = np.argsort(ties, kind="stable") if ties is not None else np.arange(score.size)
    order = order[np.argsort(-score[order], kind="stable")]
    return order[np.argsort(seg[order], kind="stable")]


@dataclass(frozen=True)
class _Segmented:
    """Rows sorted by (segment, score descending, tie-break, position).

    A segment is one as-of date, or one group of one as-of date. Under bootstrap
    weights only the head of each segment can enter its top k, so a resample reads
    a prefix of each segment (``_Prefix``) and the segments' total and positive
    weights (bincounts in row order): about a tenth of the work of a pass over
    every sorted row. When a prefix holds less weight than the capacity (a
    resample that drops most of a segment's head; not seen in practice) that
    resample takes the full pass. Both give the same figures: weights are integer
    multiplicities, so the running sums are exact in float64.
    """

    order: np.ndarray  # sorted position -> row
    seg_start: np.ndarray  # first sorted position of each segment
    seg_date: np.ndarray  # as-of code of each segment
    n_dates: int
    row_seg: np.ndarray  # segment code of each row, in row order
    y_row: np.ndarray  # labels in row order (float64)
    _prefixes: dict[tuple[KValue, ...], _Prefix] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        y: np.ndarray,
        score: np.ndarray,
        date_codes: np.ndarray,
        group_codes: np.ndarray | None,
        tie_codes: np.ndarray | None,
        by_date: np.ndarray | None = None,
    ) -> _Segmented:
        # by_date: the order of the same rows segmented by date alone (another
        # _Segmented's); a stable integer sort of it by group is this order
        n_dates = int(date_codes.max()) + 1 if date_codes.size else 0
        if group_codes is None:
            seg_raw = date_codes
        else:
            seg_raw = date_codes * (int(group_codes.max()) + 1) + group_codes
        if by_date is None:
            order = _stable_order(seg_raw, score, tie_codes)
        else:
            order = by_date[np.argsort(seg_raw[by_date], kind="stable")]
        seg_sorted_raw = seg_raw[order]
        seg_start = np.concatenate(([0], np.flatnonzero(np.diff(seg_sorted_raw) != 0) + 1))
        seg_start = seg_start.astype(np.int64) if y.size else np.zeros(0, np.int64)
        seg = np.zeros(y.size, dtype=np.int64)
        if y.size:
            seg[seg_start[1:]] = 1
            seg = np.cumsum(seg)
        row_seg = np.empty(y.size, dtype=np.int64)
        row_seg[order] = seg
        seg_date = date_codes[order][seg_start] if y.size else np.zeros(0, np.int64)
        y_row = np.asarray(y, dtype=np.float64)
        return cls(order, seg_start, seg_date, n_dates, row_seg, y_row)

    def at_k(self, k: KValue, w: np.ndarray | None) -> tuple[float, float]:
        """Precision@k and recall@k (averaged over as-of dates) under row weights ``w``."""
        return self.at_ks([k], w)[0]

    def at_ks(self, ks: Sequence[KValue], w: np.ndarray | None) -> list[tuple[float, float]]:
        """:meth:`at_k` for several capacities, the weights' running sums computed once.

        Reads the segments' prefixes; the full pass only when a resample leaves a
        prefix short of the capacity.
        """
        if self.y_row.size == 0:
            return [(math.nan, math.nan) for _ in ks]
        out = self._at_ks_prefix(ks, np.ones(self.y_row.size) if w is None else w)
        return self._at_ks_full(ks, w) if out is None else out

    def _at_ks_full(self, ks: Sequence[KValue], w: np.ndarray | None) -> list[tuple[float, float]]:
        y = self.y_row[self.order]
        seg = self.row_seg[self.order]
        ws = np.ones_like(y) if w is None else w[self.order]
        cw = np.cumsum(ws)
        before_seg = np.concatenate(([0.0], cw[self.seg_start[1:] - 1]))
        pool = np.diff(np.concatenate((before_seg, [cw[-1]])))
        before_row = cw - ws - before_seg[seg]
        pos = np.bincount(seg, ws * y, minlength=self.seg_start.size)
        return [self._precision_recall(_k_rows(k, pool), seg, y, ws, before_row, pos) for k in ks]

    def _at_ks_prefix(
        self, ks: Sequence[KValue], w: np.ndarray
    ) -> list[tuple[float, float]] | None:
        prefix = self._prefixes.get(tuple(ks))
        if prefix is None:
            prefix = self._prefixes[tuple(ks)] = _Prefix.build(self, ks)
        n_seg = self.seg_start.size
        pool = np.bincount(self.row_seg, w, minlength=n_seg)
        pos = np.bincount(self.row_seg, w * self.y_row, minlength=n_seg)
        ws = w[prefix.rows]
        cw = np.cumsum(ws)
        before_seg = cw[prefix.start] - ws[prefix.start]
        held = cw[prefix.start + prefix.length - 1] - before_seg
        wanted = [_k_rows(k, pool) for k in ks]
        if not np.all(prefix.whole | (held >= np.maximum.reduce(wanted))):
            return None
        before_row = cw - ws - before_seg[prefix.seg]
        return [
            self._precision_recall(k_rows, prefix.seg, prefix.y, ws, before_row, pos)
            for k_rows in wanted
        ]

    def _precision_recall(
        self,
        k_rows: np.ndarray,
        seg: np.ndarray,
        y: np.ndarray,
        ws: np.ndarray,
        before_row: np.ndarray,
        pos: np.ndarray,
    ) -> tuple[float, float]:
        """Precision and recall of the top ``k_rows`` weight of each segment, averaged over dates."""
        n_seg = self.seg_start.size
        units = np.clip(k_rows[seg] - before_row, 0.0, ws)
        tp = np.bincount(seg, units * y, minlength=n_seg)
        sel = np.bincount(seg, units, minlength=n_seg)
        tp_d = np.bincount(self.seg_date, tp, minlength=self.n_dates)
        sel_d = np.bincount(self.seg_date, sel, minlength=self.n_dates)
        pos_d = np.bincount(self.seg_date, pos, minlength=self.n_dates)
        has_sel, has_pos = sel_d > 0, pos_d > 0
        precision = float((tp_d[has_sel] / sel_d[has_sel]).mean()) if has_sel.any() else math.nan
        recall = float((tp_d[has_pos] / pos_d[has_pos]).mean()) if has_pos.any() else math.nan
        return precision, recall


@dataclass(frozen=True)
class _Prefix:
    """The head of each segment of a :class:`_Segmented` that a resample's top k can reach.

    Each segment keeps ``min(n, ceil(1.25 K) + 32)`` sorted rows, ``K`` the largest
    capacity in rows of an unweighted segment of ``n`` rows: a resample's weights
    have mean 1, so its top k lies in the first ``K`` or so rows.
    """

    rows: np.ndarray  # row of each prefix position
    y: np.ndarray  # its label
    seg: np.ndarray  # its segment
    start: np.ndarray  # first prefix position of each segment
    length: np.ndarray  # prefix rows of each segment (>= 1)
    whole: np.ndarray  # the prefix is the whole segment

    @classmethod
    def build(cls, segmented: _Segmented, ks: Sequence[KValue]) -> _Prefix:
        bounds = np.append(segmented.seg_start, segmented.order.size)
        sizes = np.diff(bounds)
        need = np.maximum.reduce([_k_rows(k, sizes.astype(np.float64)) for k in ks])
        length = np.minimum(sizes, np.ceil(1.25 * need).astype(np.int64) + 32)
        start = np.cumsum(length) - length
        offset = np.arange(int(length.sum())) - np.repeat(start, length)
        rows = segmented.order[np.repeat(segmented.seg_start, length) + offset]
        seg = np.repeat(np.arange(sizes.size), length)
        return cls(rows, segmented.y_row[rows], seg, start, length, length == sizes)


# ---------------------------------------------------------------------------
# Plain metrics
# ---------------------------------------------------------------------------


def roc_auc(y: Any, score: Any) -> float:
    """Area under the ROC curve, ties counted one half (Mann-Whitney U / (P N)).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1, no missing values.
    score : array-like of shape (n,)
        Risk scores, larger = riskier (any finite real numbers).

    Returns
    -------
    float
        AUC in [0, 1]; ``nan`` when ``y`` has a single class.

    Raises
    ------
    MetricInputError
        Missing or non-binary labels, non-finite scores, length mismatch.
    """
    yy = _as_labels(y)
    return _Pooled.build(yy, _as_scores(score, yy.size), n_bins=1).metrics(None)["roc_auc"]


def average_precision(y: Any, score: Any) -> float:
    """Average precision: sum over score thresholds of (R_n - R_{n-1}) P_n.

    Same definition as ``sklearn.metrics.average_precision_score`` (no
    interpolation; rows of equal score enter together). Parameters and errors
    as :func:`roc_auc`; returns ``nan`` when there is no positive label.
    """
    yy = _as_labels(y)
    return _Pooled.build(yy, _as_scores(score, yy.size), n_bins=1).metrics(None)[
        "average_precision"
    ]


def brier(y: Any, prob: Any) -> float:
    """Brier score: mean squared difference between probability and outcome (Brier 1950).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1.
    prob : array-like of shape (n,)
        Predicted probabilities in [0, 1].

    Returns
    -------
    float
        In [0, 1], lower is better; ``nan`` for no rows.

    Raises
    ------
    MetricInputError
        As :func:`roc_auc`, or a probability outside [0, 1].
    """
    yy = _as_labels(y)
    pp = _as_scores(prob, yy.size, probability=True)
    return float(np.mean((pp - yy) ** 2)) if yy.size else math.nan


def expected_calibration_error(y: Any, prob: Any, *, n_bins: int = DEFAULT_ECE_BINS) -> float:
    """Expected calibration error over equal-width probability bins.

    ``ECE = sum_m |B_m| / n * |mean(y in B_m) - mean(prob in B_m)|`` with bins
    ``B_m = ((m - 1) / M, m / M]`` (a probability of 0 falls into the first),
    M = ``n_bins``; empty bins contribute nothing. Definition of Naeini, Cooper
    & Hauskrecht (2015, AAAI, "Obtaining well calibrated probabilities using
    Bayesian binning") in the notation of Guo et al. (2017, ICML, "On
    calibration of modern neural networks", eq. 3).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1.
    prob : array-like of shape (n,)
        Predicted probabilities in [0, 1].
    n_bins : int, default 10
        Number of equal-width bins M.

    Returns
    -------
    float
        In [0, 1] (a probability gap), lower is better; ``nan`` for no rows.

    Raises
    ------
    MetricInputError
        As :func:`brier`, or ``n_bins < 1``.
    """
    if n_bins < 1:
        raise MetricInputError(f"n_bins must be >= 1, got {n_bins!r}")
    yy = _as_labels(y)
    pp = _as_scores(prob, yy.size, probability=True)
    return _Pooled.build(yy, pp, n_bins=n_bins).metrics(None)["ece"]


def _ranking_inputs(
    y: Any, score: Any, as_of: Any, group: Any, tiebreak: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    yy = _as_labels(y)
    ss = _as_scores(score, yy.size)

    def codes(values: Any, what: str) -> np.ndarray:
        arr = pd.Series(values, copy=False)
        if len(arr) != yy.size:
            raise MetricInputError(f"expected {yy.size} {what} values, got {len(arr)}")
        if arr.isna().any():
            raise MetricInputError(f"{what} must not be missing; got {int(arr.isna().sum())}")
        return pd.factorize(arr, sort=True)[0].astype(np.int64)

    dates = np.zeros(yy.size, np.int64) if as_of is None else codes(as_of, "as_of")
    groups = None if group is None else codes(group, "group")
    ties = None if tiebreak is None else codes(tiebreak, "tie-break")
    return yy, ss, dates, groups, ties


def precision_at_k(
    y: Any,
    score: Any,
    k: KValue,
    *,
    as_of: Any = None,
    group: Any = None,
    tiebreak: Any = None,
) -> float:
    """Share of positives among the top ``k`` rows by score (see the module's top-k rules).

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1.
    score : array-like of shape (n,)
        Risk scores, larger = riskier.
    k : float in (0, 1] or int >= 1
        Capacity: share of the rows of each pool, or a count of rows per pool.
    as_of : array-like of shape (n,), optional
        As-of date of each row; the top ``k`` is taken per date and the result
        averaged over dates.
    group : array-like of shape (n,), optional
        Group (e.g. township) of each row; the top ``k`` is taken per group
        within each date and pooled.
    tiebreak : array-like of shape (n,), optional
        Ties of score are broken by this value ascending, then by position.

    Returns
    -------
    float
        Precision in [0, 1].

    Raises
    ------
    MetricInputError
        Bad labels, scores, ``k``, or missing keys.
    """
    k = _check_k(k)
    yy, ss, d, g, t = _ranking_inputs(y, score, as_of, group, tiebreak)
    return _Segmented.build(yy, ss, d, g, t).at_k(k, None)[0]


def recall_at_k(
    y: Any,
    score: Any,
    k: KValue,
    *,
    as_of: Any = None,
    group: Any = None,
    tiebreak: Any = None,
) -> float:
    """Share of all positives found in the top ``k`` rows by score.

    Parameters, rules and errors as :func:`precision_at_k`; ``nan`` when no
    pool holds a positive.
    """
    k = _check_k(k)
    yy, ss, d, g, t = _ranking_inputs(y, score, as_of, group, tiebreak)
    return _Segmented.build(yy, ss, d, g, t).at_k(k, None)[1]


def lift(value: float, baseline_value: float) -> float:
    """Ratio of a metric to the baseline's value of it (1.0 = no better); ``nan`` if baseline is 0."""
    return float(value / baseline_value) if baseline_value else math.nan


def oracle_share(value: float, oracle_value: float) -> float:
    """Share of the oracle's value achieved, ``value / oracle_value``; ``nan`` if the oracle's is 0."""
    return lift(value, oracle_value)


# ---------------------------------------------------------------------------
# Ranking evaluation of one score column
# ---------------------------------------------------------------------------


def _metric_names(
    ks: Sequence[KValue], group_ks: Sequence[KValue], group_col: str | None
) -> list[str]:
    names = []
    for k in ks:
        names += [f"precision_at_{k_label(k)}", f"recall_at_{k_label(k)}"]
    if group_col is not None:
        for k in group_ks:
            suffix = f"{k_label(k)}_per_{group_col}"
            names += [f"precision_at_{suffix}", f"recall_at_{suffix}"]
    return names


class _Evaluator:
    """All metrics of one score column, for any vector of row weights."""

    def __init__(
        self,
        y: np.ndarray,
        score: np.ndarray,
        dates: np.ndarray,
        groups: np.ndarray | None,
        ties: np.ndarray | None,
        *,
        ks: Sequence[KValue],
        group_ks: Sequence[KValue],
        group_col: str | None,
        probability: bool,
        n_bins: int,
        capacity_only: bool = False,
    ) -> None:
        # capacity_only: precision and recall at the capacities only (no AUC, AP, Brier,
        # ECE), for bootstraps whose callers read nothing else (about a third of each
        # resample's cost)
        self.pooled: _Pooled | None = None
        if not capacity_only:
            self.pooled = _Pooled.build(y, score, n_bins=n_bins)
            if not probability:
                self.pooled = _Pooled(
                    self.pooled.order,
                    self.pooled.y,
                    self.pooled.p,
                    self.pooled.starts,
                    None,
                    n_bins,
                )
        self.overall = _Segmented.build(y, score, dates, None, ties)
        self.by_group = (
            _Segmented.build(y, score, dates, groups, ties, by_date=self.overall.order)
            if groups is not None
            else None
        )
        self.ks = list(ks)
        self.group_ks = list(group_ks) if groups is not None else []
        self.group_col = group_col

    def __call__(self, w: np.ndarray | None) -> dict[str, float]:
        out = self.pooled.metrics(w) if self.pooled is not None else {}
        for k, pr in zip(self.ks, self.overall.at_ks(self.ks, w), strict=True):
            out[f"precision_at_{k_label(k)}"], out[f"recall_at_{k_label(k)}"] = pr
        if self.by_group is not None:
            for k, pr in zip(self.group_ks, self.by_group.at_ks(self.group_ks, w), strict=True):
                suffix = f"{k_label(k)}_per_{self.group_col}"
                out[f"precision_at_{suffix}"], out[f"recall_at_{suffix}"] = pr
        return out


def _column(frame: pd.DataFrame, col: str | None, what: str) -> Any:
    if col is None:
        return None
    if col not in frame.columns:
        raise MetricInputError(
            f"{what} column {col!r} not in the frame; columns are {list(frame.columns)!r:.300}"
        )
    return frame[col]


def _looks_like_probability(score: np.ndarray) -> bool:
    """Whether scores can be read as probabilities (all in [0, 1]): Brier and ECE apply."""
    return bool(score.size) and bool(score.min() >= 0.0) and bool(score.max() <= 1.0)


def evaluate_ranking(
    frame: pd.DataFrame,
    score_col: str,
    label_col: str,
    *,
    as_of_col: str | None = None,
    group_col: str | None = None,
    ks: Sequence[KValue] = DEFAULT_KS,
    group_ks: Sequence[KValue] = DEFAULT_GROUP_KS,
    tiebreak_col: str | None = None,
    n_bins: int = DEFAULT_ECE_BINS,
) -> dict[str, float]:
    """Point estimates of every metric of one score column.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, ...)
        One row per (household, as-of date); labels must not be missing.
    score_col, label_col : str
        Score (larger = riskier) and 0/1 label columns.
    as_of_col : str, optional
        As-of date column: top-k is taken per date and averaged over dates.
    group_col : str, optional
        Group column (e.g. ``"township"``) for the per-group capacities.
    ks : sequence of float or int, default (0.01, 0.05)
        Capacities over each whole as-of date (share or count).
    group_ks : sequence of float or int, default (20,)
        Capacities per group, used only with ``group_col``.
    tiebreak_col : str, optional
        Ties of score are broken by this column ascending, then by position.
    n_bins : int, default 10
        Bins of the expected calibration error.

    Returns
    -------
    dict of str to float
        ``roc_auc``, ``average_precision``, ``brier`` and ``ece`` (``nan``
        unless every score lies in [0, 1]), ``precision_at_{k}`` and
        ``recall_at_{k}`` for each ``k`` (``1pct``, ``20``...), and
        ``precision_at_{k}_per_{group_col}``, ``recall_at_{k}_per_{group_col}``.

    Raises
    ------
    MetricInputError
        Missing columns, missing labels or keys, non-finite scores, bad ``k``.
    """
    ks = [_check_k(k) for k in ks]
    group_ks = [_check_k(k) for k in group_ks]
    yy, ss, d, g, t = _ranking_inputs(
        _column(frame, label_col, "label"),
        _column(frame, score_col, "score"),
        _column(frame, as_of_col, "as-of"),
        _column(frame, group_col, "group"),
        _column(frame, tiebreak_col, "tie-break"),
    )
    probability = _looks_like_probability(ss)
    ev = _Evaluator(
        yy,
        ss,
        d,
        g,
        t,
        ks=ks,
        group_ks=group_ks,
        group_col=group_col,
        probability=probability,
        n_bins=n_bins,
    )
    return ev(None)
