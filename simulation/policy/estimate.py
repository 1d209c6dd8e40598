"""Estimating the revisit effect from the records, with and without the lottery at the margin.

Both estimators read only the selection log (which households were listed, which
won the lottery: the police's own records) and the incident records (escalations
reported in the ``OUTCOME_DAYS`` after the Monday of the list):

``lottery``
    mean escalations of lottery winners minus those of lottery losers. The lottery
    makes the two groups alike but for the revisit, so this is an unbiased estimate of
    the effect of a revisit (intention to treat: a loser may be revisited later).
``naive``
    without a lottery, the best the records allow is to compare the households
    revisited with the ``capacity`` households ranked just below the cut. They were
    ranked lower for a reason, so the difference mixes the revisit effect with the
    difference in risk.

Intervals are percentile intervals of a bootstrap that resamples households (a
household may be listed in many weeks). ``truth`` is the same difference computed
from the simulator's latent expected escalations (the summed daily hazard): for the
lottery arms that is the planted effect on these households, which the estimate
should cover; under a zero effect the true effect is exactly 0 for any arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulation.policy.select import (
    ARM_BELOW_CUT,
    ARM_LOTTERY_LOSE,
    ARM_LOTTERY_WIN,
    ARM_RANKED,
)

ESTIMATORS = {"lottery": (ARM_LOTTERY_WIN, ARM_LOTTERY_LOSE), "naive": (ARM_RANKED, ARM_BELOW_CUT)}


@dataclass(frozen=True)
class EffectEstimate:
    """A revisit-effect estimate: escalations per household in the outcome window.

    Parameters
    ----------
    estimator : {"lottery", "naive"}
    estimate : float
        Mean escalations (treated) minus mean escalations (control), per household
        and outcome window (28 days); negative = revisits prevent escalations.
    low, high : float
        Bootstrap interval (households resampled).
    truth : float
        The same difference of latent expected escalations (see the module docstring).
    n_treated, n_control : int
        Logged (household, week) entries in each arm.
    """

    estimator: str
    estimate: float
    low: float
    high: float
    truth: float
    n_treated: int
    n_control: int

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the interval."""
        return self.low <= value <= self.high


def estimate_effect(
    log: pd.DataFrame,
    estimator: str,
    *,
    random_state: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
) -> EffectEstimate | None:
    """Estimate the revisit effect from a selection log.

    Parameters
    ----------
    log : DataFrame
        ``PolicyResult.log``: ``hh`` (int), ``arm`` (int), ``outcome`` (escalations,
        int), ``truth`` (latent expected escalations, float); may pool several runs
        if ``hh`` is made unique per run.
    estimator : {"lottery", "naive"}
    random_state : int, default 0
        Bootstrap seed.
    n_boot : int, default 1000
        Bootstrap replicates.
    level : float, default 0.95
        Interval coverage.

    Returns
    -------
    EffectEstimate or None
        None when either arm is empty.

    Raises
    ------
    ValueError
        An unknown estimator.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)!r}, got {estimator!r}")
    treated_arm, control_arm = ESTIMATORS[estimator]
    part = log[log["arm"].isin([treated_arm, control_arm])]
    treated = (part["arm"] == treated_arm).to_numpy()
    if treated.all() or not treated.any():
        return None
    cluster, _ = pd.factorize(part["hh"])
    c = int(cluster.max()) + 1
    y = part["outcome"].to_numpy(dtype=float)
    sums = np.stack(
        [
            np.bincount(cluster, weights=y * treated, minlength=c),
            np.bincount(cluster, weights=treated.astype(float), minlength=c),
            np.bincount(cluster, weights=y * ~treated, minlength=c),
            np.bincount(cluster, weights=(~treated).astype(float), minlength=c),
        ]
    )  # (4, clusters)
    rng = np.random.default_rng(random_state)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, c, c), minlength=c).astype(float)
        s = sums @ w
        draws[b] = s[0] / max(s[1], 1.0) - s[2] / max(s[3], 1.0)
    tail = (1.0 - level) / 2.0
    truth = part["truth"].to_numpy(dtype=float)
    return EffectEstimate(
        estimator=estimator,
        estimate=float(y[treated].mean() - y[~treated].mean()),
        low=float(np.quantile(draws, tail)),
        high=float(np.quantile(draws, 1.0 - tail)),
        truth=float(truth[treated].mean() - truth[~treated].mean()),
        n_treated=int(treated.sum()),
        n_control=int((~treated).sum()),
    )
