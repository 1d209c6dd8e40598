"""Bootstrap intervals and the evaluation table of several models on the same rows.

Split from :mod:`training.metrics`, which holds the metric definitions (precision@k,
recall@k, ROC AUC, average precision, Brier, ECE) and the top-k rules these
functions resample: households are resampled as clusters (a household's
weeks go in or out together), and every model is evaluated on the same draws
so that differences and lifts are paired.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.metrics import (
    DEFAULT_ECE_BINS,
    DEFAULT_GROUP_KS,
    DEFAULT_KS,
    Interval,
    KValue,
    MetricInputError,
    _as_labels,
    _as_scores,
    _check_k,
    _column,
    _Evaluator,
    _looks_like_probability,
    _metric_names,
    _Pooled,
    _ranking_inputs,
    average_precision,
    brier,
    expected_calibration_error,
    lift,
    roc_auc,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------


def _resample_weights(
    rng: np.random.Generator, n_rows: int, cluster_codes: np.ndarray | None, n_clusters: int
) -> np.ndarray:
    """Integer multiplicities (as float64) of one bootstrap resample of rows or clusters."""
    if cluster_codes is None:
        return np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows).astype(np.float64)
    counts = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
    return counts[cluster_codes].astype(np.float64)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(finite, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _check_boot(n_boot: int, confidence: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise MetricInputError(f"n_boot must be an int >= 0, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise MetricInputError(f"confidence must lie in (0, 1), got {confidence!r}")


_NAMED = {
    "roc_auc": roc_auc,
    "average_precision": average_precision,
    "brier": brier,
    "ece": expected_calibration_error,
}


def bootstrap_ci(
    metric: str | Callable[[np.ndarray, np.ndarray], float],
    y: Any,
    score: Any,
    *,
    n_boot: int = 200,
    confidence: float = 0.95,
    clusters: Any = None,
    random_state: int | np.random.Generator | None = None,
) -> Interval:
    """Percentile bootstrap interval of a metric (see the module notes).

    Parameters
    ----------
    metric : str or callable
        ``"roc_auc"``, ``"average_precision"``, ``"brier"``, ``"ece"`` (fast,
        vectorised path: data sorted once), or any ``f(y, score) -> float``
        (called on each resample: slower).
    y : array-like of shape (n,)
        Labels, 0 or 1.
    score : array-like of shape (n,)
        Scores (probabilities for ``brier``/``ece``).
    n_boot : int, default 200
        Number of resamples; 0 gives ``nan`` bounds.
    confidence : float, default 0.95
        Coverage of the interval.
    clusters : array-like of shape (n,), optional
        Cluster (household) of each row: whole clusters are resampled.
    random_state : int, Generator or None
        Seed of the resampling; same data and seed give the same interval.

    Returns
    -------
    Interval
        ``(value, low, high)``: the estimate on all rows and the interval bounds.

    Raises
    ------
    MetricInputError
        Unknown metric name, bad inputs or options.
    """
    _check_boot(n_boot, confidence)
    yy = _as_labels(y)
    ss = _as_scores(score, yy.size)
    rng = np.random.default_rng(random_state)
    codes, n_clusters = None, 0
    if clusters is not None:
        codes = pd.factorize(pd.Series(clusters, copy=False))[0].astype(np.int64)
        if codes.size != yy.size or (codes < 0).any():
            raise MetricInputError("clusters must give one non-missing value per label")
        n_clusters = int(codes.max()) + 1 if codes.size else 0
    if isinstance(metric, str):
        if metric not in _NAMED:
            raise MetricInputError(f"metric must be one of {sorted(_NAMED)!r}, got {metric!r}")
        value = _NAMED[metric](yy, ss)
        pooled = _Pooled.build(yy, ss, n_bins=DEFAULT_ECE_BINS)
        boots = np.array(
            [
                pooled.metrics(_resample_weights(rng, yy.size, codes, n_clusters))[metric]
                for _ in range(n_boot)
            ]
        )
    else:
        value = float(metric(yy, ss))
        boots = np.empty(n_boot)
        for b in range(n_boot):
            w = _resample_weights(rng, yy.size, codes, n_clusters).astype(np.int64)
            idx = np.repeat(np.arange(yy.size), w)
            boots[b] = float(metric(yy[idx], ss[idx]))
    low, high = _percentiles(boots, confidence)
    return Interval(value, low, high)


# ---------------------------------------------------------------------------
# Evaluation of several models on the same rows
# ---------------------------------------------------------------------------


def _cluster_codes(frame: pd.DataFrame, cluster_col: str | None) -> tuple[np.ndarray | None, int]:
    """Integer code of each row's cluster (household) and the number of clusters."""
    if cluster_col is None:
        return None, 0
    codes = pd.factorize(_column(frame, cluster_col, "cluster"))[0].astype(np.int64)
    if (codes < 0).any():
        raise MetricInputError(f"cluster column {cluster_col!r} must not be missing")
    return codes, int(codes.max()) + 1 if len(frame) else 0


