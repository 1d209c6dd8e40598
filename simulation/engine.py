"""The daily simulation loop: vectorised household state, one iteration per day.

State is held in NumPy arrays of shape ``(n_households,)``; each simulated day
updates every household at once (no per-household Python loop).  The rates and
their sources are documented in :mod:`simulation.world`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from simulation import world as W
from simulation.revisits import RevisitHook, WeekView
from simulation.world import SimulationConfig, World
from warehouse.contract import INCIDENT_CATEGORIES

logger = logging.getLogger(__name__)

INCIDENT_CODES = tuple(INCIDENT_CATEGORIES)
_ESC_INCIDENT = np.array([INCIDENT_CODES.index(c) for c in W.ESCALATION_CODES])
_CALL_BY_TYPE = np.array(
    [
        INCIDENT_CODES.index(c)
        for c in (
            "family_dispute_call",
            "neighbour_dispute_call",
            "neighbour_dispute_call",
            "family_dispute_call",
            "other",
            "other",
            "other",
        )
    ]
)
_UNRELATED = np.array([INCIDENT_CODES.index(c) for c in ("fraud", "theft", "other")])

_TYPE_SHARE = np.array([p[0] for p in W.DISPUTE_TYPES_PARAMS.values()])
_TYPE_SEV = np.array([p[1] for p in W.DISPUTE_TYPES_PARAMS.values()])  # (7, 3)
_TYPE_MEDIAN = np.array([p[2] for p in W.DISPUTE_TYPES_PARAMS.values()])
_TYPE_MED_SUCCESS = np.array([p[3] for p in W.DISPUTE_TYPES_PARAMS.values()])
_TYPE_C = np.array([p[4] for p in W.DISPUTE_TYPES_PARAMS.values()])

#: status codes in the visit log (index into RESOLUTION_STATUSES order)
ST_RESOLVED, ST_MEDIATING, ST_UNRESOLVED, ST_REFERRED = 0, 1, 2, 3


@dataclass
class EventLog:
    """Everything that happened, as column arrays (one entry per visit / incident).

    ``visits`` keys: ``hh, day, minute, officer, persons, has_dispute, dtype, severity,
    parties, hazmask, status, agreement, followup_due, fabricating, perfunctory`` (int
    arrays; -1 = empty; day = days since the window start; minute = minute of the day;
    ``fabricating``: the record is made up, nobody went; ``perfunctory``: somebody went
    and met someone but asked nothing).
    ``incidents`` keys: ``hh, day, minute, category`` (index into INCIDENT_CATEGORIES).
    """

    visits: dict[str, np.ndarray]
    incidents: dict[str, np.ndarray]
    n_onsets: int
    wave_starts: list[int]


def seasonality(days: np.ndarray, start: dt.date) -> np.ndarray:
    """Seasonal multiplier of dispute onsets by type.

    Parameters
    ----------
    days : ndarray of int, shape (n_days,)
        Days since ``start``.
    start : datetime.date
        First day of the window (local date).

    Returns
    -------
    ndarray of float, shape (7, n_days)
        Multiplier per dispute type (DISPUTE_TYPE_CODES order) and day; see
        :mod:`simulation.world` for the peaks (Spring Festival, planting, harvest).
    """
    dates = np.datetime64(start, "D") + days
    ordinal = dates.astype("datetime64[D]").astype(np.int64).astype(float)
    out = np.ones((7, days.shape[0]))
    for sf in W.SPRING_FESTIVALS:
        c = float(np.datetime64(sf, "D").astype(np.int64))
        out[0] += 0.8 * np.exp(-(((ordinal - c) / 15.0) ** 2) / 2)
        out[5] += 0.8 * np.exp(-(((ordinal - c + 20.0) / 12.0) ** 2) / 2)
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64).astype(float)
    out[2] += 0.6 * np.exp(-(((doy - 100.0) / 20.0) ** 2) / 2)
    out[2] += 0.6 * np.exp(-(((doy - 268.0) / 25.0) ** 2) / 2)
    return out


def _age_sum(a0: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Sum over k in [0, length) of ``1 + AGE_BOOST * exp(-(a0 + k) / AGE_TAU)`` (closed form)."""
    q = np.exp(-1.0 / W.AGE_TAU)
    return length + W.AGE_BOOST * np.exp(-a0 / W.AGE_TAU) * (1 - q**length) / (1 - q)


