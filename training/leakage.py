"""Leakage canaries a training run must pass before its model is registered.

A label-shuffling canary cannot see a leaked feature (shuffled labels break the
leak too). These can:

1. **No single feature separates the label.** A feature computed from the
   label window (e.g. incidents in ``[t, t + H)``) ranks the escalating
   household-weeks almost perfectly on its own. Each feature's own ROC AUC on
   the training frame (a seeded sample) must lie strictly within
   ``(1 - max_auc, max_auc)``; escalations are rare, multi-causal events and
   no honest point-in-time fact about a household comes near (the strongest
   honest feature of the simulated world reaches about 0.75).
2. **The model does not beat the oracle.** On simulated data the simulator's
   own escalation probability is the best any model can do in expectation; a
   model whose test ROC AUC exceeds the oracle's by more than ``margin`` has
   seen the future.

The point-in-time tests of ``features.build`` (appending records known at or
after ``t`` changes no feature) catch the same leak at its source; these
canaries catch it in the frame a run actually trains on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Largest single-feature ROC AUC (or its mirror, 1 - AUC) a run accepts.
MAX_SINGLE_FEATURE_AUC = 0.97
#: Rows (a seeded sample) on which each single-feature AUC is judged.
AUC_SAMPLE_ROWS = 200_000
#: How far a model's test ROC AUC may exceed the oracle's before the run is refused.
ORACLE_MARGIN = 0.02


class LeakageError(RuntimeError):
    """A feature or a model shows signs of seeing the label window; the message names it."""


def _auc(y: np.ndarray, x: np.ndarray) -> float:
    """ROC AUC of ``x`` for ``y`` (ties averaged: Mann-Whitney U); NaN when one class."""
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(x).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def single_feature_aucs(
    frame: pd.DataFrame,
    feature_names: list[str],
    label_col: str,
    *,
    max_rows: int = AUC_SAMPLE_ROWS,
    random_state: int = 0,
) -> pd.Series:
    """ROC AUC of each numeric feature on its own (missing values rank lowest).

    Parameters
    ----------
    frame : DataFrame
        Labelled rows (label 0/1, no missing).
    feature_names : list of str
        Features to check; non-numeric ones are skipped.
    label_col : str
        Label column.
    max_rows : int
        Seeded sample size (rows) for speed.
    random_state : int
        Seed of the sample.

    Returns
    -------
    Series of float64
        Index the feature names, values the AUC in [0, 1].
    """
    rows = frame if len(frame) <= max_rows else frame.sample(max_rows, random_state=random_state)
    y = rows[label_col].astype("int64").to_numpy()
    out = {}
    for name in feature_names:
        if name not in rows.columns or not pd.api.types.is_numeric_dtype(rows[name]):
            continue
        x = pd.to_numeric(rows[name], errors="coerce").astype("float64").to_numpy()
        out[name] = _auc(y, np.where(np.isnan(x), -np.inf, x))
    return pd.Series(out, dtype="float64")


def check_features(
    frame: pd.DataFrame,
    feature_names: list[str],
    label_col: str,
    *,
    max_auc: float = MAX_SINGLE_FEATURE_AUC,
    min_positives: int = 30,
    random_state: int = 0,
) -> pd.Series:
    """Refuse a frame in which one feature alone separates the label (canary 1).

    Frames with fewer than ``min_positives`` positive rows are not judged: with
    a handful of events a feature can separate them by chance.

    Returns
    -------
    Series of float64
        The single-feature AUCs (for the run's record).

    Raises
    ------
    LeakageError
        Some feature's AUC is at least ``max_auc`` or at most ``1 - max_auc``.
    """
    aucs = single_feature_aucs(frame, feature_names, label_col, random_state=random_state)
    if int(frame[label_col].astype("int64").sum()) < min_positives:
        return aucs  # too few events to tell a leak from chance
    extreme = aucs[(aucs >= max_auc) | (aucs <= 1 - max_auc)]
    if len(extreme):
        named = ", ".join(f"{k} (AUC {v:.3f})" for k, v in extreme.items())
        raise LeakageError(
            f"refusing to train: {named} alone separates escalations from the rest (expected "
            f"every single-feature AUC within ({1 - max_auc:.2f}, {max_auc:.2f})); a feature "
            f"computed from records at or after the as-of date (the label window) looks like this"
        )
    return aucs


def check_against_oracle(
    model_auc: float, oracle_auc: float, *, margin: float = ORACLE_MARGIN
) -> None:
    """Refuse a model whose test ROC AUC exceeds the oracle's by more than ``margin`` (canary 2).

    Raises
    ------
    LeakageError
        ``model_auc > oracle_auc + margin``.
    """
    if np.isfinite(model_auc) and np.isfinite(oracle_auc) and model_auc > oracle_auc + margin:
        raise LeakageError(
            f"refusing the model: its test ROC AUC {model_auc:.3f} exceeds the simulator's own "
            f"probability's {oracle_auc:.3f} by more than {margin:g}; no honest model can, so a "
            f"feature sees the label window"
        )