def _coded_once(
    y: Any, dates: Any, groups: Any, ties: Any
) -> Callable[[Any], tuple[np.ndarray, np.ndarray, np.ndarray, Any, Any]]:
    """:func:`training.metrics._ranking_inputs` of each score, the other columns coded once.

    Coding the household tie-break sorts every id (12 M test rows: about 3 s), so
    the codes of the first score's call serve every later one.
    """
    done: list[tuple[np.ndarray, np.ndarray, np.ndarray, Any, Any]] = []

    def inputs(score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any, Any]:
        if not done:
            done.append(_ranking_inputs(y, score, dates, groups, ties))
            return done[0]
        yy, _, d, g, t = done[0]
        return yy, _as_scores(score, yy.size), d, g, t

    return inputs


def _paired_setup(
    frame: pd.DataFrame,
    label_col: str,
    as_of_col: str | None,
    group_col: str | None,
    tiebreak_col: str | None,
    cluster_col: str | None,
    random_state: int | np.random.Generator | None,
) -> tuple[Any, np.ndarray | None, int, np.random.Generator, Mapping[str, Any]]:
    """What :func:`evaluate` and :func:`bootstrap_draws` share: inputs, clusters, generator.

    Returns the per-score input function (:func:`_coded_once`), the cluster codes and
    count, the generator and its starting state (every model's resamples start there).
    """
    codes_of = _coded_once(
        _column(frame, label_col, "label"),
        _column(frame, as_of_col, "as-of"),
        _column(frame, group_col, "group"),
        _column(frame, tiebreak_col, "tie-break"),
    )
    codes, n_clusters = _cluster_codes(frame, cluster_col)
    rng = np.random.default_rng(random_state)
    return codes_of, codes, n_clusters, rng, rng.bit_generator.state


def _ratio(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """:func:`training.metrics.lift` of paired draws, element by element (``nan`` where 0)."""
    out = np.full(values.shape, math.nan)
    nonzero = (reference != 0) & ~np.isnan(reference)
    np.divide(values, reference, out=out, where=nonzero)
    return out


def _paired_draws(
    names: Mapping[str, str],
    evaluator: Callable[[str], _Evaluator],
    rng: np.random.Generator,
    start: Mapping[str, Any],
    n_boot: int,
    n_rows: int,
    codes: np.ndarray | None,
    n_clusters: int,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, np.ndarray]]]:
    """Every model's estimate and its metrics on the same ``n_boot`` resamples.

    One model's sorted arrays are held at a time (on 12 M test rows about 1 GB
    each): the generator is set back to ``start`` before each model, so every
    model sees the same resamples, in the same order, as when all were held
    together.
    """
    point: dict[str, dict[str, float]] = {}
    draws: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        ev = evaluator(name)
        point[name] = ev(None)
        rng.bit_generator.state = start
        collected: dict[str, list[float]] = {m: [] for m in point[name]}
        for b in range(n_boot):
            for m, v in ev(_resample_weights(rng, n_rows, codes, n_clusters)).items():
                collected[m].append(v)
            if (b + 1) % 50 == 0:
                logger.debug("%s: bootstrap %d/%d done", name, b + 1, n_boot)
        draws[name] = {m: np.asarray(v, dtype=np.float64) for m, v in collected.items()}
        del ev
    return point, draws


