"""Dispute-episode features: what a first-time escalation looks like before it happens.

Most households that escalate have never escalated before, so a list of "who
escalated before" misses them. What precedes a first escalation is an
*episode*: a dispute recorded recently, of a severity that rose between
visits, whose follow-up passed without a visit, with more parties involved,
or dispute calls to the police after the last record (the dispute goes on
while the records say nothing new). These features state those facts at the
as-of date ``t``, from the same point-in-time records as ``features.build``
(declared in ``features.catalogue``, family ``disputes``/``incidents``):

* An *open dispute* and its *current episode* are as in ``features.catalogue``:
  identity (household, dispute type), open when its latest record is not
  ``resolved``; the episode starts at the first record after its latest
  ``resolved`` record.
* ``disputes_all_open_max_severity``: highest severity (1 general, 2 serious,
  3 major) of the latest record of an open dispute (NaN when none open).
* ``disputes_all_open_severity_rise``: largest rise of severity from the first
  to the latest record of an open dispute's current episode (levels; NaN when none).
* ``disputes_all_open_min_age_days``: age in days of the youngest open episode
  (days since its first record; NaN when none open).
* ``disputes_all_open_recurring``: open disputes whose identity was resolved
  before (a recurring, not a new dispute) (count).
* ``disputes_all_open_max_parties``: most parties recorded on the latest record
  of an open dispute (persons; NaN when unknown or none open).
* ``disputes_all_followup_overdue_days``: days since the latest open-dispute
  record's ``followup_due`` date passed with no approved visit after that record
  (days; NaN when none overdue). A due date is passed at ``t`` once the day is
  over: ``due + 1 day <= t``.
* ``incidents_all_days_since_last_dispute_call``: days since the latest family
  or neighbour dispute call (days; NaN when none).
* ``incidents_30d_dispute_calls``: dispute calls in ``[t - 30 days, t)`` (count).
* ``incidents_all_dispute_calls_after_last_dispute``: dispute calls reported
  after the household's latest dispute record (count; 0 without a record).

Every feature is a function of one household's own records, so any partition
of households that keeps each household's records together gives the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NS_PER_DAY = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min
#: Incident categories that are calls about a dispute (``warehouse.contract``).
DISPUTE_CALL_CATEGORIES: tuple[str, ...] = ("family_dispute_call", "neighbour_dispute_call")


def _last_of_groups(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    if len(rows) == 0:
        return rows
    g = groups[rows]
    return rows[np.r_[g[1:] != g[:-1], True]]


def episode_features(
    v: Any,
    inc: Any,
    n: int,
    t: int,
    known: np.ndarray,
    *,
    n_types: int,
    call_codes: np.ndarray,
) -> dict[str, np.ndarray]:
    """Dispute-episode features of every household at ``t`` (module docstring).

    Parameters
    ----------
    v : features.build._Visits
        Visit arrays sorted by (household, visited_at, recorded_at, visit_id),
        with ``parties`` (float64, NaN unknown) and ``followup`` (int64 ns, ``_NAT`` missing).
    inc : features.build._Incidents
        Incident arrays sorted by (household, reported_at); a version counts while live (``rec < t <= sup``).
    n : int
        Number of households (codes 0..n-1).
    t : int
        As-of date, int64 nanoseconds since the epoch (UTC).
    known : ndarray of bool, shape (n_visits,)
        Visits that count at ``t`` (approved, known before ``t``).
    n_types : int
        Number of dispute types (identity = household * n_types + type).
    call_codes : ndarray of int64
        Incident category codes of dispute calls.

    Returns
    -------
    dict of str to ndarray of float64, shape (n,)
    """
    f: dict[str, np.ndarray] = {}
    max_sev = np.full(n, np.nan)
    rise = np.full(n, np.nan)
    min_age = np.full(n, np.nan)
    recurring = np.zeros(n)
    parties = np.full(n, np.nan)
    overdue = np.full(n, np.nan)

    known_rows = np.flatnonzero(known)
    last_visit = np.full(n, _NAT, dtype=np.int64)
    lv = _last_of_groups(known_rows, v.hh)
    last_visit[v.hh[lv]] = v.vis[lv]

    dp = v.dperm[known[v.dperm]]
    if len(dp):
        ident = v.hh[dp] * n_types + v.dtype[dp]
        pos = np.arange(len(dp))
        is_start = np.r_[True, ident[1:] != ident[:-1]]
        is_last = np.r_[ident[1:] != ident[:-1], True]
        last_resolved = np.maximum.accumulate(np.where(v.resolved[dp], pos, -1))
        group_start = np.maximum.accumulate(np.where(is_start, pos, 0))
        open_last = pos[is_last & ~v.resolved[dp]]
        episode = np.maximum(last_resolved[open_last] + 1, group_start[open_last])
        rows_last, rows_first = dp[open_last], dp[episode]
        oh = v.hh[rows_last]
        sev_last = v.severity[rows_last].astype(float)
        sev_first = v.severity[rows_first].astype(float)
        sev_last[sev_last < 0] = np.nan
        sev_first[sev_first < 0] = np.nan
        np.fmax.at(max_sev, oh, sev_last + 1.0)
        np.fmax.at(rise, oh, sev_last - sev_first)
        np.fmin.at(min_age, oh, (t - v.vis[rows_first]) / NS_PER_DAY)
        np.add.at(recurring, oh, (last_resolved[open_last] >= group_start[open_last]).astype(float))
        np.fmax.at(parties, oh, v.parties[rows_last])
        due = v.followup[rows_last]
        passed = (due != _NAT) & (due + NS_PER_DAY <= t) & (last_visit[oh] <= v.vis[rows_last])
        np.fmax.at(overdue, oh[passed], (t - due[passed]) / NS_PER_DAY)
    f["disputes_all_open_max_severity"] = max_sev
    f["disputes_all_open_severity_rise"] = rise
    f["disputes_all_open_min_age_days"] = min_age
    f["disputes_all_open_recurring"] = recurring
    f["disputes_all_open_max_parties"] = parties
    f["disputes_all_followup_overdue_days"] = overdue

    ik = np.flatnonzero((inc.hh >= 0) & (inc.rec < t) & (inc.sup >= t) & (inc.rep < t))
    calls = ik[np.isin(inc.cat[ik], call_codes)]
    last_call = _last_of_groups(calls, inc.hh)
    since = np.full(n, np.nan)
    since[inc.hh[last_call]] = (t - inc.rep[last_call]) / NS_PER_DAY
    f["incidents_all_days_since_last_dispute_call"] = since
    recent = calls[inc.rep[calls] >= t - 30 * NS_PER_DAY]
    f["incidents_30d_dispute_calls"] = np.bincount(inc.hh[recent], minlength=n).astype(float)
    drows = known_rows[v.dispute[known_rows]]
    dl = _last_of_groups(drows, v.hh)
    last_dispute = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last_dispute[v.hh[dl]] = v.vis[dl]
    after = calls[inc.rep[calls] > last_dispute[inc.hh[calls]]]
    f["incidents_all_dispute_calls_after_last_dispute"] = np.bincount(
        inc.hh[after], minlength=n
    ).astype(float)
    return f
