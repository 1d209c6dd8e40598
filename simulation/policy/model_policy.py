"""The model policy: rank households by the escalations a revisit would avert, from the records.

Why not rank by risk alone
--------------------------
A revisit helps only a household with an active dispute (:mod:`simulation.revisits`:
deterrence x 0.7 for 28 days when somebody is home and a dispute is active; mediation
only when the officer finds the dispute). The risk model (:class:`EscalationModel`,
label: an escalation within 30 days) ranks by escalation risk, which also comes from
static hazards and prior escalations, where a revisit does nothing. Measured on
20 000 households (README, "Policy simulation"), the plain risk ranking only tied the
officers' open-disputes rule and reached two thirds of the oracle, which ranks active
disputes only. The expected benefit of a revisit of household ``h`` at Monday ``t`` is
about ``P(active dispute at t) x E[escalations in the next weeks | active]`` times the
effect; the records disclose neither factor directly, so the policy estimates

``benefit(h, t) = p_risk(h, t) x p_active(h, t)``

* ``p_risk``: the risk model (label: an escalation within 30 days, every household).
* ``p_active``: a second LightGBM classifier on the same feature rows, label "a visit
  in ``[t, t + ACTIVE_WINDOW_DAYS)`` records an active dispute", fitted only on the
  households visited in that window (somebody met, record not rejected): the records'
  own answer to "is there a dispute now?". A record that only closes an old dispute
  (resolved, no mediation agreement: what an officer writes when the dispute is over)
  does not count as active; a successful mediation with an agreement does. The
  households visited in a window are not a random sample (follow-ups go to open
  disputes), but the campaign waves and routine visits cover the rest, and the
  classifier is only used to rank.

The product is a ranking heuristic, not an estimate of averted escalations: where
the risk is mostly dispute-driven, ``p_risk`` already holds ``p_active`` and the
product weighs it twice, which favours the households most surely in dispute, the
ones a revisit can help. ``model:risk`` keeps the plain risk ranking (the policy
before this change) for comparison; ``model:active`` ranks by ``p_active`` alone.
Measured on 20 000 households, three seeds (README): the benefit ranking averted
18 more escalations than the risk ranking, interval [-7, 43] (within noise), and
its revisits found a dispute more often (16.3 % against 14.5 %); on a 4 000-household
world with K = 20 it averted 5-6 more on average over three seeds.

Training cost
-------------
LightGBM runs on one thread (``N_JOBS``). Both classifiers train on the same frame (every other week of the latest
``train_weeks`` labelled weeks). Negatives of the risk label are case-control
sampled (:func:`training.frame.sample_mask`: every positive, a seeded share
``NEGATIVE_SHARE`` of negatives, weight ``1 / share``), as ``revisit train`` does;
the active-dispute label is common among visited households and is not sampled.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from warehouse.contract import LABEL_COLUMN

logger = logging.getLogger(__name__)

#: Ranking of each model variant: benefit (default), risk only, active dispute only.
MODEL_VARIANTS: dict[str, str] = {
    "model": "benefit",
    "model:risk": "risk",
    "model:active": "active",
}
#: Days after an as-of date in which a visit's record answers "is a dispute active?".
ACTIVE_WINDOW_DAYS = 14
#: LightGBM threads. One: on the shared 2-core machine under load, two OpenMP threads
#: made a 10 000-row fit 7-10 times slower than one (1.0-1.5 s against 6.9-15.9 s for
#: 100 rounds, measured 2026-12-05 at load 6-8), and a policy run trains 8 times.
N_JOBS = 1
#: Share of the risk label's negatives in the training sample (case-control; the
#: ``revisit train`` default, ``training.config``).
NEGATIVE_SHARE = 0.1


def model_params() -> dict[str, Any]:
    """LightGBM settings of the model policy.

    The training run's tree shape (``training.config.LightGBMConfig``: 15 leaves, 1 000
    rows a leaf, chosen on validation weeks of the demo prefecture) at a faster
    learning rate (0.05, at most 500 rounds, early stopping after 30). Calibration is
    not needed to rank.
    """
    from training.config import LightGBMConfig

    cfg = LightGBMConfig()
    return {
        "n_estimators": 500,
        "learning_rate": 0.05,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "early_stopping_rounds": 30,
    }


def active_labels(
    frame: pd.DataFrame, visits: pd.DataFrame, window_days: int = ACTIVE_WINDOW_DAYS
) -> pd.Series:
    """Label of the active-dispute classifier: a visit in ``[t, t + window)`` finds a dispute.

    Parameters
    ----------
    frame : DataFrame
        Feature rows with ``household_id`` (str) and ``as_of``
        (``datetime64[ns, Asia/Shanghai]``).
    visits : DataFrame
        Canonical visits known now (``household_id``, ``visited_at``, ``persons_met``,
        ``review_status``, ``has_dispute``, ``resolution_status``,
        ``mediation_agreement``); the caller makes sure every window ended before now.
    window_days : int, default ``ACTIVE_WINDOW_DAYS``
        Window length (days).

    Returns
    -------
    Series of Int8, index of ``frame``
        1 if a visit of the household in the window met somebody and recorded an
        active dispute (``has_dispute`` and not a record closed as resolved without a
        mediation agreement), 0 if it was visited and none did, ``<NA>`` if nobody was
        met in the window.
    """
    ok = (visits["review_status"] != "rejected").to_numpy() & (visits["persons_met"].to_numpy() > 0)
    v = visits.loc[ok]
    agreement = v["mediation_agreement"].astype("boolean").fillna(False).to_numpy(bool)
    closed = (v["resolution_status"] == "resolved").fillna(False).to_numpy(bool) & ~agreement
    found = v["has_dispute"].to_numpy(bool) & ~closed
    at = v["visited_at"]
    out = pd.Series(pd.NA, index=frame.index, dtype="Int8")
    window = pd.Timedelta(days=window_days)
    for t in frame["as_of"].unique():
        sel = ((at >= t) & (at < t + window)).to_numpy()
        per_hh = pd.Series(found[sel], index=v["household_id"].to_numpy()[sel]).groupby(level=0)
        rows = (frame["as_of"] == t).to_numpy()
        out[rows] = frame.loc[rows, "household_id"].map(per_hh.max()).astype("Int8").to_numpy()
    return out


def _split(
    frame: pd.DataFrame, y: pd.Series, weight: np.ndarray, cut: pd.Timestamp
) -> tuple[Any, ...] | None:
    """Out-of-time split (train before ``cut``, validate from it); None if a side lacks a class."""
    early = (frame["as_of"] < cut).to_numpy()
    y_tr, y_val = y[early].astype(int), y[~early].astype(int)
    if y_tr.nunique() < 2 or y_val.nunique() < 2:
        return None
    return frame[early], y_tr, frame[~early], y_val, weight[early], weight[~early]


class ModelPolicy:
    """The model policy's classifiers, (re)trained on the records and used to rank.

    Parameters
    ----------
    variant : {"benefit", "risk", "active"}
        Ranking (``MODEL_VARIANTS``).
    random_state : int
        Seed of LightGBM and of the case-control sample.
    negative_share : float, default ``NEGATIVE_SHARE``
        Share of the risk label's negatives kept for training, in (0, 1].

    Attributes
    ----------
    risk, active : EscalationModel or None
        The risk and active-dispute classifiers (None until trained; ``active`` is
        trained only when the variant needs it, ``risk`` likewise).
    rounds : list of dict
        One entry per training: ``week``, ``rows`` (labelled feature rows),
        ``risk_sample_rows`` and ``positives`` (risk label), ``active_rows`` and
        ``active_positives`` (active-dispute label), ``seconds``.
    """

    def __init__(
        self, variant: str, random_state: int, negative_share: float = NEGATIVE_SHARE
    ) -> None:
        if variant not in MODEL_VARIANTS.values():
            raise ValueError(
                f"variant must be one of {sorted(set(MODEL_VARIANTS.values()))!r}, got {variant!r}"
            )
        if not 0.0 < negative_share <= 1.0:
            raise ValueError(f"negative_share must be in (0, 1], got {negative_share!r}")
        self.variant = variant
        self.random_state = int(random_state)
        self.negative_share = float(negative_share)
        self.risk: Any = None
        self.active: Any = None
        self.rounds: list[dict[str, Any]] = []

    @property
    def ready(self) -> bool:
        """Whether every classifier the variant needs has been trained."""
        need_risk = self.variant in ("benefit", "risk")
        need_active = self.variant in ("benefit", "active")
        return (self.risk is not None or not need_risk) and (
            self.active is not None or not need_active
        )

    def _fit(self, parts: tuple[Any, ...], leaf_share: float = 1.0) -> Any:
        from models.risk_model import EscalationModel

        x, y, x_val, y_val, w, w_val = parts
        params = model_params()
        # 1 000 rows a leaf was chosen on a prefecture's full frame: a sampled negative
        # stands for 1 / share rows, and a small world's frame has too few rows for it
        params["min_child_samples"] = max(
            20, min(round(params["min_child_samples"] * leaf_share), len(x) // 50)
        )
        return EscalationModel(
            **params, calibration="none", random_state=self.random_state, n_jobs=N_JOBS
        ).fit(x, y, x_val, y_val, sample_weight=w, val_sample_weight=w_val)

    def train(self, frame: pd.DataFrame, visits: pd.DataFrame, week: int) -> None:
        """(Re)train on labelled feature rows; keep the old classifier where a label lacks a class.

        Parameters
        ----------
        frame : DataFrame
            ``features.build.build_features`` rows of the training as-of dates with the
            risk ``label`` (rows whose horizon has not ended dropped by the caller).
        visits : DataFrame
            Canonical visits known now (for :func:`active_labels`).
        week : int
            Policy week (for the log of rounds).
        """
        from training.frame import sample_mask

        started = time.perf_counter()
        dates = sorted(frame["as_of"].unique())
        cut = dates[-2] if len(dates) > 2 else dates[-1]
        entry: dict[str, Any] = {"week": week, "rows": len(frame)}
        if self.variant in ("benefit", "risk"):
            y = frame[LABEL_COLUMN].astype(int)
            keep = np.zeros(len(frame), bool)
            for t in dates:
                rows = (frame["as_of"] == t).to_numpy()
                keep[rows] = sample_mask(
                    y.to_numpy()[rows], pd.Timestamp(t), self.negative_share, self.random_state
                )
            weight = np.where(y.to_numpy() == 1, 1.0, 1.0 / self.negative_share)[keep]
            sample = frame[keep]
            parts = _split(sample, y[keep], weight, cut)
            if parts is None:
                logger.warning("week %d: too few escalations to train the risk model", week)
            else:
                self.risk = self._fit(parts, self.negative_share)
            entry.update(risk_sample_rows=int(keep.sum()), positives=int(y.sum()))
        if self.variant in ("benefit", "active"):
            ya = active_labels(frame, visits)
            known = ya.notna().to_numpy()
            parts = _split(frame[known], ya[known], np.ones(int(known.sum())), cut)
            if parts is None:
                logger.warning("week %d: too few visits to train the active-dispute model", week)
            else:
                self.active = self._fit(parts)
            entry.update(active_rows=int(known.sum()), active_positives=int(ya[known].sum()))
        entry["seconds"] = round(time.perf_counter() - started, 1)
        self.rounds.append(entry)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Ranking score of feature rows (higher = revisit first).

        Parameters
        ----------
        frame : DataFrame
            ``features.build.build_features`` rows of one as-of date.

        Returns
        -------
        ndarray of float64, shape (n_rows,)
            ``p_risk x p_active`` (benefit), ``p_risk`` (risk) or ``p_active`` (active).

        Raises
        ------
        RuntimeError
            If a classifier the variant needs was never trained.
        """
        if not self.ready:
            raise RuntimeError(f"the {self.variant!r} ranking needs trained classifiers, got none")
        out = np.ones(len(frame))
        if self.variant in ("benefit", "risk"):
            out *= self.risk.predict_proba(frame)[:, 1]
        if self.variant in ("benefit", "active"):
            out *= self.active.predict_proba(frame)[:, 1]
        return out