def evaluate(
    frame: pd.DataFrame,
    score_cols: Mapping[str, str],
    label_col: str,
    *,
    as_of_col: str | None = None,
    group_col: str | None = None,
    cluster_col: str | None = None,
    tiebreak_col: str | None = None,
    ks: Sequence[KValue] = DEFAULT_KS,
    group_ks: Sequence[KValue] = DEFAULT_GROUP_KS,
    baseline: str | None = None,
    oracle: str | None = None,
    probability_models: Sequence[str] | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    n_bins: int = DEFAULT_ECE_BINS,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Every metric of every model on the same rows, with paired bootstrap intervals.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, ...)
        Test rows: one per (household, as-of date), labels not missing.
    score_cols : mapping of str to str
        Model name -> score column (larger = riskier), e.g.
        ``{"lightgbm": "score", "hand_rule": "rule_score", "oracle": "oracle_prob"}``.
    label_col : str
        0/1 label column.
    as_of_col, group_col, tiebreak_col, ks, group_ks, n_bins
        As :func:`evaluate_ranking`.
    cluster_col : str, optional
        Household column: the bootstrap resamples households (all their rows
        together) rather than rows. Recommended with weekly frames.
    baseline : str, optional
        Model name whose precision@k the others' is divided by
        (``lift_precision_at_<k>`` rows).
    oracle : str, optional
        Model name of the oracle: ``oracle_share_precision_at_<k>`` rows give
        the share of the oracle's precision@k each model achieves.
    probability_models : sequence of str, optional
        Models whose score is a probability (Brier and ECE computed); default:
        those whose scores all lie in [0, 1]. Other models get ``nan`` there.
    n_boot : int, default 200
        Bootstrap resamples, shared by all models (paired); 0 = no intervals.
    confidence : float, default 0.95
        Interval coverage.
    random_state : int, Generator or None, default 0
        Seed of the resampling.

    Returns
    -------
    DataFrame
        Long format, one row per (model, metric), columns ``model`` (str),
        ``metric`` (str), ``value``, ``ci_low``, ``ci_high`` (float64; unit of
        the metric, probabilities or ratios) and ``n_rows`` (int64).

    Raises
    ------
    MetricInputError
        Missing columns, unknown baseline/oracle names, bad inputs.
    """
    _check_boot(n_boot, confidence)
    if not score_cols:
        raise MetricInputError("score_cols must name at least one model, got an empty mapping")
    for role, name in (("baseline", baseline), ("oracle", oracle)):
        if name is not None and name not in score_cols:
            raise MetricInputError(f"{role} {name!r} is not a model of {list(score_cols)!r}")
    ks = [_check_k(k) for k in ks]
    group_ks = [_check_k(k) for k in group_ks]
    codes_of, codes, n_clusters, rng, start = _paired_setup(
        frame, label_col, as_of_col, group_col, tiebreak_col, cluster_col, random_state
    )

    def evaluator(name: str) -> _Evaluator:
        yy, ss, d, g, t = codes_of(_column(frame, score_cols[name], "score"))
        if probability_models is None:
            probability = _looks_like_probability(ss)
        else:
            probability = name in probability_models
            if probability:
                _as_scores(ss, ss.size, probability=True)
        return _Evaluator(
            yy, ss, d, g, t, ks=ks, group_ks=group_ks, group_col=group_col,
            probability=probability, n_bins=n_bins,
        )  # fmt: skip

    point, draws = _paired_draws(
        score_cols, evaluator, rng, start, n_boot, len(frame), codes, n_clusters
    )
    n_rows = len(frame)
    ratio_metrics = [m for m in _metric_names(ks, group_ks, group_col) if m.startswith("precision")]
    for ref, prefix in ((baseline, "lift"), (oracle, "oracle_share")):
        if ref is None:
            continue
        for name in score_cols:
            for m in ratio_metrics:
                point[name][f"{prefix}_{m}"] = lift(point[name][m], point[ref][m])
                draws[name][f"{prefix}_{m}"] = _ratio(draws[name][m], draws[ref][m])
    boots = {(name, m): draws[name][m] for name, values in point.items() for m in values}
    rows = []
    for name, values in point.items():
        for m, v in values.items():
            low, high = _percentiles(boots[(name, m)], confidence)
            rows.append((name, m, v, low, high, n_rows))
    out = pd.DataFrame(rows, columns=["model", "metric", "value", "ci_low", "ci_high", "n_rows"])
    return out.astype({"model": "str", "metric": "str", "n_rows": "int64"})


def bootstrap_draws(
    frame: pd.DataFrame,
    score_cols: Mapping[str, str],
    label_col: str,
    *,
    as_of_col: str | None = None,
    group_col: str | None = None,
    cluster_col: str | None = None,
    tiebreak_col: str | None = None,
    ks: Sequence[KValue] = DEFAULT_KS,
    group_ks: Sequence[KValue] = DEFAULT_GROUP_KS,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = 0,
    capacity_only: bool = False,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, np.ndarray]]]:
    """Point estimates and the paired bootstrap draws of every ranking metric of every model.

    The raw material of paired comparisons whose reference is chosen after the
    fact (the strongest officer rule at each capacity, in ``training.evidence``):
    every model is evaluated on the same resamples (the same households drawn,
    as in :func:`evaluate`), so a ratio or difference of two models' draws is a
    paired draw.

    Parameters
    ----------
    frame, score_cols, label_col, as_of_col, group_col, cluster_col, tiebreak_col, ks, group_ks
        As :func:`evaluate`.
    n_boot : int, default 200
        Resamples; 0 gives empty draws.
    random_state : int, Generator or None, default 0
        Seed of the resampling (same seed and data, same draws).
    capacity_only : bool, default False
        Only precision@k and recall@k (no ROC AUC, average precision, Brier or
        ECE): about a third less work per resample (measured: 1.2 M rows, 8
        scorers).

    Returns
    -------
    point : dict of str to dict of str to float
        Model -> metric -> estimate on all rows.
    draws : dict of str to dict of str to ndarray of float64, shape (n_boot,)
        Model -> metric -> the metric on each resample (``nan`` where undefined).

    Raises
    ------
    MetricInputError
        Missing columns, bad inputs or options.
    """
    _check_boot(n_boot, 0.95)
    if not score_cols:
        raise MetricInputError("score_cols must name at least one model, got an empty mapping")
    ks = [_check_k(k) for k in ks]
    group_ks = [_check_k(k) for k in group_ks]
    codes_of, codes, n_clusters, rng, start = _paired_setup(
        frame, label_col, as_of_col, group_col, tiebreak_col, cluster_col, random_state
    )

    def evaluator(name: str) -> _Evaluator:
        yy, ss, d, g, t = codes_of(_column(frame, score_cols[name], "score"))
        return _Evaluator(
            yy, ss, d, g, t, ks=ks, group_ks=group_ks, group_col=group_col,
            probability=False, n_bins=DEFAULT_ECE_BINS, capacity_only=capacity_only,
        )  # fmt: skip

    point, draws = _paired_draws(
        score_cols, evaluator, rng, start, n_boot, len(frame), codes, n_clusters
    )
    return point, draws