def _new_dispute_kernel() -> np.ndarray:
    """K[m]: expected summed dispute factor of a dispute starting on day u ~ each of m days.

    ``K[m] = sum_{u<m} sum_{k<m-1-u} (1 + A exp(-k/tau))`` (onset on day u, hazard from u+1).
    """
    k = np.zeros(31)
    for m in range(1, 31):
        rem = np.arange(m - 1, -1, -1, dtype=float)
        k[m] = float(_age_sum(np.zeros_like(rem), rem).sum())
    return k


def oracle_probability(
    base: np.ndarray,
    active: np.ndarray,
    cdisp: np.ndarray,
    age: np.ndarray,
    days_left: np.ndarray,
    onset_rate: np.ndarray,
    cnew: np.ndarray,
    kernel: np.ndarray,
    horizon: int = 30,
) -> np.ndarray:
    """Probability of >= 1 escalation in the next ``horizon`` days, state frozen.

    Parameters
    ----------
    base : ndarray of float, shape (n,)
        Background escalation hazard per day ``B_h * R_h`` (escalations/day).
    active : ndarray of bool, shape (n,)
        Whether a dispute is active.
    cdisp : ndarray of float, shape (n,)
        Dispute factor ``c_type * c_sev * volatile * m_med`` of the active dispute.
    age : ndarray of int, shape (n,)
        Age of the active dispute today (days).
    days_left : ndarray of int, shape (n,)
        Days until its scheduled natural end (latent).
    onset_rate : ndarray of float, shape (n,)
        Today's dispute onset rate (disputes/day).
    cnew : ndarray of float, shape (n,)
        Expected dispute factor of a new dispute of this household.
    kernel : ndarray of float, shape (31,)
        From :func:`_new_dispute_kernel`.
    horizon : int
        Days (30).

    Returns
    -------
    ndarray of float64, shape (n,)
        ``1 - exp(-H)``, H the expected summed hazard of the horizon; the
        active dispute ages deterministically until its natural end,
        mediation and prior escalations stay frozen, and new disputes enter
        through their expected contribution ``onset_rate * cnew * K[30 - L]``.
    """
    length = np.where(active, np.clip(days_left, 0, horizon), 0).astype(float)
    disp = np.where(active, cdisp * _age_sum(age.astype(float), length), 0.0)
    free = (horizon - length).astype(int)
    new = onset_rate * cnew * kernel[free]
    h = base * (horizon + disp + new)
    return -np.expm1(-h)


