"""Revisits chosen by a policy: what a revisit does to a household, and the engine's hook.

The world's side of the policy simulation (``revisit simulate-policy``). The policy
loop (:mod:`simulation.policy`) decides each Monday which households each township's
officers revisit that week; the engine (:func:`simulation.engine.run`) carries the
revisits out and applies their effect. Nothing here imports anything of ours but the
simulator and ``warehouse.contract`` (through it).

What a revisit does (every size configurable in :class:`RevisitEffect`)
-----------------------------------------------------------------------
A revisit is a visit: somebody is home unless the household is out (``NOBODY_HOME``,
6 %) or the officer is one of the fabricating ones; an active dispute is disclosed
with the simulator's probabilities (55 % + 10 % serious / + 20 % major, 90 % when the
police already know it, x 0.3 for secretive households). It is recorded like any visit
(approved, review and recording delays added by the records layer).

* **Mediation** (``mediation``, ``mediation_boost``). A revisit that finds the dispute
  tries mediation with the simulator's type-specific success rates
  (``DISPUTE_TYPES_PARAMS``: 20 % inheritance ... 55 % "other", times 1 / 0.7 / 0.4 by
  severity), times ``mediation_boost`` (default 1: a revisit mediates exactly as well
  as any visit; SOURCE: the simulator's own stated assumptions in
  :mod:`simulation.world`). Success ends the dispute (15 % silently relapse, escalation
  weight x 0.8); failure leaves it "mediating" (x 0.6), as for any visit.
* **Deterrence** (``hazard_factor``, ``protect_days``). A revisit that meets somebody
  in a household with an active dispute (disclosed or not) multiplies the household's
  escalation hazard by ``hazard_factor`` for ``protect_days`` days. ASSUMPTION: 0.7
  for 28 days, i.e. a 30 % reduction for four weeks: the order of the average effect
  of problem-oriented policing in Hinkle, Weisburd, Telep & Petersen (2020, Campbell
  Systematic Reviews 16(2), e1089: about a third less crime and disorder), which is
  larger than what second-responder programmes for domestic violence showed (Davis,
  Weisburd & Taylor 2008, Campbell Systematic Reviews: no significant reduction).
  Treat the default as an optimistic planning figure, not a measured one.
* **Zero effect** (:meth:`RevisitEffect.zero`): revisits are recorded, nothing in the
  world changes; with the same seed every policy then yields exactly the escalations
  of ``none``.

Random numbers (common random numbers)
--------------------------------------
In policy mode every draw that shapes the latent state (escalations and their
consequences, dispute calls, onsets and their type, severity and duration, routine
visits, disclosure and mediation at ordinary visits, follow-up dates, and the
fabricating and perfunctory officers' per-visit draws, since a made-up visit
discloses and mediates nothing) is keyed by (day, site, household) from
``draw_seed``; revisit outcomes come from ``rng``; draws that only shape records
(times of day, persons met) come from the run's generator. A household that no
policy revisits therefore lives the same life under every policy of one seed.
Two policies of one seed therefore share their random numbers: a household escalates
under both unless a revisit changed its hazard, which makes "averted" a paired
difference with little noise. ``revisit simulate`` (no hook) draws everything from its
single generator, exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulation.errors import SimulationConfigError


@dataclass(frozen=True)
class RevisitEffect:
    """Effect sizes of a policy revisit (see the module docstring for their sources).

    Parameters
    ----------
    mediation : bool, default True
        A revisit that finds an active dispute tries mediation.
    mediation_boost : float, default 1.0
        Multiplier on the simulator's mediation success probability (>= 0; the product
        is capped at 1).
    hazard_factor : float, default 0.7
        Multiplier on the escalation hazard (per day) of a revisited household with an
        active dispute, in (0, 1]; 1 means no deterrence.
    protect_days : int, default 28
        Days the deterrence lasts (>= 0).
    """

    mediation: bool = True
    mediation_boost: float = 1.0
    hazard_factor: float = 0.7
    protect_days: int = 28

    @classmethod
    def zero(cls) -> RevisitEffect:
        """The zero-effect setting: revisits are recorded and change nothing."""
        return cls(mediation=False, mediation_boost=0.0, hazard_factor=1.0, protect_days=0)

    @property
    def is_zero(self) -> bool:
        """True when a revisit changes nothing in the world."""
        return not self.mediation and (self.hazard_factor == 1.0 or self.protect_days == 0)

    def validate(self) -> RevisitEffect:
        """Check the sizes and return ``self``.

        Raises
        ------
        SimulationConfigError
            If a size is out of range.
        """
        if not self.mediation_boost >= 0.0:
            raise SimulationConfigError(
                f"mediation_boost must be >= 0, got {self.mediation_boost!r}"
            )
        if not 0.0 < self.hazard_factor <= 1.0:
            raise SimulationConfigError(
                f"hazard_factor must be in (0, 1], got {self.hazard_factor!r}"
            )
        if int(self.protect_days) != self.protect_days or self.protect_days < 0:
            raise SimulationConfigError(
                f"protect_days must be a non-negative integer, got {self.protect_days!r}"
            )
        return self


@dataclass
class WeekView:
    """What the engine shows the policy loop at the start of a Monday.

    Parameters
    ----------
    day : int
        Days since the window start (this Monday).
    oracle_prob : ndarray of float64, shape (n_households,)
        The simulator's escalation probability within 30 days (latent; oracle only).
    active : ndarray of bool, shape (n_households,)
        Whether a dispute is active (latent; oracle only).
    cum_hazard : ndarray of float64, shape (n_households,)
        Summed daily escalation hazard so far (expected escalations; latent, for
        checking estimators only).
    visits, incidents : dict of str to list of ndarray
        The event log so far as appended chunks (same keys as
        :class:`simulation.engine.EventLog`; visits also carry ``revisit``). Append-only:
        a reader may remember how many chunks it has seen.
    """

    day: int
    oracle_prob: np.ndarray
    active: np.ndarray
    cum_hazard: np.ndarray
    visits: dict[str, list[np.ndarray]]
    incidents: dict[str, list[np.ndarray]]


class RevisitHook(Protocol):
    """What :func:`simulation.engine.run` needs from a policy loop."""

    effect: RevisitEffect
    draw_seed: int
    rng: np.random.Generator

    def choose(self, view: WeekView) -> tuple[np.ndarray, np.ndarray]:
        """Households to revisit this week and the day offset (0-6) of each revisit."""
        ...
