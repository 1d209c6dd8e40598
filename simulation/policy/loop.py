"""One policy-seed run: burn-in without revisits, then W weeks of revisits chosen by a policy.

The window starts on a Monday. The first ``burn_in_weeks`` weeks build a history
(the waves, routine and follow-up visits of the base simulator; no policy
revisits): the model's first training data and the rules' first counts. Then, every
Monday of the ``weeks`` policy weeks, the policy scores the households from the
records known before that Monday (:mod:`simulation.policy.records`) and
:func:`simulation.policy.select.select` fills each township's ``capacity``.
Escalations are counted over the policy weeks from the simulator's event log (the
truth, which the incident records also hold).

Policies
--------
``none``  no revisits. ``random``  uniform among eligible households.
``rule:prior-escalations|open-disputes|combined``  the officers' rules
(:func:`training.baselines.officer_rule_scores`) on the feature table.
``model``  ranks by the expected benefit of a revisit, ``p_risk x p_active``
(:mod:`simulation.policy.model_policy`: the risk model times a classifier of "a visit
would find an active dispute", both on the records), trained at the first policy
Monday and, with ``retrain_every`` M > 0, retrained every M weeks on the latest
``train_weeks`` weeks of labelled as-of dates (data produced under its own policy:
the feedback loop); ``retrain_every=0`` keeps it frozen. ``model:risk`` ranks by the
risk model alone (the policy before), ``model:active`` by ``p_active`` alone; neither
is in ``all``.
``oracle``  the simulator's latent truth: households with an active dispute, highest
escalation probability first. The only policy that sees past the records.

Every policy of one seed shares the world and the fixed-size daily draws (see
:mod:`simulation.revisits`), so ``averted = escalations(none) - escalations(policy)``
is a paired difference.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulation import engine
from simulation import world as W
from simulation.errors import SimulationConfigError
from simulation.policy.model_policy import MODEL_VARIANTS, ModelPolicy
from simulation.policy.records import Records, escalation_codes
from simulation.policy.select import ARM_LOTTERY_WIN, ARM_RANKED, select
from simulation.revisits import RevisitEffect, WeekView
from simulation.world import SimulationConfig
from warehouse.contract import TIMEZONE

logger = logging.getLogger(__name__)

RULES = ("rule:prior-escalations", "rule:open-disputes", "rule:combined")
POLICIES: tuple[str, ...] = ("none", "random", *RULES, "model", "oracle")
#: Every policy a run accepts: ``POLICIES`` (what ``all`` runs) and the model's other
#: rankings (``model:risk``, ``model:active``; :mod:`simulation.policy.model_policy`).
ALL_POLICIES: tuple[str, ...] = (*POLICIES, *(v for v in MODEL_VARIANTS if v not in POLICIES))
#: Monday 1 January 2024: the default first day of a policy run's window.
DEFAULT_START = dt.date(2024, 1, 1)
#: ASSUMPTION: targeted revisits per officer-day (a sweep reached 11.8 households per
#: officer-day, DESIGN.md; a revisit with mediation takes longer).
REVISITS_PER_OFFICER_DAY = 8.0
#: Outcome window of the estimators and of list precision (days): four weeks.
OUTCOME_DAYS = 28


@dataclass(frozen=True)
class PolicyConfig:
    """Parameters of one policy-seed run.

    Parameters
    ----------
    policy : str
        One of ``ALL_POLICIES``.
    households : int
        Households of the world (>= 100).
    weeks : int
        Policy weeks W (>= 1).
    capacity : int
        Revisits per township per week K (>= 0).
    seed : int
        World and simulation seed (same seed, same world for every policy).
    burn_in_weeks : int
        Weeks of history before the first policy week (>= 13: the model needs
        labelled weeks).
    effect : RevisitEffect
        What a revisit does (:mod:`simulation.revisits`).
    lottery_share, lottery_pool : float
        Share of slots given by lottery at the margin, and the pool multiple
        (:func:`simulation.policy.select.select`).
    cooldown_weeks : int
        Weeks before a revisited household is eligible again (>= 1).
    retrain_every : int
        Model policy: retrain every M weeks (0 = frozen).
    train_weeks : int
        Model policy: weeks of labelled as-of dates it trains on (every other week used).
    start : datetime.date
        First day of the window (a Monday).
    """

    policy: str = "none"
    households: int = 2_000
    weeks: int = 52
    capacity: int = 20
    seed: int = 0
    burn_in_weeks: int = 52
    effect: RevisitEffect = field(default_factory=RevisitEffect)
    lottery_share: float = 0.0
    lottery_pool: float = 3.0
    cooldown_weeks: int = 4
    retrain_every: int = 13
    train_weeks: int = 26
    start: dt.date = DEFAULT_START

    def validate(self) -> PolicyConfig:
        """Check the parameters and return ``self``.

        Raises
        ------
        SimulationConfigError
            If a parameter is out of range.
        """
        if self.policy not in ALL_POLICIES:
            raise SimulationConfigError(
                f"policy must be one of {ALL_POLICIES!r}, got {self.policy!r}"
            )
        checks = (
            ("weeks", self.weeks >= 1, "at least 1"),
            ("capacity", self.capacity >= 1, "at least 1 revisit per township and week"),
            ("burn_in_weeks", self.burn_in_weeks >= 13, "at least 13"),
            ("cooldown_weeks", self.cooldown_weeks >= 1, "at least 1"),
            ("retrain_every", self.retrain_every >= 0, "0 (frozen) or more"),
            ("train_weeks", self.train_weeks >= 4, "at least 4"),
            ("lottery_share", 0.0 <= self.lottery_share <= 1.0, "between 0 and 1"),
            ("lottery_pool", self.lottery_pool >= 1.0, "at least 1"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise SimulationConfigError(
                    f"--{name.replace('_', '-')}: expected {expected}, got {getattr(self, name)!r}"
                )
        if self.start.weekday() != 0:
            raise SimulationConfigError(f"start must be a Monday, got {self.start!r}")
        self.effect.validate()
        return self

    @property
    def end(self) -> dt.date:
        """Last day of the window (a Sunday)."""
        return self.start + dt.timedelta(weeks=self.burn_in_weeks + self.weeks, days=-1)

    @property
    def policy_day(self) -> int:
        """First policy day (days since ``start``)."""
        return 7 * self.burn_in_weeks


@dataclass
class PolicyResult:
    """What one policy-seed run produced (arrays indexed by policy week unless stated).

    Attributes
    ----------
    config : PolicyConfig
    escalations : int
        Escalation incidents during the policy weeks.
    county_escalations : ndarray of int64, shape (n_counties,)
    county_households : ndarray of int64, shape (n_counties,)
    county_names : list of str
    weekly_county : ndarray of int64, shape (weeks, n_counties)
        Escalations per policy week and county.
    revisits : int
        Policy revisits made.
    revisits_found_dispute : int
        Revisits whose record shows a dispute (what the officer found).
    revisits_active : int
        Revisits of households with an active dispute (latent truth).
    log : DataFrame
        Selection log: ``week`` (int), ``hh`` (int), ``arm`` (``select.ARM_*``),
        ``outcome`` (escalations in the ``OUTCOME_DAYS`` after that Monday, from the
        incident records), ``truth`` (latent expected escalations in the same days);
        weeks whose outcome window ends after the run are dropped.
    rounds : list of dict
        Model policy: one entry per (re)training (week, rows, positives, seconds).
    seconds : float
        Wall time of the run.
    """

    config: PolicyConfig
    escalations: int
    county_escalations: np.ndarray
    county_households: np.ndarray
    county_names: list[str]
    weekly_county: np.ndarray
    revisits: int
    revisits_found_dispute: int
    revisits_active: int
    log: pd.DataFrame
    rounds: list[dict[str, Any]]
    seconds: float


def _local_midnight(start: dt.date, day: int) -> pd.Timestamp:
    return pd.Timestamp(start + dt.timedelta(days=day)).tz_localize(TIMEZONE)


class _Policy:
    """The engine hook (:class:`simulation.revisits.RevisitHook`) of one run."""

    def __init__(self, config: PolicyConfig, world: W.World) -> None:
        self.config = config
        self.world = world
        self.effect = config.effect
        seed = int(config.seed)
        self.draw_seed = seed * 1_000 + 1
        self.rng = np.random.default_rng([seed, 2])
        self.choice_rng = np.random.default_rng([seed, 3, ALL_POLICIES.index(config.policy)])
        self.records = Records(world, config.start, [seed, 4])
        self.last_week = np.full(world.n, -(10**6), np.int64)
        self.snapshots: list[np.ndarray] = []
        self.sel_week: list[np.ndarray] = []
        self.sel_hh: list[np.ndarray] = []
        self.sel_arm: list[np.ndarray] = []
        self.revisit_active = 0
        self.model = (
            ModelPolicy(MODEL_VARIANTS[config.policy], seed)
            if config.policy in MODEL_VARIANTS
            else None
        )

    # ------------------------------------------------------------- scoring
    def _frame(
        self, day: int, dates: list[pd.Timestamp], labels: bool
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        from features.build import build_features

        visits, incidents = self.records.tables(day)
        return build_features(visits, incidents, dates, with_labels=labels), visits

    def _index(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["household_id"].str.slice(1).astype(np.int64).to_numpy() - 1

    def _train(self, day: int, week: int) -> None:
        from warehouse.contract import LABEL_COLUMN

        c = self.config
        last = day - 35  # a Monday whose 30-day horizon ended before today
        days = [last - 14 * k for k in range(max(2, c.train_weeks // 2)) if last - 14 * k >= 28]
        dates = [_local_midnight(c.start, d) for d in sorted(days)]
        frame, visits = self._frame(day, dates, labels=True)
        assert self.model is not None
        self.model.train(frame[frame[LABEL_COLUMN].notna()], visits, week)

    def _scores(self, view: WeekView, week: int) -> np.ndarray:
        c = self.config
        n = self.world.n
        if c.policy == "random":
            return self.choice_rng.random(n)
        if c.policy == "oracle":
            return np.where(view.active, view.oracle_prob, 0.0)
        if self.model is not None and (
            not self.model.ready or (c.retrain_every and week % c.retrain_every == 0)
        ):
            self._train(view.day, week)
        frame, _ = self._frame(view.day, [_local_midnight(c.start, view.day)], labels=False)
        if self.model is not None:
            if not self.model.ready:
                raise SimulationConfigError(
                    f"the {c.policy!r} policy found too few labelled rows to train on at "
                    f"policy week {week}; expected a longer burn-in or a larger world"
                )
            values = self.model.score(frame)
        else:
            from training.baselines import officer_rule_scores

            values = officer_rule_scores(frame, c.policy.split(":", 1)[1])
        score = np.full(n, -np.inf)
        score[self._index(frame)] = values
        return score

    # ---------------------------------------------------------------- hook
    def choose(self, view: WeekView) -> tuple[np.ndarray, np.ndarray]:
        """Households to revisit this week and their day offsets (Monday-Friday)."""
        c = self.config
        empty = np.zeros(0, np.int64)
        if view.day < c.policy_day:
            return empty, empty
        week = (view.day - c.policy_day) // 7
        self.snapshots.append(view.cum_hazard)
        self.records.update(view.visits, view.incidents)
        if c.policy == "none" or c.capacity == 0:
            return empty, empty
        score = self._scores(view, week)
        eligible = week - self.last_week >= c.cooldown_weeks
        sel = select(
            score,
            self.world.township,
            eligible,
            c.capacity,
            self.choice_rng,
            lottery_share=c.lottery_share,
            lottery_pool=c.lottery_pool,
        )
        self.last_week[sel.revisit] = week
        self.revisit_active += int(view.active[sel.revisit].sum())
        self.sel_week.append(np.full(sel.log_hh.size, week, np.int64))
        self.sel_hh.append(sel.log_hh)
        self.sel_arm.append(sel.log_arm)
        return sel.revisit, self.choice_rng.integers(0, 5, sel.revisit.size)


def _selection_log(hook: _Policy, log: engine.EventLog, config: PolicyConfig) -> pd.DataFrame:
    """The selection log with outcomes from the incident records and latent truth."""
    if not hook.sel_hh:
        return pd.DataFrame(
            {k: np.zeros(0, t) for k, t in (("week", int), ("hh", int), ("arm", np.int8))}
            | {"outcome": np.zeros(0, int), "truth": np.zeros(0)}
        )
    week = np.concatenate(hook.sel_week)
    hh = np.concatenate(hook.sel_hh)
    arm = np.concatenate(hook.sel_arm)
    span = OUTCOME_DAYS // 7
    keep = week + span < len(hook.snapshots)
    week, hh, arm = week[keep], hh[keep], arm[keep]
    snaps = np.stack(hook.snapshots)  # (weeks, n)
    truth = snaps[week + span, hh] - snaps[week, hh]
    esc = np.isin(log.incidents["category"], escalation_codes())
    e_hh, e_day = log.incidents["hh"][esc], log.incidents["day"][esc]
    start = config.policy_day + 7 * week
    # escalations of household hh reported in [start, start + OUTCOME_DAYS)
    key = e_hh.astype(np.int64) * 100_000 + e_day
    key.sort()
    lo = np.searchsorted(key, hh * 100_000 + start)
    hi = np.searchsorted(key, hh * 100_000 + start + OUTCOME_DAYS)
    return pd.DataFrame({"week": week, "hh": hh, "arm": arm, "outcome": hi - lo, "truth": truth})


def run_policy(config: PolicyConfig) -> PolicyResult:
    """Run one policy on one seed.

    Parameters
    ----------
    config : PolicyConfig

    Returns
    -------
    PolicyResult

    Raises
    ------
    SimulationConfigError
        If a parameter is out of range.
    """
    started = time.perf_counter()
    config.validate()
    sim = SimulationConfig(
        households=config.households, start=config.start, end=config.end, seed=config.seed
    ).validate()
    rng = np.random.default_rng(config.seed)
    world = W.build_world(sim, rng)
    hook = _Policy(config, world)
    log = engine.run(world, sim, rng, revisits=hook)

    esc = np.isin(log.incidents["category"], escalation_codes())
    in_period = esc & (log.incidents["day"] >= config.policy_day)
    e_hh = log.incidents["hh"][in_period]
    e_week = (log.incidents["day"][in_period] - config.policy_day) // 7
    n_counties = len(world.county_names)
    county = world.county[e_hh]
    weekly = np.zeros((config.weeks, n_counties), np.int64)
    np.add.at(weekly, (e_week, county), 1)
    rv = log.visits.get("revisit", np.zeros(0, bool)).astype(bool)
    result = PolicyResult(
        config=config,
        escalations=int(in_period.sum()),
        county_escalations=weekly.sum(axis=0),
        county_households=np.bincount(world.county, minlength=n_counties),
        county_names=list(world.county_names),
        weekly_county=weekly,
        revisits=int(rv.sum()),
        revisits_found_dispute=int(log.visits["has_dispute"][rv].astype(bool).sum()),
        revisits_active=hook.revisit_active,
        log=_selection_log(hook, log, config),
        rounds=hook.model.rounds if hook.model is not None else [],
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "%s seed %d: %d escalations, %d revisits in %.0f s",
        config.policy,
        config.seed,
        result.escalations,
        result.revisits,
        result.seconds,
    )
    return result


__all__ = [
    "ARM_LOTTERY_WIN",
    "ARM_RANKED",
    "ALL_POLICIES",
    "POLICIES",
    "PolicyConfig",
    "PolicyResult",
    "run_policy",
]
