"""Probability calibration of the booster's raw scores (isotonic or Platt's sigmoid).

Split from :mod:`models.risk_model` (which re-exports these names); the choice
between the methods, the tie-break within isotonic steps and the pooling of the
top step are documented there, under "Calibration" and "Ties".
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from models.errors import FeatureFrameError

logger = logging.getLogger(__name__)

#: Weight of the booster's own probability blended into isotonic output so that
#: the ranking is strict within an isotonic step (probability units; see "Ties").
ISOTONIC_TIE_BREAK = 1e-9

#: Fewest positive validation rows the top step of an isotonic map must hold (issue #13):
#: a top step fitted on a handful of rows would read as a near-certain escalation.
MIN_TOP_STEP_POSITIVES = 20


class ScoreCalibrator:
    """Monotone map from the booster's raw log-odds to a calibrated probability.

    Parameters
    ----------
    method : {"isotonic", "sigmoid", "none"}
        Isotonic regression (clipped to [0, 1] and out-of-range inputs, with
        ties inside a step broken by the raw score: see "Ties" in the module
        docstring), Platt's sigmoid (logistic regression on the raw log-odds),
        or the booster's own probability (``1 / (1 + exp(-raw))``).
    min_top_positives : int
        Isotonic only: the top steps are merged (pooled, as the pool-adjacent
        violators algorithm pools) until the top step holds at least this many
        positive validation rows, so that no step reads higher than the
        evidence allows (a top step of 3 rows, all positive, would read 100 %).

    Notes
    -----
    The fitted state is plain arrays and floats (for serialisation without
    pickling): ``x_``, ``y_`` (isotonic knots, raw log-odds and probabilities;
    prediction interpolates linearly between knots and clips outside, as
    scikit-learn's ``IsotonicRegression`` does), ``coef_``, ``intercept_``
    (sigmoid), and ``max_prob_``: the highest probability the map gives any
    validation row. Predictions never exceed ``max_prob_`` (plus the 1e-9 tie
    break): a served score stays within what validation saw.
    """

    def __init__(self, method: str, min_top_positives: int = MIN_TOP_STEP_POSITIVES) -> None:
        self.method = method
        self.min_top_positives = min_top_positives

    def fit(
        self, raw: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> ScoreCalibrator:
        """Fit on raw scores (log-odds, shape (n,)) and binary labels (shape (n,)).

        ``sample_weight`` (shape (n,), optional) weighs rows, e.g. ``1 / share``
        for negatives kept by case-control sampling, so the map sees the
        population's base rate.
        """
        raw = np.asarray(raw, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(raw, y, sample_weight=sample_weight)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = _merge_top_steps(
                self.x_, np.asarray(iso.y_thresholds_, dtype=np.float64), raw, y,
                int(self.min_top_positives), sample_weight,
            )  # fmt: skip
        elif self.method == "sigmoid":
            # Large C: (almost) unpenalised two-parameter Platt fit.
            platt = LogisticRegression(C=1e6, max_iter=1000)
            platt.fit(raw.reshape(-1, 1), y.astype(int), sample_weight=sample_weight)
            self.coef_ = float(platt.coef_[0, 0])
            self.intercept_ = float(platt.intercept_[0])
        elif self.method != "none":
            raise FeatureFrameError(f"unknown calibration method {self.method!r}")
        self.max_prob_ = 1.0
        self.max_prob_ = float(self._map(raw).max()) if raw.size else 1.0
        return self

    def _map(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.interp(raw, self.x_, self.y_)
        if self.method == "sigmoid":
            return np.asarray(expit(self.coef_ * raw + self.intercept_), dtype=np.float64)
        return np.asarray(expit(raw), dtype=np.float64)

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability, float64 of shape (n,), from raw log-odds of shape (n,)."""
        raw = np.asarray(raw, dtype=np.float64)
        prob = np.minimum(self._map(raw), self.max_prob_)
        # Blend in the booster's own probability so that the order is strict within an
        # isotonic step and above the cap (see "Ties"): at most 1e-9 off the map.
        prob = (1.0 - ISOTONIC_TIE_BREAK) * prob + ISOTONIC_TIE_BREAK * expit(raw)
        return np.clip(prob, 0.0, 1.0)

    def __repr__(self) -> str:
        return f"ScoreCalibrator(method={self.method!r})"


def _merge_top_steps(
    x: np.ndarray,
    y_knots: np.ndarray,
    raw: np.ndarray,
    y: np.ndarray,
    min_positives: int,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Pool the isotonic map's top steps until the top step holds ``min_positives`` positives.

    Parameters
    ----------
    x, y_knots : ndarray of float64, shape (k,)
        Knots of the fitted isotonic map (raw log-odds, ascending; probabilities).
    raw, y : ndarray of float64, shape (n,)
        The validation rows it was fitted on.
    min_positives : int
        Fewest positive rows of the top step (rows, not weights: the evidence
        is the number of positives seen; case-control sampling keeps them all).
        With ``sample_weight`` the top step must also hold a negative row.
    sample_weight : ndarray of float64, shape (n,), optional
        Row weights the map was fitted with (``1 / share`` for sampled
        negatives); the pooled rate is the weighted rate of the pooled rows.

    Returns
    -------
    ndarray of float64, shape (k,)
        Knot probabilities: every knot from the first one whose rows (raw at or
        above it) hold ``min_positives`` positives carries the pooled rate of
        those rows. Pooling blocks of a monotone fit keeps it monotone (the
        pooled rate lies between the pooled blocks' values, all above the block
        below).
    """
    out = y_knots.copy()
    if x.size == 0 or min_positives <= 0:
        return out
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    # the top step's first knot: where the final constant value starts
    levels = np.flatnonzero(np.r_[True, np.diff(out) != 0])
    for start in levels[::-1]:
        rows = raw >= x[start]
        # weighted (case-control sample): a step with no negative row reads 100 % by the
        # luck of the draw (each kept negative stands for 1 / share), so it needs one
        enough = y[rows].sum() >= min_positives and (sample_weight is None or (y[rows] == 0).any())
        if enough or start == 0:
            if rows.any() and w[rows].sum() > 0:
                out[start:] = float(np.average(y[rows], weights=w[rows]))
            break
    return out


def _brier(prob: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> float:
    return float(np.average((prob - y) ** 2, weights=weight))


def choose_calibration(
    raw: np.ndarray, y: np.ndarray, random_state: int, sample_weight: np.ndarray | None = None
) -> tuple[str, dict[str, float]]:
    """Choose isotonic or sigmoid by cross-validated Brier score within the given rows.

    Parameters
    ----------
    raw : ndarray of shape (n,)
        Raw booster scores (log-odds) of the validation rows.
    y : ndarray of shape (n,)
        Binary labels of the same rows.
    random_state : int
        Seed of the fold shuffling.
    sample_weight : ndarray of shape (n,), optional
        Row weights (fits and Brier scores are weighted).

    Returns
    -------
    method : {"isotonic", "sigmoid"}
        The method with the lower mean held-out Brier score (sigmoid on ties,
        and when a class has fewer than 2 rows, too few to cross-validate).
    scores : dict of str to float
        Mean held-out Brier score per method (probability², lower is better);
        empty when no cross-validation was possible.
    """
    n_minority = int(min(np.sum(y == 0), np.sum(y == 1)))
    n_splits = min(5, n_minority)
    if n_splits < 2:
        logger.warning("calibration: %d rows of the minority class; using sigmoid", n_minority)
        return "sigmoid", {}
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    totals = {"isotonic": 0.0, "sigmoid": 0.0}
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    for fit_idx, held_idx in folds.split(raw.reshape(-1, 1), y):
        for method in totals:
            cal = ScoreCalibrator(method).fit(raw[fit_idx], y[fit_idx], w[fit_idx])
            held = _brier(cal.predict(raw[held_idx]), y[held_idx], w[held_idx])
            totals[method] += held * float(w[held_idx].sum())
    scores = {m: total / float(w.sum()) for m, total in totals.items()}
    method = "isotonic" if scores["isotonic"] < scores["sigmoid"] else "sigmoid"
    return method, scores