class _Draws:
    """The daily draws that shape the latent state.

    Without a seed (``revisit simulate``) every draw comes from the run's generator in
    the original order. With one (policy mode) each draw is keyed by (day, site,
    household): ``default_rng([seed, day, site]).random(n)[households]``, so two
    policies of one seed give a household the same draw whenever it faces the same
    chance on the same day (common random numbers; :mod:`simulation.revisits`).
    """

    def __init__(self, rng: np.random.Generator, n: int, seed: int | None) -> None:
        self.rng, self.n, self.seed = rng, n, seed
        self.day = 0
        self.cache: dict[int, np.ndarray] = {}

    def new_day(self, d: int) -> None:
        self.day, self.cache = d, {}

    def _u(self, site: int, idx: np.ndarray) -> np.ndarray:
        v = self.cache.get(site)
        if v is None:
            v = np.random.default_rng([int(self.seed or 0), self.day, site]).random(self.n)
            self.cache[site] = v
        return v[idx]

    def random(self, site: int, idx: np.ndarray) -> np.ndarray:
        if self.seed is None:
            return self.rng.random(idx.size)
        return self._u(site, idx)

    def all(self, site: int) -> np.ndarray:
        if self.seed is None:
            return self.rng.random(self.n)
        return self._u(site, np.arange(self.n))

    def integers(self, site: int, lo: int, hi: int, idx: np.ndarray) -> np.ndarray:
        if self.seed is None:
            return self.rng.integers(lo, hi, idx.size)
        return lo + (self._u(site, idx) * (hi - lo)).astype(np.int64)

    def normal(self, site: int, idx: np.ndarray) -> np.ndarray:
        if self.seed is None:
            return self.rng.standard_normal(idx.size)
        return ndtri(np.clip(self._u(site, idx), 1e-12, 1 - 1e-12))

    def uniform(self, site: int, lo: float, hi: float, idx: np.ndarray) -> np.ndarray:
        if self.seed is None:
            return self.rng.uniform(lo, hi, idx.size)
        return lo + (hi - lo) * self._u(site, idx)

    def conduct(self, conduct_rng: np.random.Generator, site: int, idx: np.ndarray) -> np.ndarray:
        """Officers' per-visit conduct draws: ``conduct_rng`` without a seed, keyed with one.

        A fabricated or perfunctory visit discloses nothing and mediates nothing, so in
        policy mode these draws shape the latent state and must be keyed like the others:
        a sequential draw would shift for every later visit as soon as one policy's
        revisit changed one household's follow-up date.
        """
        if self.seed is None:
            return conduct_rng.random(idx.size)
        return self._u(site, idx)


@dataclass
class _Latent:
    """References to the engine's per-household state arrays a revisit may change."""

    active: np.ndarray
    dtype: np.ndarray
    sev: np.ndarray
    med: np.ndarray
    known: np.ndarray
    open_rec: np.ndarray
    rec_type: np.ndarray
    rec_sev: np.ndarray
    protect_until: np.ndarray


def _revisit(
    hook: RevisitHook,
    idx: np.ndarray,
    d: int,
    world: World,
    s: _Latent,
    vis: dict[str, list[np.ndarray]],
) -> None:
    """Carry out today's policy revisits of households ``idx`` (see :mod:`simulation.revisits`).

    Draws only from ``hook.rng``; with a zero effect it changes no state, it only records.
    """
    m = idx.size
    if m == 0:
        return
    rr, eff = hook.rng, hook.effect
    fab = world.officer_fabricating[world.officer[idx]]
    nobody = fab | (rr.random(m) < W.NOBODY_HOME)
    persons = np.where(nobody, 0, 1 + rr.binomial(np.maximum(world.size[idx] - 1, 0), 0.5))
    act = s.active[idx] & ~nobody
    s_i = s.sev[idx]
    p_disc = np.where(s.known[idx], 0.9, 0.55 + 0.1 * (s_i == 1) + 0.2 * (s_i == 2))
    p_disc = p_disc * np.where(world.secretive[idx], 0.3, 1.0)
    det = act & (rr.random(m) < p_disc)
    p_med = np.minimum(
        1.0, _TYPE_MED_SUCCESS[s.dtype[idx]] * W.SEVERITY_MEDIATION[s_i] * eff.mediation_boost
    )
    u_med, u_relapse, u_agree = rr.random(m), rr.random(m), rr.random(m)
    success = det & eff.mediation & (u_med < p_med)
    relapse = success & (u_relapse < 0.15)
    status = np.where(det, np.where(success, ST_RESOLVED, ST_MEDIATING), -1).astype(np.int16)
    if eff.hazard_factor < 1.0 and eff.protect_days > 0:
        s.protect_until[idx[act]] = d + int(eff.protect_days)
    if eff.mediation:
        di = idx[det]
        ok = success[det]
        s.active[di[ok & ~relapse[det]]] = False
        s.med[di[ok & relapse[det]]] = 3
        failed = di[~ok]
        s.med[failed] = np.maximum(s.med[failed], 1)
        s.known[di[ok]] = False
        s.known[failed] = True
        s.open_rec[di] = ~ok
        s.rec_type[di] = s.dtype[di]
        s.rec_sev[di] = s.sev[di]
    hz = world.hazards[idx] & (rr.random((m, len(W.HAZARD_CODES))) < W.HAZARD_DISCLOSURE)
    hz &= ~nobody[:, None]
    hz_bits = (1 << np.arange(len(W.HAZARD_CODES))).astype(np.int32)
    vis["hh"].append(idx)
    vis["day"].append(np.full(m, d, np.int32))
    vis["minute"].append(rr.integers(510, 1110, m).astype(np.int32))
    vis["officer"].append(world.officer[idx])
    vis["persons"].append(persons.astype(np.int16))
    vis["has_dispute"].append(det)
    vis["dtype"].append(np.where(det, s.dtype[idx], -1).astype(np.int16))
    vis["severity"].append(np.where(det, s_i, -1).astype(np.int16))
    vis["parties"].append(np.where(det, 2, -1).astype(np.int16))
    vis["hazmask"].append((hz * hz_bits).sum(axis=1).astype(np.int32))
    vis["status"].append(status)
    vis["agreement"].append(np.where(success, (u_agree < 0.6).astype(np.int8), -1))
    vis["followup_due"].append(np.full(m, -1, np.int32))
    vis["fabricating"].append(fab)
    vis["perfunctory"].append(np.zeros(m, bool))  # a policy revisit is a real one
    vis["revisit"].append(np.ones(m, bool))


