"""Judge the scored test frame: pooled and per-fold metrics with bootstrap intervals.

Every scorer of the scored test frame (:mod:`training.scoring`) is judged on
the same rows by :func:`training.bootstrap.evaluate`: precision@k per as-of date
at the capacities of the run, per-township capacity, ROC AUC, average
precision and, for probability scorers, Brier score and calibration error;
lifts over the officers' hand rule and shares of the oracle. Pooled figures
carry household-cluster bootstrap intervals; per-fold figures are points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.scoring import HAND_RULE, ORACLE
from warehouse.contract import LABEL_COLUMN


def evaluate_scores(scored: pd.DataFrame, config: TrainConfig, scorers: list[str]) -> pd.DataFrame:
    """Metrics of each scorer on some scored test rows (long format, with intervals).

    Parameters
    ----------
    scored : DataFrame
        Scored test rows (``as_of``, ``township``, ``household_id``, ``label``,
        one column per scorer).
    config : TrainConfig
        Capacities, bootstrap size (``n_bootstrap``, 0 for points only) and seed.
    scorers : list of str
        Score columns to judge.

    Returns
    -------
    DataFrame
        ``model``, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n_rows``.
    """
    from training.bootstrap import evaluate

    return evaluate(
        scored,
        {name: name for name in scorers},
        LABEL_COLUMN,
        as_of_col="as_of",
        group_col="township",
        cluster_col="household_id",
        tiebreak_col="household_id",
        ks=list(config.capacity_shares),
        group_ks=[config.capacity_per_township],
        baseline=HAND_RULE,
        oracle=ORACLE if ORACLE in scorers else None,
        probability_models=[s for s in scorers if s != HAND_RULE],
        n_boot=config.n_bootstrap,
        random_state=config.seed,
    )


def evaluate_scored(
    scored: pd.DataFrame, config: TrainConfig, scorers: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pooled metrics (with intervals) and per-fold metrics (points) of the scored test frame.

    Parameters
    ----------
    scored : DataFrame
        The scored test frame, with a ``fold`` column.
    config : TrainConfig
        The run's configuration.
    scorers : list of str
        Score columns to judge.

    Returns
    -------
    pooled : DataFrame
        As :func:`evaluate_scores` over all folds.
    per_fold : DataFrame
        The same without intervals, one block per fold, with a ``fold`` column.
    """
    pooled = evaluate_scores(scored, config, scorers)
    points = config.model_copy(update={"n_bootstrap": 0})
    per_fold = pd.concat(
        [
            evaluate_scores(part, points, scorers).assign(fold=name)
            for name, part in scored.groupby("fold", sort=True)
        ],
        ignore_index=True,
    )
    return pooled, per_fold


def metric_dict(table: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Run metrics ``{prefix}.{model}.{metric}[.ci_low|.ci_high]`` of a metrics table (finite only)."""
    out: dict[str, float] = {}
    for row in table.to_dict("records"):
        for suffix, col in (("", "value"), (".ci_low", "ci_low"), (".ci_high", "ci_high")):
            value = float(row[col])
            if np.isfinite(value):
                out[f"{prefix}.{row['model']}.{row['metric']}{suffix}"] = value
    return out


def headline_metric(config: TrainConfig) -> str:
    """Metric name of precision@k at the headline capacity, e.g. ``precision_at_5pct``."""
    from training.metrics import k_label

    return f"precision_at_{k_label(config.headline_share)}"
