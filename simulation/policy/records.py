"""What the records disclose: the simulator's event log as canonical warehouse tables.

The field exports of ``revisit simulate`` go through ``revisit ingest`` into the
canonical tables (``docs/interfaces.md``). In the policy loop the same rows are
built directly, without the Chinese headers, personal columns and noise that ingestion
removes: visits get the exports' recording delay (lognormal, median 6 h, sigma 1.5,
plus a 3 % tail of 7-40 days) and supervisor review (lognormal, median 1 day; 2.5 %
rejected, 10 % for fabricating officers); incidents are recorded after a lognormal
delay (median 30 min). A table at Monday ``t`` holds only rows with ``recorded_at <
t``: nothing the police could not know yet. Policy revisits are ordinary approved
visits (the records do not say why a visit happened).

Delays are drawn once per event, in the order events were appended to the log, from
the records' own generator, so the tables of one run are reproducible.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from simulation import world as W
from simulation.world import World
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    HAZARD_SEPARATOR,
    HOUSEHOLD_TYPES,
    INCIDENT_CATEGORIES,
    RESOLUTION_STATUSES,
    RISK_HAZARDS,
    TIMEZONE,
)

_MIN_NS = 60 * 10**9
_VISIT_KEYS = (
    "hh", "day", "minute", "persons", "has_dispute", "dtype", "severity", "hazmask",
    "status", "agreement", "fabricating", "revisit",
)  # fmt: skip
_INCIDENT_KEYS = ("hh", "day", "minute", "category")


def household_ids(n: int) -> np.ndarray:
    """Pseudonymous ids ``H0000001`` ... as in the exports (object array of str, shape (n,))."""
    return np.array([f"H{i:07d}" for i in range(1, n + 1)], dtype=object)


def _codes_to_text(codes: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    table = np.array([*vocabulary, None], dtype=object)
    return table[np.where(codes < 0, len(vocabulary), codes)]


class Records:
    """Append-only canonical records of one policy run.

    Parameters
    ----------
    world : World
        The prefecture (ids, geography, household types).
    start : datetime.date
        First day of the simulated window (local date).
    random_state : int or sequence of int
        Seed of the records' delay generator.
    """

    def __init__(self, world: World, start: dt.date, random_state: int | list[int]) -> None:
        self.world = world
        self.origin_ns = (
            int(np.datetime64(start, "D").astype(np.int64)) * 86400 - 8 * 3600
        ) * 10**9
        self.rng = np.random.default_rng(random_state)
        self.ids = household_ids(world.n)
        self.v: dict[str, np.ndarray] = {}
        self.i: dict[str, np.ndarray] = {}
        self._seen_v = 0
        self._seen_i = 0
        hazards = list(RISK_HAZARDS)
        self._hazard_text = np.array(
            [
                HAZARD_SEPARATOR.join(h for k, h in enumerate(hazards) if (mask >> k) & 1)
                for mask in range(1 << len(hazards))
            ],
            dtype=object,
        )

    def update(
        self, visits: dict[str, list[np.ndarray]], incidents: dict[str, list[np.ndarray]]
    ) -> None:
        """Take the chunks appended to the engine's log since the last call.

        Parameters
        ----------
        visits, incidents : dict of str to list of ndarray
            The engine's event-log chunks (:class:`simulation.revisits.WeekView`).
        """
        new_v = {k: visits[k][self._seen_v :] for k in _VISIT_KEYS}
        new_i = {k: incidents[k][self._seen_i :] for k in _INCIDENT_KEYS}
        self._seen_v = len(visits["hh"])
        self._seen_i = len(incidents["hh"])
        if new_v["hh"]:
            part = {k: np.concatenate(c) for k, c in new_v.items()}
            m = part["hh"].size
            at = (part["day"].astype(np.int64) * 1440 + part["minute"]) * _MIN_NS
            delay = np.exp(np.log(360.0) + 1.5 * self.rng.standard_normal(m))
            tail = self.rng.random(m) < 0.03
            delay = np.where(tail, self.rng.uniform(7 * 1440, 40 * 1440, m), delay)
            rec = at + np.maximum(1, delay).astype(np.int64) * _MIN_NS
            review = np.exp(np.log(1440.0) + self.rng.standard_normal(m)).astype(np.int64) + 5
            rejected = self.rng.random(m) < np.where(
                part["fabricating"].astype(bool), W.REJECT_RATE_FABRICATING, W.REJECT_RATE
            )
            part.update(at=at, rec=rec, rev=rec + review * _MIN_NS, rejected=rejected)
            self.v = {k: np.concatenate([self.v[k], a]) if self.v else a for k, a in part.items()}
        if new_i["hh"]:
            part = {k: np.concatenate(c) for k, c in new_i.items()}
            k = part["hh"].size
            at = (part["day"].astype(np.int64) * 1440 + part["minute"]) * _MIN_NS
            delay = np.maximum(1, np.exp(np.log(30.0) + self.rng.standard_normal(k)))
            part.update(at=at, rec=at + delay.astype(np.int64) * _MIN_NS)
            self.i = {q: np.concatenate([self.i[q], a]) if self.i else a for q, a in part.items()}

    def _ts(self, offset_ns: np.ndarray) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.origin_ns + offset_ns, tz="UTC").tz_convert(TIMEZONE)

    def tables(self, day: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Canonical visits and incidents known before local midnight of ``day``.

        Parameters
        ----------
        day : int
            Days since the window start.

        Returns
        -------
        visits, incidents : DataFrame
            Canonical columns (``features.build.VISIT_COLUMNS_NEEDED`` and
            ``INCIDENT_COLUMNS_NEEDED``); timestamps ``datetime64[ns, Asia/Shanghai]``;
            ``review_status`` is ``pending`` until ``reviewed_at``.
        """
        cut = day * 1440 * _MIN_NS
        w = self.world
        v = {k: a[self.v["rec"] < cut] for k, a in self.v.items()} if self.v else {}
        if not v:
            raise ValueError(f"expected visits recorded before day {day!r}, got none")
        hh = v["hh"]
        reviewed = v["rev"] < cut
        status = np.where(~reviewed, "pending", np.where(v["rejected"], "rejected", "approved"))
        agreement = pd.Series(v["agreement"] == 1, dtype="boolean").mask(v["agreement"] < 0)
        visits = pd.DataFrame(
            {
                "visit_id": pd.array([f"V{k}" for k in range(hh.size)], dtype="str"),
                "household_id": pd.array(self.ids[hh], dtype="str"),
                "visited_at": self._ts(v["at"]),
                "recorded_at": self._ts(v["rec"]),
                "county": pd.array(np.array(w.county_names, object)[w.county[hh]], dtype="str"),
                "township": pd.array(
                    np.array(w.township_names, object)[w.township[hh]], dtype="str"
                ),
                "village": pd.array(np.array(w.village_names, object)[w.village[hh]], dtype="str"),
                "persons_met": v["persons"].astype(np.int64),
                "household_type": pd.array(
                    np.array(list(HOUSEHOLD_TYPES), object)[w.household_type[hh]], dtype="str"
                ),
                "has_dispute": v["has_dispute"].astype(bool),
                "dispute_type": pd.array(_codes_to_text(v["dtype"], list(DISPUTE_TYPES)), "str"),
                "dispute_severity": pd.array(
                    _codes_to_text(v["severity"], list(DISPUTE_SEVERITIES)), "str"
                ),
                "risk_hazards": pd.array(self._hazard_text[v["hazmask"]], dtype="str"),
                "resolution_status": pd.array(
                    _codes_to_text(v["status"], list(RESOLUTION_STATUSES)), "str"
                ),
                "mediation_agreement": agreement.array,
                "review_status": pd.array(status.astype(object), dtype="str"),
                "reviewed_at": self._ts(np.where(reviewed, v["rev"], 0)).where(reviewed),
            }
        )
        i = {k: a[self.i["rec"] < cut] for k, a in self.i.items()} if self.i else {}
        n_inc = i["hh"].size if i else 0
        incidents = pd.DataFrame(
            {
                "incident_id": pd.array([f"I{k}" for k in range(n_inc)], dtype="str"),
                "household_id": pd.array(self.ids[i["hh"]] if i else [], dtype="str"),
                "reported_at": self._ts(i["at"] if i else np.zeros(0, np.int64)),
                "recorded_at": self._ts(i["rec"] if i else np.zeros(0, np.int64)),
                "category": pd.array(
                    np.array(list(INCIDENT_CATEGORIES), object)[i["category"]]
                    if i
                    else np.zeros(0, object),
                    dtype="str",
                ),
            }
        )
        return visits, incidents


def escalation_codes() -> np.ndarray:
    """Category codes (index into ``INCIDENT_CATEGORIES``) of the escalation set, int64."""
    cats = list(INCIDENT_CATEGORIES)
    return np.array([cats.index(c) for c in DEFAULT_ESCALATION_CATEGORIES], dtype=np.int64)