def _wave_days(config: SimulationConfig) -> list[int]:
    starts = []
    for year in range(config.start.year - 1, config.end.year + 1):
        for month, day in W.WAVE_STARTS:
            d = (dt.date(year, month, day) - config.start).days
            if d + W.WAVE_DAYS + W.MOPUP_DAYS > 0 and d <= (config.end - config.start).days:
                starts.append(d)
    return starts


def run(
    world: World,
    config: SimulationConfig,
    rng: np.random.Generator,
    on_monday: Callable[[int, np.ndarray], None] | None = None,
    revisits: RevisitHook | None = None,
) -> EventLog:
    """Simulate every day of the window.

    Parameters
    ----------
    world : World
        The prefecture (from :func:`simulation.world.build_world`).
    config : SimulationConfig
        Run parameters.
    rng : numpy.random.Generator
        The run's generator (advanced in a fixed order: same seed, same result).
    on_monday : callable or None
        Called as ``on_monday(day, oracle_prob)`` at the start of every Monday
        with the oracle probability of every household (float64, shape (n,)).
    revisits : RevisitHook or None
        Policy mode (:mod:`simulation.revisits`): every Monday ``revisits.choose`` picks
        the week's revisits, which the engine carries out with ``revisits.effect``;
        latent draws (officers' conduct included) are then keyed by (day, site,
        household) from ``revisits.draw_seed`` and revisit outcomes come from
        ``revisits.rng``. ``None``: no revisits, one generator (the output of
        ``revisit simulate`` depends on nothing else).

    Returns
    -------
    EventLog
    """
    n = world.n
    n_days = (config.end - config.start).days + 1
    season = seasonality(np.arange(n_days), config.start)
    ht = world.household_type
    # onset weight per household type, type and day: (6, 7, D)
    w_type = _TYPE_SHARE[None, :, None] * W.TYPE_MIX[:, :, None] * season[None, :, :]
    w_tot = w_type.sum(axis=1)  # (6, D)
    static_onset = W.ONSET_RATE * world.propensity * world.village_effect
    vol = np.where((world.hazards & W.VOLATILE).any(axis=1), W.VOLATILE_FACTOR, 1.0)
    base_static = (
        W.ESC_BASE
        * world.propensity**W.PROPENSITY_ESCALATION_EXPONENT
        * np.prod(1.0 + world.hazards * W.HAZARD_ESC_WEIGHTS, axis=1)
    )
    mean_sev_c = _TYPE_SEV @ W.SEVERITY_WEIGHTS  # (7,)
    mix = _TYPE_SHARE * W.TYPE_MIX
    cnew_type = (mix * (_TYPE_C * mean_sev_c)).sum(axis=1) / mix.sum(axis=1)  # (6,)
    cnew = cnew_type[ht] * vol
    kernel = _new_dispute_kernel()
    key_pop = (world.hazards & W.KEY_POPULATION).any(axis=1)
    routine_p = np.where(key_pop, 1.0 / W.KEY_POPULATION_DAYS, 1.0 / W.ROUTINE_DAYS)
    self_harm_bg = world.hazards[:, 1] | world.hazards[:, 4]
    officer = world.officer
    # officers' conduct: its draws come from a generator of their own (see simulation.world)
    conduct_rng = np.random.default_rng([config.seed, 0xFAB])
    kind_hh = world.officer_kind[officer]
    share_hh = world.officer_share[officer]
    hard_hh = kind_hh == W.OFFICER_KINDS.index("hard_village")
    start_weekday = config.start.weekday()

    # campaign waves: (day, household) pairs sorted by day
    wave_starts = _wave_days(config)
    wd, wh = [], []
    n_off = world.officer_township.size
    for s in wave_starts:
        u = rng.random(n)
        first = u < W.WAVE_COVERAGE
        mop = (~first) & (rng.random(n) < W.MOPUP_SHARE)
        # each officer works a few days of the wave (and of the mop-up) on the campaign
        work = np.argsort(rng.random((n_off, W.WAVE_DAYS)), axis=1)[:, : W.WAVE_WORK_DAYS]
        work_mop = np.argsort(rng.random((n_off, W.MOPUP_DAYS)), axis=1)[:, : W.MOPUP_WORK_DAYS]
        pick = rng.integers(0, W.WAVE_WORK_DAYS, n)
        pick_mop = rng.integers(0, W.MOPUP_WORK_DAYS, n)
        day = np.where(
            first,
            s + work[officer, pick],
            s + W.WAVE_DAYS + work_mop[officer, pick_mop],
        )
        keep = (first | mop) & (day >= 0) & (day < n_days)
        wd.append(day[keep])
        wh.append(np.flatnonzero(keep))
    camp_day = np.concatenate(wd) if wd else np.zeros(0, int)
    camp_hh = np.concatenate(wh) if wh else np.zeros(0, int)
    order = np.argsort(camp_day, kind="stable")
    camp_day, camp_hh = camp_day[order], camp_hh[order]
    camp_bounds = np.searchsorted(camp_day, np.arange(n_days + 1))

    active = np.zeros(n, bool)
    dtype_ = np.zeros(n, np.int8)
    sev = np.zeros(n, np.int8)
    start = np.zeros(n, np.int32)
    end = np.zeros(n, np.int32)
    cdisp = np.zeros(n)  # c_type * c_sev * vol (without mediation)
    med = np.zeros(n, np.int8)
    known = np.zeros(n, bool)  # police know the active dispute
    open_rec = np.zeros(n, bool)  # records show an open dispute
    rec_type = np.zeros(n, np.int8)
    rec_sev = np.zeros(n, np.int8)
    excite = np.zeros(n)
    prior = np.zeros(n, np.int16)
    followup = np.full(n, -1, np.int32)
    decay = np.exp(-1.0 / W.EXCITATION_DAYS)
    dr = _Draws(rng, n, None if revisits is None else revisits.draw_seed)
    revisit_day = np.full(n, -1, np.int32)
    protect_until = np.full(n, -1, np.int32)
    cum_h = np.zeros(n)

    vis: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "hh",
            "day",
            "minute",
            "officer",
            "persons",
            "has_dispute",
            "dtype",
            "severity",
            "parties",
            "hazmask",
            "status",
            "agreement",
            "followup_due",
            "fabricating",
            "perfunctory",
        )
        + (("revisit",) if revisits is not None else ())
    }
    inc: dict[str, list[np.ndarray]] = {k: [] for k in ("hh", "day", "minute", "category")}
    n_onsets = 0
    hz_bits = (1 << np.arange(len(W.HAZARD_CODES))).astype(np.int32)

    def add_incidents(idx: np.ndarray, day: int, cat: np.ndarray) -> None:
        if idx.size:
            inc["hh"].append(idx)
            inc["day"].append(np.full(idx.size, day, np.int32))
            inc["minute"].append(rng.integers(0, 1440, idx.size).astype(np.int32))
            inc["category"].append(cat.astype(np.int8))

    base = base_static * (1.0 + W.PRIOR_ESC_WEIGHT * np.minimum(prior, 3))
    fraud_r = W.UNRELATED_RATES[0] * np.where(world.hazards[:, 3], 5.0, 1.0)
    c1 = 0.3 + fraud_r
    c2 = c1 + W.UNRELATED_RATES[1]
    c3 = c2 + W.UNRELATED_RATES[2]
    routine_hi = 0.6 + routine_p
    for d in range(n_days):
        if d % 90 == 0:
            logger.info("simulating day %d of %d", d, n_days)
        dr.new_day(d)
        onset_rate = static_onset * w_tot[:, d][ht] * (1.0 + W.EXCITATION * excite)
        monday = (start_weekday + d) % 7 == 0
        if monday and (on_monday is not None or revisits is not None):
            # The oracle's probability is computed once a Monday and shared by both hooks.
            p = oracle_probability(
                base,
                active,
                cdisp * W.MEDIATION_DAMPING[med],
                d - start,
                end - d,
                np.where(active, 0.0, onset_rate),
                cnew,
                kernel,
            )
        if on_monday is not None and monday:
            on_monday(d, p)
        if revisits is not None and monday:
            chosen, offset = revisits.choose(WeekView(d, p, active.copy(), cum_h.copy(), vis, inc))
            revisit_day[chosen] = d + np.asarray(offset, np.int32)

        # natural end of disputes
        act_idx = np.flatnonzero(active)
        ended = act_idx[end[act_idx] <= d]
        active[ended] = False
        known[ended] = False
        act_idx = act_idx[active[act_idx]]

        # escalations: candidates u < h (h >= 1 - exp(-h)), thinned to the exact probability
        dterm_act = (
            cdisp[act_idx]
            * W.MEDIATION_DAMPING[med[act_idx]]
            * (1.0 + W.AGE_BOOST * np.exp(-(d - start[act_idx]) / W.AGE_TAU))
        )
        h = base.copy()
        h[act_idx] *= 1.0 + dterm_act
        if revisits is not None:
            h = np.where(protect_until > d, h * revisits.effect.hazard_factor, h)
            cum_h += h
        cand = np.flatnonzero(dr.all(1) < h)
        hc = h[cand]
        esc = cand[dr.random(2, cand) * hc < -np.expm1(-hc)]
        if esc.size:
            dterm = h[esc] / base[esc] - 1.0
            from_dispute = dr.random(3, esc) * (1.0 + dterm) < dterm
            row = np.where(from_dispute, dtype_[esc], np.where(self_harm_bg[esc], 8, 7))
            cum = np.cumsum(W.ESCALATION_MIX[row], axis=1)
            ecat = (dr.random(4, esc)[:, None] * cum[:, -1:] > cum).sum(axis=1)
            add_incidents(esc, d, _ESC_INCIDENT[ecat])
            prior[esc] += 1
            base[esc] = base_static[esc] * (1.0 + W.PRIOR_ESC_WEIGHT * np.minimum(prior[esc], 3))
            excite[esc] += 1.0
            a = esc[active[esc]]
            known[a] = True
            up = a[(dr.random(5, a) < 0.5) & (sev[a] < 2)]
            cdisp[up] *= W.SEVERITY_WEIGHTS[sev[up] + 1] / W.SEVERITY_WEIGHTS[sev[up]]
            sev[up] += 1
            fu = d + dr.integers(6, 1, 4, esc)
            followup[esc] = np.where((followup[esc] < 0) | (followup[esc] > fu), fu, followup[esc])

        # dispute calls and unrelated incidents
        calls = act_idx[dr.random(7, act_idx) < W.CALL_RATE[sev[act_idx]]]
        add_incidents(calls, d, _CALL_BY_TYPE[dtype_[calls]])
        known[calls] = True
        u = dr.all(8)
        unrel = np.flatnonzero((u >= 0.3) & (u < c3))
        kind = np.where(u[unrel] < c1[unrel], 0, np.where(u[unrel] < c2[unrel], 1, 2))
        add_incidents(unrel, d, _UNRELATED[kind])
        routine = (u >= 0.6) & (u < routine_hi)

        # dispute onsets: candidates u < rate, thinned to min(1 - exp(-rate), 0.3)
        cand = np.flatnonzero(dr.all(9) < onset_rate)
        cand = cand[~active[cand]]
        rc = onset_rate[cand]
        new = cand[dr.random(10, cand) * rc < np.minimum(-np.expm1(-rc), 0.3)]
        if new.size:
            n_onsets += int(new.size)
            wt = w_type[ht[new], :, d]
            cum = np.cumsum(wt, axis=1)
            t = (dr.random(11, new)[:, None] * cum[:, -1:] > cum).sum(axis=1)
            scum = np.cumsum(_TYPE_SEV[t], axis=1)
            s = (dr.random(12, new)[:, None] > scum).sum(axis=1).clip(0, 2)
            dur = _TYPE_MEDIAN[t] * np.exp(W.DURATION_SIGMA * dr.normal(13, new))
            active[new] = True
            dtype_[new] = t
            sev[new] = s
            start[new] = d
            end[new] = d + np.maximum(1, np.round(dur)).astype(np.int32)
            cdisp[new] = _TYPE_C[t] * W.SEVERITY_WEIGHTS[s] * vol[new]
            med[new] = 0
            known[new] = False
            excite[new] += 1.0

        # visits
        mask = routine
        mask[camp_hh[camp_bounds[d] : camp_bounds[d + 1]]] = True
        mask |= followup == d
        idx = np.flatnonzero(mask)
        if idx.size:
            m = idx.size
            k_i = kind_hh[idx]
            c_u = dr.conduct(conduct_rng, 23, idx)
            fab = (k_i == 1) & (c_u < share_hh[idx])
            perf = (k_i == 2) & (c_u < share_hh[idx])
            nobody = dr.random(14, idx) < W.NOBODY_HOME
            persons = np.where(nobody, 0, 1 + rng.binomial(np.maximum(world.size[idx] - 1, 0), 0.5))
            # a made-up record claims one or two people met, now and then nobody home
            c_p = dr.conduct(conduct_rng, 24, idx)
            claimed = np.where(c_p < 0.1, 0, np.where(c_p < 0.75, 1, 2))
            persons = np.where(fab, claimed, np.where(perf, np.maximum(persons, 1), persons))
            nobody = np.where(fab | perf, persons == 0, nobody)
            act = active[idx] & ~nobody & ~fab & ~perf
            s_i = sev[idx]
            p_disc = np.where(known[idx], 0.9, 0.55 + 0.1 * (s_i == 1) + 0.2 * (s_i == 2))
            p_disc = p_disc * np.where(world.secretive[idx], 0.3, 1.0)
            p_disc = p_disc * np.where(hard_hh[idx], W.HARD_VILLAGE_DISCLOSURE, 1.0)
            det = act & (dr.random(15, idx) < p_disc)
            has = det.copy()
            r_type = np.full(m, -1, np.int16)
            r_sev = np.full(m, -1, np.int16)
            status = np.full(m, -1, np.int16)
            agree = np.full(m, -1, np.int8)
            fdue = np.full(m, -1, np.int32)
            parties = np.full(m, -1, np.int16)
            # detected: record and try mediation
            di = idx[det]
            if di.size:
                tt = dtype_[di].astype(np.int16)
                mis = rng.random(di.size) < 0.05
                tt = np.where(mis, rng.integers(0, 7, di.size), tt)
                ss = sev[di]
                success = (
                    dr.random(16, di) < _TYPE_MED_SUCCESS[dtype_[di]] * W.SEVERITY_MEDIATION[ss]
                )
                relapse = success & (dr.random(17, di) < 0.15)
                ref = ~success & (dr.random(18, di) < np.where(ss >= 1, 0.25, 0.10))
                unres = ~success & ~ref & (dr.random(19, di) < 0.002)
                st = np.where(
                    success,
                    ST_RESOLVED,
                    np.where(ref, ST_REFERRED, np.where(unres, ST_UNRESOLVED, ST_MEDIATING)),
                )
                r_type[det] = tt
                r_sev[det] = ss
                status[det] = st
                agree[det] = np.where(success, (rng.random(di.size) < 0.6).astype(np.int8), -1)
                extra = np.isin(dtype_[di], (2, 5)) * rng.poisson(2.0, di.size)
                parties[det] = 2 + rng.poisson(0.5, di.size) + extra
                truly = di[success & ~relapse]
                active[truly] = False
                med[di[relapse]] = 3
                med[di[~success]] = np.where(ref[~success], 2, np.where(unres[~success], 0, 1))
                known[di[success]] = False
                known[di[~success]] = True
                open_rec[di] = ~success
                rec_type[di] = tt
                rec_sev[di] = ss
                due = d + W.FOLLOWUP_DAYS[ss]
                on_time = dr.random(20, di) < 0.85
                span = W.FOLLOWUP_DAYS[ss]
                fday = np.where(
                    on_time,
                    d + np.maximum(1, np.ceil(span * dr.uniform(21, 0.3, 1.0, di))),
                    due + dr.integers(22, 1, 21, di),
                ).astype(np.int32)
                fdue[det] = np.where(success, -1, due)
                followup[di] = np.where(success, -1, fday)
            # records open but the dispute is over: close the record as resolved
            closing = ~det & ~nobody & ~fab & ~perf & open_rec[idx] & ~active[idx]
            ci = idx[closing]
            if ci.size:
                has[closing] = True
                r_type[closing] = rec_type[ci]
                r_sev[closing] = rec_sev[ci]
                status[closing] = ST_RESOLVED
                agree[closing] = 0
                parties[closing] = 2
                open_rec[ci] = False
                followup[ci] = -1
            # still open but not confirmed today: try again in a week
            again = ~det & ~closing & open_rec[idx] & (followup[idx] <= d)
            followup[idx[again]] = d + 7
            done = ~det & ~closing & ~again & (followup[idx] == d)
            followup[idx[done]] = -1
            hz = world.hazards[idx] & (rng.random((m, len(W.HAZARD_CODES))) < W.HAZARD_DISCLOSURE)
            hz &= ~(nobody | fab | perf)[:, None]
            hz &= ~(hard_hh[idx][:, None] & (dr.conduct(conduct_rng, 25, idx)[:, None] < 0.5))
            vis["hh"].append(idx)
            vis["day"].append(np.full(m, d, np.int32))
            vis["minute"].append(rng.integers(510, 1110, m).astype(np.int32))
            vis["officer"].append(officer[idx])
            vis["persons"].append(persons.astype(np.int16))
            vis["has_dispute"].append(has)
            vis["dtype"].append(r_type)
            vis["severity"].append(r_sev)
            vis["parties"].append(parties)
            vis["hazmask"].append((hz * hz_bits).sum(axis=1).astype(np.int32))
            vis["status"].append(status)
            vis["agreement"].append(agree)
            vis["followup_due"].append(fdue)
            vis["fabricating"].append(fab)
            vis["perfunctory"].append(perf)
            if revisits is not None:
                vis["revisit"].append(np.zeros(m, bool))
        if revisits is not None:
            _revisit(
                revisits,
                np.flatnonzero(revisit_day == d),
                d,
                world,
                _Latent(
                    active, dtype_, sev, med, known, open_rec, rec_type, rec_sev, protect_until
                ),
                vis,
            )
        excite *= decay

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    visits = {k: cat(v, np.int32) for k, v in vis.items()}
    incidents = {k: cat(v, np.int32) for k, v in inc.items()}
    return EventLog(visits=visits, incidents=incidents, n_onsets=n_onsets, wave_starts=wave_starts)
