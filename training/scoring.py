"""Out-of-time folds: fit the model and its baselines, score the test weeks piece by piece.

For each rolling-origin fold (``training.splits``) the LightGBM model is fitted
on the case-control sample of the fold's training weeks, early-stopped and
calibrated on the sample of its validation weeks (weights ``1 / share`` for
sampled negatives, so both see the population's base rate); the logistic
baseline is fitted on at most ``max_logistic_rows`` of the same sample. Then
every household of each test week is scored, one week's piece at a time, by
every scorer: the model, the logistic baseline, the officers' hand rule and,
on simulated data, the simulator's oracle. The result, the *scored test
frame*, holds keys, jurisdiction, label, fold and one score column per scorer;
it is what :mod:`training.evaluation` judges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.baselines import LogisticBaseline, hand_rule_scores, oracle_scores, read_oracle
from training.config import TrainConfig
from training.evidence import add_officer_rules
from training.frame import WEIGHT, FramePieces
from training.splits import Fold
from warehouse.contract import JURISDICTION_COLUMNS, KEY_COLUMNS, LABEL_COLUMN

logger = logging.getLogger(__name__)

#: Names of the compared scorers, in table order.
MODEL, LOGISTIC, HAND_RULE, ORACLE = "lightgbm", "logistic", "hand_rule", "oracle"


#: Fits the LightGBM model of a fold: (pieces, fold, feature_names, config) -> EscalationModel.
FitModel = Callable[[FramePieces, Fold, list[str], TrainConfig], Any]


class FoldError(ValueError):
    """A fold cannot be fitted: a block lacks one of the two classes."""


def model_params(config: TrainConfig, feature_names: list[str]) -> dict[str, Any]:
    """Keyword arguments of :class:`models.risk_model.EscalationModel` for a run."""
    lgb = config.lightgbm.model_dump()
    return {**lgb, "feature_names": feature_names, "random_state": config.seed}


def labels_of(frame: pd.DataFrame) -> np.ndarray:
    """The label column as int64 0/1."""
    return frame[LABEL_COLUMN].astype("int64").to_numpy()


def _check_classes(fold: Fold, block: str, rows: pd.DataFrame) -> None:
    positives = int((rows[LABEL_COLUMN] == 1).sum()) if len(rows) else 0
    _require_both_classes(fold, block, len(rows), positives)


def _require_both_classes(fold: Fold, block: str, n_rows: int, n_positive: int) -> None:
    if n_rows == 0 or n_positive in (0, n_rows):
        raise FoldError(
            f"{fold.name}: the {block} block ({n_rows} rows) needs both escalated and "
            f"non-escalated households; simulate or ingest a longer or larger history"
        )


def fit_model(
    pieces: FramePieces,
    fold: Fold,
    feature_names: list[str],
    config: TrainConfig,
    *,
    max_train_rows: int | None = None,
) -> Any:
    """The calibrated LightGBM model of one fold (or of the final split).

    Parameters
    ----------
    pieces : FramePieces
        The training frame on disk.
    fold : Fold
        Training and validation weeks.
    feature_names : list of str
        Feature columns.
    config : TrainConfig
        LightGBM parameters and seed.
    max_train_rows : int, optional
        Fit on a seeded subsample of at most this many training rows (the
        pilot fit of :mod:`training.dask_fit`).

    Returns
    -------
    models.risk_model.EscalationModel

    Raises
    ------
    FoldError
        When the training or validation sample lacks a class.
    """
    from models.risk_model import EscalationModel

    weighted = pieces.negative_share < 1.0
    columns = [*feature_names, LABEL_COLUMN, WEIGHT]
    val = pieces.read(fold.validation, sampled=True, columns=columns)
    _check_classes(fold, "validation", val)
    model = EscalationModel(**model_params(config, feature_names))
    val_weight = val[WEIGHT].to_numpy() if weighted else None
    if max_train_rows is None:
        # one block per as-of date into one float32 matrix: never every training row in a frame
        _require_both_classes(
            fold, "training", sum(pieces.sampled_rows.get(d, 0) for d in fold.train),
            sum(pieces.positives.get(d, 0) for d in fold.train),
        )  # fmt: skip
        model.fit_blocks(
            pieces.blocks(fold.train, sampled=True, columns=columns), val, labels_of(val),
            label_column=LABEL_COLUMN, weight_column=WEIGHT if weighted else None,
            val_sample_weight=val_weight,
        )  # fmt: skip
        return model
    train = pieces.read(fold.train, sampled=True, columns=columns)
    if len(train) > max_train_rows:
        train = train.sample(max_train_rows, random_state=config.seed).reset_index(drop=True)
    _check_classes(fold, "training", train)
    model.fit(
        train,
        labels_of(train),
        val,
        labels_of(val),
        sample_weight=train[WEIGHT].to_numpy() if weighted else None,
        val_sample_weight=val_weight,
    )
    return model


def _fit_logistic(
    pieces: FramePieces, fold: Fold, feature_names: list[str], config: TrainConfig
) -> LogisticBaseline:
    train = pieces.read_at_most(
        fold.train, config.max_logistic_rows, columns=[*feature_names, LABEL_COLUMN, WEIGHT],
        random_state=config.seed,
    )  # fmt: skip
    weight = train[WEIGHT].to_numpy() if pieces.negative_share < 1.0 else None
    return LogisticBaseline(feature_names, random_state=config.seed).fit(
        train, labels_of(train), sample_weight=weight
    )


def score_rows(
    rows: pd.DataFrame,
    fold_name: str,
    model: Any,
    logistic: LogisticBaseline,
    oracle: pd.DataFrame | None,
    ground_truth_dir: Path | None,
) -> pd.DataFrame:
    """Every scorer's score of some rows (keys, jurisdiction, label, fold, one column each)."""
    out = rows[[*KEY_COLUMNS, *JURISDICTION_COLUMNS, LABEL_COLUMN]].copy()
    out[LABEL_COLUMN] = labels_of(rows)
    out["fold"] = fold_name
    out[MODEL] = model.predict_proba(rows)[:, 1]
    out[LOGISTIC] = logistic.predict_proba(rows)[:, 1]
    out[HAND_RULE] = hand_rule_scores(rows)
    if ground_truth_dir is not None:
        out[ORACLE] = oracle_scores(rows, ground_truth_dir, oracle=oracle)
    # the three officers' rules and the no-prior segment (training.evidence)
    return add_officer_rules(out, rows)


