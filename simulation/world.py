"""The model of the world: configuration, rates and the synthetic prefecture.

Every rate below is either a calibration target from ``DESIGN.md`` (the
published figures of the Qianxinan campaign) or a stated ASSUMPTION chosen to
make the published figures come out and the dynamics plausible.  No real
person, household, ID number or record is used; everything is drawn from a
``numpy.random.Generator`` seeded by the caller.

Calibration targets (DESIGN.md)
-------------------------------
* 675 000 of ~1 000 000 households visited in 38 days (reference campaign
  wave) -> each wave visits ``WAVE_COVERAGE`` = 66 % of households in its
  first 38 days (~72 % counting routine and follow-up visits in those days);
  a mop-up brings the wave to ~88 %.
* 56 995 officer-days for 675 000 households -> ~11.8 households per
  officer-day; one community officer per ~150 households (ASSUMPTION), who
  spends ``WAVE_WORK_DAYS`` = 8 days of a wave on it, gives that pace for
  campaign visits (routine and follow-up visits on other days lower the
  measured visits per officer-day to ~5).
* 65 200 disputes found in 675 000 visited households -> ~9.7 % of campaign
  visits record a dispute.  With disclosure ~65 % this needs ~14 % of
  households in an active dispute at any time (``ONSET_RATE`` x mean duration).
* 151 000 hazards found -> ~0.22 hazard items per campaign visit
  (``HAZARD_RATES`` x ``HAZARD_DISCLOSURE``).
* 99.83 % of disputes handled -> ``resolution_status`` "unresolved" in
  ~0.2 % of dispute records; the rest are resolved, mediating or referred.

Households (ASSUMPTIONS, plausible for rural Guizhou)
-----------------------------------------------------
* Nine county-level units weighted by resident population (7th census,
  rounded; Xingyi largest): ``COUNTIES``.  Townships and villages are
  synthetic names, unique within a county, but 8 % of townships and 12 % of
  villages share their name with one in another county
  (``TOWNSHIP_REPEAT_SHARE``, ``VILLAGE_REPEAT_SHARE``); each village has a lognormal effect (sigma 0.35) on
  dispute onsets.
* Household type mix ``HOUSEHOLD_TYPE_PROBS`` (left-behind and migrant-worker
  households are common in the prefecture).
* Static hazards ``HAZARD_RATES``: registered severe mental illness ~1 % of
  households (China registers ~0.45 % of people), released prisoners 0.6 %,
  drug users 0.4 %, ...; elderly-alone and unattended minors depend on type.
* Latent conflict propensity: lognormal with sigma ``PROPENSITY_SIGMA``
  (mean 1).  It multiplies dispute onsets and (with exponent
  ``PROPENSITY_ESCALATION_EXPONENT``) escalation hazard, so that about half
  of all escalations fall in the riskiest 5 % of households
  (repeat-victimisation concentration).  20 % of households are "secretive"
  (``SECRETIVE_SHARE``) and disclose disputes far less often.

Disputes
--------
* Onsets: one dispute at a time per household (simplification); daily
  rate ``ONSET_RATE`` x propensity x village effect x type mix x seasonality x
  self-excitation ``1 + EXCITATION * e`` where ``e`` jumps by 1 at each
  onset or escalation and decays with time constant ``EXCITATION_DAYS``.
* Seasonality: family disputes peak around the Spring Festival (Chinese New
  Year 2024-02-10, 2025-01-29, 2026-02-17, 2027-02-06; Gaussian bump, sd 15
  days, +80 %); wage disputes peak 20 days before it; land disputes peak at
  planting (~10 April) and harvest (~25 September).
* Type shares, severity distributions, lognormal durations (median days,
  sigma 1.1, so some last years) and mediation success: ``DISPUTE_TYPES_PARAMS``.
* Mediation at a visit that finds the dispute: success probability by type
  times ``(1, 0.7, 0.4)`` by severity; success -> "resolved" (signed
  agreement 60 %); 15 % of "resolved" disputes silently relapse.  Failure ->
  "referred" (10 %, 25 % if serious/major), "unresolved" (0.2 %), else
  "mediating"; a follow-up is due in 30/15/7 days by severity and made
  before the due date 85 % of the time.

Visits
------
* Campaign waves start 1 March and 1 September each year: 66 % of
  households in the first 38 days (70 % with routine and follow-up visits),
  a further 60 % of the rest in the next 30 days (mop-up).  Each officer
  works ``WAVE_WORK_DAYS`` days of a wave on it, which gives ~12 households
  per officer-day (DESIGN.md: 675 000 / 56 995 = 11.8).  Routine visits every ~240 days on average; key
  populations (released prisoner, severe mental illness, drug use, self-harm
  signs) every ~30 days; a follow-up within 3 days after any escalation.
* Detection: a dispute is recorded only if it is active, somebody is met
  (nobody home 6 %) and the household discloses it: 55 % (+10 % serious,
  +20 % major), 90 % if police already know it; secretive households x 0.3.
* Recording delay: lognormal (median 6 h, sigma 1.5) plus a 3 % tail of
  7-40 days.  Supervisor review: lognormal (median 1 day); 2.5 % rejected
  (10 % for fabricating officers); not yet reviewed at export -> pending.
* Officers' conduct (``OFFICER_KINDS``, drawn from a generator of its own so
  the rest of the world is unchanged): 5 % (at least one) fabricate a share
  (30-80 %) of their visits: the record claims someone met (usually one or
  two people) and finds nothing (rejected at review 10 % of the time).  Half
  of them are blatant: the records are typed at a desk in one sitting, 2-4
  minutes apart, a third of the sittings late in the evening, recorded
  minutes after the claimed time; the other half are careful: they claim
  daytime visits 8-20 minutes apart and type them in an evening sitting, as
  a quarter of honest officers do with their real visits (which follow a
  route, 20-45 minutes apart, from the morning on); 4 % are
  perfunctory for a share (50-90 %) of their visits: someone is met but
  nothing is asked, so nothing is ever found, and such visits follow each
  other 4-8 minutes apart.  Two honest kinds look odd on one indicator each:
  6 % are slow recorders (records typed a median 3 days late) and 6 % serve
  hard villages (disclosure x 0.5, hazards disclosed half as often), where
  little is found.  All this lowers the recorded dispute share per campaign
  visit by about a tenth (seed 3, 20 000 households, 2025: 0.090 -> 0.079).  ``ground_truth/officers.parquet`` has each officer's kind.

Incidents
---------
* Escalations (domestic violence, fights, injuries, self-harm, mass
  incidents, rarely homicide) with daily hazard
  ``h = B_h * (1 + D)`` where ``B_h = ESC_BASE * propensity**0.5 *
  prod(1 + HAZARD_ESC_WEIGHTS) * (1 + PRIOR_ESC_WEIGHT * min(prior, 3))`` and
  ``D = c_type * c_sev * (1 + AGE_BOOST * exp(-age / AGE_TAU)) * m_med *
  volatile``: non-linear in severity (3, 12, 40), decaying with dispute age,
  damped by mediation (0.6 mediating, 0.7 referred, 0.8 relapsed) and doubled
  with drug use, severe mental illness or a controlled weapon.  Disputes no
  officer recorded escalate just the same.  An escalation raises the
  dispute's severity one level half of the time, makes police aware of it,
  excites further disputes and brings an officer within 1-3 days.  Target:
  0.3-1 % of households escalate within 30 days.

Measured (``simulation.calibration``, 20 000 households, 2024-11-29 ..
2026-11-29, seeds 0-2): dispute share per campaign visit 0.10-0.11, hazards
per campaign visit 0.22-0.23, coverage in 38 days 0.71-0.72, handled 99.9 %,
30-day escalation rate 0.48 %, top-5 % share of escalations 0.55-0.57, oracle
AUC 0.83-0.84, best single visible feature AUC 0.61-0.62.
* Dispute calls while a dispute is active (``CALL_RATE`` by severity);
  unrelated fraud (x5 for fraud targets), theft and other incidents.

Ground truth
------------
``oracle_prob`` at each Monday t is ``1 - exp(-H)`` where ``H`` sums the
daily hazards over [t, t + 30 d) **with the latent state frozen at t**: the
active dispute ages deterministically and stops at its scheduled natural end
(a latent the simulator knows), mediation state and prior escalations stay
as they are, and new disputes enter through their expected contribution
(closed form, see :func:`simulation.engine.oracle_probability`).  It is a
closed form, not a Monte-Carlo estimate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from simulation.errors import SimulationConfigError
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DISPUTE_TYPES,
    HOUSEHOLD_TYPES,
    RISK_HAZARDS,
)

#: County-level units: (Chinese name, resident population in 10 000s, ID-number prefix).
#: Populations are rounded approximations; prefixes 522391-522399 are deliberately
#: NOT real region codes, so generated ID numbers cannot be real people's.
COUNTIES: Final[tuple[tuple[str, float, str], ...]] = (
    ("兴义市", 120.0, "522391"),
    ("兴仁市", 45.0, "522392"),
    ("安龙县", 40.0, "522393"),
    ("贞丰县", 33.0, "522394"),
    ("普安县", 25.0, "522395"),
    ("晴隆县", 25.0, "522396"),
    ("册亨县", 19.0, "522397"),
    ("望谟县", 25.0, "522398"),
    ("义龙新区", 22.0, "522399"),
)

HOUSEHOLD_TYPE_CODES: Final = tuple(HOUSEHOLD_TYPES)
HOUSEHOLD_TYPE_PROBS: Final = np.array([0.55, 0.12, 0.08, 0.05, 0.13, 0.07])
DISPUTE_TYPE_CODES: Final = tuple(DISPUTE_TYPES)
HAZARD_CODES: Final = tuple(RISK_HAZARDS)

#: Per dispute type: share of onsets, severity probs (general, serious, major),
#: median duration (days), mediation success, escalation weight c_type.
DISPUTE_TYPES_PARAMS: Final[
    dict[str, tuple[float, tuple[float, float, float], float, float, float]]
] = {
    "marriage_family": (0.30, (0.75, 0.20, 0.05), 40.0, 0.35, 1.5),
    "neighbour": (0.25, (0.80, 0.17, 0.03), 30.0, 0.50, 1.0),
    "land_forest": (0.18, (0.60, 0.30, 0.10), 90.0, 0.25, 1.2),
    "property_inheritance": (0.08, (0.65, 0.28, 0.07), 120.0, 0.20, 0.8),
    "debt_economic": (0.10, (0.70, 0.25, 0.05), 60.0, 0.30, 0.7),
    "labour_wage": (0.04, (0.70, 0.25, 0.05), 30.0, 0.40, 0.6),
    "other": (0.05, (0.85, 0.13, 0.02), 20.0, 0.55, 0.4),
}
#: Dispute-type multipliers by household type (rows: HOUSEHOLD_TYPE_CODES).
TYPE_MIX: Final = np.array(
    [
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # ordinary
        [0.6, 1.0, 1.2, 1.5, 0.5, 0.2, 1.0],  # left-behind elderly
        [1.3, 0.9, 0.8, 0.7, 0.8, 0.5, 1.0],  # left-behind children
        [2.2, 1.0, 0.8, 1.8, 1.0, 0.8, 1.0],  # reconstituted family
        [1.1, 0.8, 1.0, 0.8, 1.2, 3.0, 1.0],  # migrant worker
        [0.3, 1.0, 0.8, 0.8, 0.6, 0.3, 1.0],  # living alone
    ]
)
DURATION_SIGMA: Final = 1.1
SEVERITY_WEIGHTS: Final = np.array([3.0, 12.0, 40.0])
SEVERITY_MEDIATION: Final = np.array([1.0, 0.7, 0.4])
FOLLOWUP_DAYS: Final = np.array([30, 15, 7])

#: Per hazard: share of households (for elderly_alone / unattended_minor see
#: ``_static_hazards``), escalation weight w_k (hazard multiplies by 1 + w_k).
HAZARD_RATES: Final = np.array([0.006, 0.010, 0.004, 0.030, 0.004, 0.010, 0.0, 0.0, 0.080])
HAZARD_ESC_WEIGHTS: Final = np.array([1.5, 2.0, 1.5, 0.0, 4.0, 1.0, 0.2, 0.1, 0.0])
HAZARD_DISCLOSURE: Final = 0.75
KEY_POPULATION: Final = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
VOLATILE: Final = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0], dtype=bool)

PROPENSITY_SIGMA: Final = 0.9
PROPENSITY_ESCALATION_EXPONENT: Final = 0.5
VILLAGE_SIGMA: Final = 0.35
SECRETIVE_SHARE: Final = 0.2
ONSET_RATE: Final = 0.0027  # disputes per household-day at propensity 1, before seasonality
EXCITATION: Final = 0.8
EXCITATION_DAYS: Final = 90.0

ESC_BASE: Final = 4.0e-5  # escalations per household-day without dispute or hazard
AGE_BOOST: Final = 3.0
AGE_TAU: Final = 14.0  # days
PRIOR_ESC_WEIGHT: Final = 1.0
MEDIATION_DAMPING: Final = np.array([1.0, 0.6, 0.7, 0.8])  # none, mediating, referred, relapsed
VOLATILE_FACTOR: Final = 2.0
CALL_RATE: Final = np.array([0.003, 0.006, 0.012])  # dispute calls per day by severity

#: Escalation categories in this order, and probabilities by cause (rows:
#: dispute types in DISPUTE_TYPE_CODES order, then "background", then "self-harm hazard").
ESCALATION_CODES: Final = DEFAULT_ESCALATION_CATEGORIES  # the contract's escalation set
ESCALATION_MIX: Final = np.array(
    [
        [0.56, 0.14, 0.17, 0.125, 0.00, 0.005],
        [0.02, 0.61, 0.32, 0.03, 0.018, 0.002],
        [0.01, 0.45, 0.29, 0.03, 0.218, 0.002],
        [0.20, 0.40, 0.31, 0.07, 0.017, 0.003],
        [0.05, 0.40, 0.31, 0.20, 0.038, 0.002],
        [0.00, 0.35, 0.20, 0.10, 0.35, 0.00],
        [0.10, 0.55, 0.25, 0.08, 0.02, 0.00],
        [0.20, 0.50, 0.235, 0.06, 0.004, 0.001],
        [0.05, 0.10, 0.10, 0.749, 0.00, 0.001],
    ]
)
#: Unrelated incidents per household-day: fraud (x5 for fraud targets), theft, other.
UNRELATED_RATES: Final = np.array([1.0 / 4000, 1.0 / 5000, 1.0 / 6000])

WAVE_STARTS: Final = ((3, 1), (9, 1))  # (month, day)
WAVE_DAYS: Final = 38
WAVE_COVERAGE: Final = 0.66
MOPUP_DAYS: Final = 30
WAVE_WORK_DAYS: Final = 8
MOPUP_WORK_DAYS: Final = 3
MOPUP_SHARE: Final = 0.6
ROUTINE_DAYS: Final = 240.0
KEY_POPULATION_DAYS: Final = 30.0
HOUSEHOLDS_PER_OFFICER: Final = 150
FABRICATING_SHARE: Final = 0.05
#: Officers' conduct codes (index into this tuple) and the share of officers of each
#: kind other than honest and fabricating (fabricating: ``FABRICATING_SHARE``).
OFFICER_KINDS: Final = ("honest", "fabricating", "perfunctory", "slow_recorder", "hard_village")
OFFICER_KIND_SHARES: Final = {"perfunctory": 0.04, "slow_recorder": 0.06, "hard_village": 0.06}
FABRICATED_SHARE_RANGE: Final = (0.3, 0.8)  # share of a fabricating officer's visits made up
PERFUNCTORY_SHARE_RANGE: Final = (0.5, 0.9)  # share of a perfunctory officer's visits
HARD_VILLAGE_DISCLOSURE: Final = 0.5
SLOW_RECORDER_DELAY_MINUTES: Final = 3 * 1440.0  # median recording delay of slow recorders
NOBODY_HOME: Final = 0.06
REJECT_RATE: Final = 0.025
REJECT_RATE_FABRICATING: Final = 0.10

#: Approximate dates of the Spring Festival (Chinese New Year).
SPRING_FESTIVALS: Final = ("2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06")

FORMATS: Final = ("xlsx", "csv")
XLSX_MAX_HOUSEHOLDS: Final = 50_000


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of one simulation run.

    Parameters
    ----------
    households : int
        Number of households (>= 100).
    start, end : datetime.date
        Simulated window, inclusive, local dates (Asia/Shanghai); at least 35 days.
    seed : int
        Seed of the single ``numpy.random.Generator``; same seed -> same files.
    fmt : {"xlsx", "csv"} or None
        Export format; None means xlsx up to 50 000 households, csv above.
    duplicate_rate : float
        Share of export rows re-sent as exact duplicates (probability, default 0.002).
    malformed_rate : float
        Share of export rows made malformed (probability, default 0.0005).
    """

    households: int = 20_000
    start: dt.date = field(default_factory=lambda: dt.date(2024, 11, 29))
    end: dt.date = field(default_factory=lambda: dt.date(2026, 11, 29))
    seed: int = 0
    fmt: str | None = None
    duplicate_rate: float = 0.002
    malformed_rate: float = 0.0005

    @property
    def export_format(self) -> str:
        """The export format actually used (``xlsx`` or ``csv``)."""
        if self.fmt is not None:
            return self.fmt
        return "xlsx" if self.households <= XLSX_MAX_HOUSEHOLDS else "csv"

    def validate(self) -> SimulationConfig:
        """Check the parameters and return ``self``.

        Raises
        ------
        SimulationConfigError
            If a parameter is out of range.
        """
        if self.households < 100:
            raise SimulationConfigError(f"households must be >= 100, got {self.households!r}")
        if (self.end - self.start).days < 34:
            raise SimulationConfigError(
                f"the window must span at least 35 days, got start={self.start!r} end={self.end!r}"
            )
        if self.fmt is not None and self.fmt not in FORMATS:
            raise SimulationConfigError(f"format must be one of {FORMATS!r}, got {self.fmt!r}")
        for name in ("duplicate_rate", "malformed_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 0.1:
                raise SimulationConfigError(f"{name} must be in [0, 0.1], got {rate!r}")
        return self


@dataclass
class World:
    """The synthetic prefecture: geography and static household attributes.

    All arrays have shape ``(n_households,)`` unless stated.
    """

    county_names: list[str]
    county_prefix: list[str]
    township_names: list[str]
    township_county: np.ndarray  # (n_townships,) int
    village_names: list[str]
    village_township: np.ndarray  # (n_villages,) int
    officer: np.ndarray  # (n_households,) int: the household's community officer
    officer_township: np.ndarray  # (n_officers,) int
    officer_fabricating: np.ndarray  # (n_officers,) bool
    officer_kind: np.ndarray  # (n_officers,) int index into OFFICER_KINDS
    officer_share: np.ndarray  # (n_officers,) float: share of visits fabricated / perfunctory
    village: np.ndarray  # int
    township: np.ndarray  # int
    county: np.ndarray  # int
    household_type: np.ndarray  # int index into HOUSEHOLD_TYPE_CODES
    size: np.ndarray  # int, persons
    hazards: np.ndarray  # (n, 9) bool
    propensity: np.ndarray  # float, mean 1
    village_effect: np.ndarray  # float, per household (its village's effect)
    secretive: np.ndarray  # bool

    @property
    def n(self) -> int:
        """Number of households."""
        return int(self.village.shape[0])


_TOWN_SYLLABLES = "安宁丰平和兴德仁义礼智信福寿康乐泰顺鲁屯坡营冲寨洞岭坝湾河桥田"
_VILLAGE_SYLLABLES = "红星光明新华东南西北中上下大小金银石竹松柏桃李梨花果山水云龙凤"


def _names(
    rng: np.random.Generator, k: int, syllables: str, suffixes: tuple[str, ...]
) -> list[str]:
    chars = np.array(list(syllables))
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < k:
        width = 2 if len(seen) < len(chars) ** 2 // 4 else 3
        stem = "".join(rng.choice(chars, width))
        name = f"{stem}{suffixes[int(rng.integers(len(suffixes)))]}"
        if name in seen:
            continue
        seen.add(name)
        out.append(name)
    return out


#: Share of townships and of villages that carry the name of one in another county (names
#: such as 城关镇, 新华村 or 红星村 recur across a real prefecture), so that a bare name is
#: ambiguous and jurisdictions must be paths. ASSUMPTION: a plausible rate, not measured.
TOWNSHIP_REPEAT_SHARE = 0.08
VILLAGE_REPEAT_SHARE = 0.12


def _repeat_across_counties(names: list[str], county_of: np.ndarray, share: float) -> list[str]:
    """Give every ``1/share``-th place the name of a place in another county.

    Deterministic (no draw from the run's generator, so every other part of the
    world is what it was): place ``i`` with ``i % step == step // 2`` takes the
    name of the first place from ``i + k // 2`` on (cyclically) that lies in
    another county and whose name is not used in ``i``'s county yet. Names stay
    unique within a county (hence within a township).
    """
    k = len(names)
    step = max(1, round(1.0 / share)) if share > 0 else 0
    if k < 2 or step == 0:
        return list(names)
    out = list(names)
    used: dict[int, set[str]] = {}
    for i, name in enumerate(out):
        used.setdefault(int(county_of[i]), set()).add(name)
    for i in range(step // 2, k, step):
        own = int(county_of[i])
        for t in range(k):
            j = (i + k // 2 + t) % k
            if int(county_of[j]) != own and out[j] not in used[own]:
                used[own].discard(out[i])
                out[i] = out[j]
                used[own].add(out[j])
                break
    return out


def _officer_conduct(fabricating: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each officer's conduct kind and share of visits made up or perfunctory.

    Drawn from a generator of its own (seeded by ``seed``) so that the main
    stream, hence the rest of the world, does not depend on these draws.

    Parameters
    ----------
    fabricating : ndarray of bool, shape (n_officers,)
        Officers who fabricate (already drawn).
    seed : int
        The run's seed.

    Returns
    -------
    kind : ndarray of int8, shape (n_officers,)
        Index into :data:`OFFICER_KINDS`.
    share : ndarray of float64, shape (n_officers,)
        Share of the officer's visits fabricated (fabricating) or perfunctory
        (perfunctory), 0 otherwise.
    """
    rng = np.random.default_rng([seed, 0x0FF1CE])
    n = fabricating.shape[0]
    kind = np.where(fabricating, 1, 0).astype(np.int8)
    u = rng.random(n)
    lo = 0.0
    for name, p in OFFICER_KIND_SHARES.items():
        pick = ~fabricating & (u >= lo) & (u < lo + p)
        kind[pick] = OFFICER_KINDS.index(name)
        lo += p
    if n > 2 and not (kind == 2).any():  # at least one perfunctory officer
        kind[int(rng.choice(np.flatnonzero(~fabricating)))] = 2
    share = np.zeros(n)
    share = np.where(kind == 1, rng.uniform(*FABRICATED_SHARE_RANGE, n), share)
    share = np.where(kind == 2, rng.uniform(*PERFUNCTORY_SHARE_RANGE, n), share)
    return kind, share


def build_world(config: SimulationConfig, rng: np.random.Generator) -> World:
    """Draw the prefecture: counties, townships, villages, officers, households.

    Parameters
    ----------
    config : SimulationConfig
        Run parameters (uses ``households``).
    rng : numpy.random.Generator
        The run's generator.

    Returns
    -------
    World
    """
    n = config.households
    weights = np.array([c[1] for c in COUNTIES])
    weights = weights / weights.sum()
    n_villages = int(np.clip(n // 25, 40, 1200))
    n_townships = int(np.clip(n_villages // 10, 18, 120))
    # townships per county proportional to population, at least 2 each
    tw_per_county = np.maximum(2, np.round(weights * n_townships).astype(int))
    township_county = np.repeat(np.arange(len(COUNTIES)), tw_per_county)
    n_townships = township_county.shape[0]
    county_names = [c[0] for c in COUNTIES]
    township_names = _names(rng, n_townships, _TOWN_SYLLABLES, ("镇", "乡", "街道"))
    village_township = np.concatenate(
        [np.arange(n_townships), rng.integers(0, n_townships, n_villages - n_townships)]
    )
    village_township.sort()
    village_names = _names(rng, n_villages, _VILLAGE_SYLLABLES, ("村", "村", "村", "社区"))
    township_names = _repeat_across_counties(township_names, township_county, TOWNSHIP_REPEAT_SHARE)
    village_names = _repeat_across_counties(
        village_names, township_county[village_township], VILLAGE_REPEAT_SHARE
    )

    county = rng.choice(len(COUNTIES), size=n, p=weights)
    # a household's township: uniform among its county's townships; village: among the township's
    tw_start = np.concatenate([[0], np.cumsum(tw_per_county)[:-1]])
    township = tw_start[county] + (rng.random(n) * tw_per_county[county]).astype(int)
    vil_per_tw = np.bincount(village_township, minlength=n_townships)
    vil_start = np.concatenate([[0], np.cumsum(vil_per_tw)[:-1]])
    village = vil_start[township] + (rng.random(n) * vil_per_tw[township]).astype(int)

    # officers: one per ~150 households of a township, at least one; villages round-robin
    hh_per_tw = np.bincount(township, minlength=n_townships)
    off_per_tw = np.maximum(1, np.round(hh_per_tw / HOUSEHOLDS_PER_OFFICER).astype(int))
    officer_township = np.repeat(np.arange(n_townships), off_per_tw)
    off_start = np.concatenate([[0], np.cumsum(off_per_tw)[:-1]])
    # each officer looks after a contiguous block of ~150 households of a township, by village
    order = np.lexsort((np.arange(n), village, township))
    tw_sorted = township[order]
    first_of_tw = np.searchsorted(tw_sorted, np.arange(n_townships))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first_of_tw[tw_sorted]
    officer = off_start[township] + np.minimum(
        rank // HOUSEHOLDS_PER_OFFICER, off_per_tw[township] - 1
    )
    n_officers = officer_township.shape[0]
    fabricating = rng.random(n_officers) < FABRICATING_SHARE
    if not fabricating.any():
        fabricating[int(rng.integers(n_officers))] = True
    kind, share = _officer_conduct(fabricating, config.seed)

    htype = rng.choice(len(HOUSEHOLD_TYPE_CODES), size=n, p=HOUSEHOLD_TYPE_PROBS)
    size = 2 + rng.poisson(1.6, n)
    size = np.where(htype == 5, 1, size)  # living alone
    size = np.where(htype == 1, 1 + (rng.random(n) < 0.5), size)  # left-behind elderly
    hazards = rng.random((n, len(HAZARD_CODES))) < HAZARD_RATES
    elderly = ((htype == 1) & (rng.random(n) < 0.6)) | ((htype == 5) & (rng.random(n) < 0.5))
    hazards[:, 6] = elderly
    hazards[:, 7] = (htype == 2) & (rng.random(n) < 0.6)

    propensity = np.exp(PROPENSITY_SIGMA * rng.standard_normal(n) - PROPENSITY_SIGMA**2 / 2)
    v_eff = np.exp(VILLAGE_SIGMA * rng.standard_normal(n_villages) - VILLAGE_SIGMA**2 / 2)
    secretive = rng.random(n) < SECRETIVE_SHARE
    return World(
        county_names=county_names,
        county_prefix=[c[2] for c in COUNTIES],
        township_names=township_names,
        township_county=township_county,
        village_names=village_names,
        village_township=village_township,
        officer=officer,
        officer_township=officer_township,
        officer_fabricating=fabricating,
        officer_kind=kind,
        officer_share=share,
        village=village,
        township=township,
        county=county,
        household_type=htype,
        size=size,
        hazards=hazards,
        propensity=propensity,
        village_effect=v_eff[village],
        secretive=secretive,
    )
