"""The LightGBM model fitted on a Dask cluster (``revisit train --dask ADDRESS``).

``lightgbm.dask`` trains one booster over the workers' partitions, but its
early stopping fails with socket errors in LightGBM 4.7.0 (LightGBM issues
#5963 and #7009). So the number of boosting rounds is fixed beforehand:

1. a *pilot* :class:`models.risk_model.EscalationModel` is fitted on one
   machine, early-stopped on the validation weeks' sample, on at most
   ``pilot_rows`` rows of the training weeks' sample (a seeded subsample);
   its best iteration is the number of rounds, recorded in the run
   (``dask.rounds.<fold>``);
2. ``lightgbm.dask.DaskLGBMClassifier`` fits that many rounds on every row of
   the training weeks' sample, one Dask partition per as-of date read by the
   workers from the training frame's pieces (a file system they share), with
   the same parameters and weights ``1 / share``;
3. the Dask booster replaces the pilot's, and the calibration is refitted on
   the validation sample's raw scores of the new booster (as
   :meth:`EscalationModel.fit` does), on the client.

The result is an ordinary :class:`EscalationModel`: scored, explained, logged
and served like a single-machine one.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.frame import WEIGHT, FramePieces
from training.scoring import fit_model, labels_of, model_params
from training.splits import Fold
from warehouse.contract import LABEL_COLUMN

logger = logging.getLogger(__name__)


@dataclass
class DaskFitter:
    """Fits fold and final models on a Dask cluster; remembers the rounds of each.

    Parameters
    ----------
    client : distributed.Client
        The cluster.
    address : str
        What the user gave (``local:2``, ``tcp://…``), for the run's params.
    pilot_rows : int, default 200 000
        Training rows of the single-machine pilot fit that fixes the rounds.
    """

    client: Any
    address: str
    pilot_rows: int = 200_000
    rounds: dict[str, int] = field(default_factory=dict)

    def __call__(
        self, pieces: FramePieces, fold: Fold, feature_names: list[str], config: TrainConfig
    ) -> Any:
        """The model of one fold, fitted on the cluster (same signature as ``fit_model``)."""
        pilot = fit_model(pieces, fold, feature_names, config, max_train_rows=self.pilot_rows)
        rounds = int(pilot.best_iteration_)
        self.rounds[fold.name] = rounds
        booster = self._dask_booster(pieces, fold, pilot, config, rounds)
        return _adopt(pilot, booster, pieces, fold, config)

    def params(self) -> dict[str, str]:
        """Run params: the address, the workers and the rounds fixed per fold."""
        workers = len(self.client.scheduler_info().get("workers", {}))
        return {
            "dask.address": self.address,
            "dask.workers": str(workers),
            "dask.pilot_rows": str(self.pilot_rows),
            **{f"dask.rounds.{name}": str(n) for name, n in self.rounds.items()},
        }

    def _dask_booster(
        self, pieces: FramePieces, fold: Fold, pilot: Any, config: TrainConfig, rounds: int
    ) -> Any:
        import dask.dataframe as dd
        from lightgbm.dask import DaskLGBMClassifier

        def load(as_of: pd.Timestamp) -> pd.DataFrame:
            rows = pieces.read_one(
                as_of, sampled=True, columns=[*pilot.feature_names_, LABEL_COLUMN, WEIGHT]
            )
            prepared = pilot._prepare(rows, count_unseen=False)
            prepared[LABEL_COLUMN] = labels_of(rows)
            prepared[WEIGHT] = rows[WEIGHT].to_numpy(dtype=np.float64)
            return prepared

        dates = list(fold.train)
        meta = load(dates[0]).iloc[:0]
        frame = dd.from_map(load, dates, meta=meta, enforce_metadata=False)
        lgb_params = config.lightgbm
        classifier = DaskLGBMClassifier(
            client=self.client,
            objective="binary",
            n_estimators=rounds,
            learning_rate=float(lgb_params.learning_rate),
            num_leaves=int(lgb_params.num_leaves),
            min_child_samples=int(lgb_params.min_child_samples),
            random_state=int(config.seed),
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        weighted = pieces.negative_share < 1.0
        classifier.fit(
            frame[pilot.feature_names_],
            frame[LABEL_COLUMN],
            sample_weight=frame[WEIGHT] if weighted else None,
        )
        return classifier.booster_


def _adopt(pilot: Any, booster: Any, pieces: FramePieces, fold: Fold, config: TrainConfig) -> Any:
    """The pilot with the Dask booster, its calibration refitted on the validation sample."""
    from models.risk_model import ScoreCalibrator, choose_calibration

    model = copy.copy(pilot)
    model.booster_ = booster
    model.best_iteration_ = int(booster.current_iteration())
    val = pieces.read(fold.validation, sampled=True)
    weight = val[WEIGHT].to_numpy(dtype=np.float64) if pieces.negative_share < 1.0 else None
    y = labels_of(val)
    raw = model._raw_score(model._prepare(val, count_unseen=False))
    method = str(model.calibration)
    scores: dict[str, float] = {}
    if method == "auto":
        method, scores = choose_calibration(raw, y, int(config.seed), weight)
    model.calibration_method_ = method
    model.calibration_scores_ = scores
    model.calibrator_ = ScoreCalibrator(method).fit(raw, y, weight)
    logger.info(
        "%s: dask booster of %d rounds, calibration %s", fold.name, model.best_iteration_, method
    )
    return model


__all__ = ["DaskFitter", "model_params"]