def score_fold(
    pieces: FramePieces,
    fold: Fold,
    feature_names: list[str],
    config: TrainConfig,
    ground_truth_dir: Path | None,
    fit: FitModel | None = None,
    models: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Scores of every scorer on every household of the fold's test weeks.

    Parameters
    ----------
    pieces : FramePieces
        The training frame on disk (test weeks written in full).
    fold : Fold
        The fold.
    feature_names : list of str
        Feature columns.
    config : TrainConfig
        The run's configuration.
    ground_truth_dir : Path or None
        Folder of the simulator's ``oracle.parquet``, or ``None``.
    fit : callable (pieces, fold, feature_names, config) -> model, optional
        How the LightGBM model is fitted (default :func:`fit_model`; a
        :class:`training.dask_fit.DaskFitter` on a cluster).
    models : dict, optional
        Receives the fold's fitted model under the fold's name (to explain its
        top rows later: ``training.reviewers``).

    Returns
    -------
    DataFrame
        One row per (household, test week): ``household_id``, ``as_of``,
        ``county``, ``township``, ``village``, ``label`` (int64), ``fold`` and
        one float64 column per scorer.

    Raises
    ------
    FoldError
        When a block lacks a class.
    """
    model = (fit or fit_model)(pieces, fold, feature_names, config)
    if models is not None:
        models[fold.name] = model
    logistic = _fit_logistic(pieces, fold, feature_names, config)
    oracle = read_oracle(ground_truth_dir, fold.test) if ground_truth_dir is not None else None
    parts = []
    for rows in pieces.iter_full(fold.test):
        parts.append(score_rows(rows, fold.name, model, logistic, oracle, ground_truth_dir))
    scored = pd.concat(parts, ignore_index=True)
    _check_classes(fold, "test", scored)
    return scored


def build_scored_test_frame(
    pieces: FramePieces,
    folds: Sequence[Fold],
    feature_names: list[str],
    config: TrainConfig,
    ground_truth_dir: Path | None,
    stage: Callable[[str], Any],
    fit: FitModel | None = None,
    models: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The scored test frame of all folds, and the scorers it compares.

    Parameters
    ----------
    pieces, feature_names, config, ground_truth_dir
        As :func:`score_fold`.
    folds : sequence of Fold
        Rolling-origin folds.
    stage : callable (name) -> context manager
        Times each fold as a stage of the run.
    fit, models : optional
        As :func:`score_fold`.

    Returns
    -------
    scored : DataFrame
        The folds' scored test rows (see :func:`score_fold`), concatenated.
    scorers : list of str
        ``lightgbm``, ``logistic``, ``hand_rule``, and ``oracle`` when it covers
        every test row.
    """
    parts = []
    for fold in folds:
        with stage(f"fit and score {fold.name}"):
            parts.append(
                score_fold(pieces, fold, feature_names, config, ground_truth_dir, fit, models)
            )
    scored = pd.concat(parts, ignore_index=True)
    scorers = [MODEL, LOGISTIC, HAND_RULE]
    if ORACLE in scored.columns:
        if scored[ORACLE].notna().all():
            scorers.append(ORACLE)
        else:
            logger.warning(
                "oracle covers %d of %d test rows: left out of the comparison",
                int(scored[ORACLE].notna().sum()),
                len(scored),
            )
    return scored, scorers
