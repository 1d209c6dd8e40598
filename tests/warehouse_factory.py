"""Random small canonical warehouses for the feature tests.

Frames are written directly with the canonical dtypes of docs/interfaces.md
(no dependency on ingestion). Everything derives from ``seed``: same seed, same
warehouse. Rows come out unsorted and interleaved across households.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.contract import (
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    HAZARD_SEPARATOR,
    HOUSEHOLD_TYPES,
    INCIDENT_CATEGORIES,
    RESOLUTION_STATUSES,
    RISK_HAZARDS,
    TABLE_INCIDENTS,
    TABLE_VISITS,
    TIMEZONE,
    warehouse_path,
)

TZ = pd.DatetimeTZDtype("ns", TIMEZONE)
START = pd.Timestamp("2024-01-01", tz=TIMEZONE)


def _times(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(ns, unit="ns", utc=True)).dt.tz_convert(TIMEZONE).astype(TZ)


def _where(mask: np.ndarray, values: np.ndarray) -> pd.Series:
    """``values`` where ``mask`` holds, else missing (None)."""
    return pd.Series(values, dtype="str").where(mask)


def random_warehouse(
    seed: int,
    n_households: int = 12,
    days: int = 400,
    visits_per_household: float = 6.0,
    incidents_per_household: float = 2.0,
    n_villages: int = 3,
    planted_signal: bool = False,
    start: pd.Timestamp = START,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random canonical (visits, incidents) frames.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.
    n_households : int
        Number of households.
    days : int
        Length of the period (days from ``start``) over which events fall.
    visits_per_household, incidents_per_household : float
        Poisson means of rows per household.
    n_villages : int
        Villages, spread over two townships of one county.
    planted_signal : bool
        When true, households with the ``drug_use`` hazard get many escalation
        incidents and the others almost none (for the leakage canary).
    start : pd.Timestamp
        Start of the period (Asia/Shanghai).

    Returns
    -------
    (visits, incidents) : tuple of DataFrame
        Canonical frames, rows in random order, times at random seconds (with
        deliberate ties), recording delays of 0–20 days, some pending/rejected
        visits, some reviews after recording, some missing values.
    """
    rng = np.random.default_rng(seed)
    hh_ids = np.array([f"H{seed % 97:02d}{i:05d}" for i in range(n_households)], dtype=object)
    hh_village = rng.integers(0, n_villages, n_households)
    risky = rng.random(n_households) < 0.3
    day_ns = 86_400 * 10**9
    t0 = int(start.value)

    def event_times(k: int) -> np.ndarray:
        # whole hours part of the time to create ties; seconds otherwise
        secs = rng.integers(0, days * 86_400, k)
        coarse = rng.random(k) < 0.3
        secs = np.where(coarse, (secs // 86_400) * 86_400, secs)
        return t0 + secs.astype(np.int64) * 10**9

    nv = rng.poisson(visits_per_household, n_households)
    vh = np.repeat(np.arange(n_households), nv)
    n = len(vh)
    vis = event_times(n)
    delay = np.where(rng.random(n) < 0.6, 0, rng.integers(0, 20 * day_ns, n))
    rec = vis + delay
    status = rng.choice(["approved", "pending", "rejected"], n, p=[0.8, 0.1, 0.1])
    rev = rec + rng.integers(0, 10 * day_ns, n)
    rev_missing = rng.random(n) < 0.3
    has_dispute = rng.random(n) < 0.45
    dtype = rng.choice(list(DISPUTE_TYPES), n)
    sev = rng.choice(list(DISPUTE_SEVERITIES), n)
    res = rng.choice(list(RESOLUTION_STATUSES), n, p=[0.5, 0.2, 0.2, 0.1])
    hazard_codes = list(RISK_HAZARDS)
    hazards = []
    for i in range(n):
        k = rng.integers(0, 3)
        chosen = set(rng.choice(hazard_codes, k, replace=False).tolist())
        if planted_signal and risky[vh[i]]:
            chosen.add("drug_use")
        if planted_signal and not risky[vh[i]]:
            chosen.discard("drug_use")
        hazards.append(HAZARD_SEPARATOR.join(sorted(chosen)))
    village = np.array([f"V{x}" for x in hh_village[vh]], dtype=object)
    township = np.array([f"T{x % 2}" for x in hh_village[vh]], dtype=object)
    persons = pd.array(rng.integers(0, 4, n), dtype="Int64")
    persons[rng.random(n) < 0.1] = pd.NA
    htype = pd.array(rng.choice(list(HOUSEHOLD_TYPES), n), dtype="str")
    htype[rng.random(n) < 0.2] = pd.NA
    mediation = pd.array(rng.random(n) < 0.3, dtype="boolean")
    mediation[rng.random(n) < 0.1] = pd.NA
    visits = pd.DataFrame(
        {
            "visit_id": pd.array([f"V{seed}-{i:06d}" for i in range(n)], dtype="str"),
            "household_id": pd.array(hh_ids[vh], dtype="str"),
            "visited_at": _times(vis),
            "recorded_at": _times(rec),
            "officer_id": pd.array(rng.choice(["P1", "P2"], n), dtype="str"),
            "station": pd.array(["S1"] * n, dtype="str"),
            "county": pd.array(["C1"] * n, dtype="str"),
            "township": pd.array(township, dtype="str"),
            "village": pd.array(village, dtype="str"),
            "persons_met": persons,
            "household_type": htype,
            "has_dispute": pd.array(has_dispute, dtype="boolean"),
            "dispute_type": _where(has_dispute, dtype).array,
            "dispute_severity": _where(has_dispute & (rng.random(n) < 0.9), sev).array,
            "dispute_parties": pd.array(np.where(has_dispute, 2, 0), dtype="Int64"),
            "risk_hazards": pd.array(hazards, dtype="str"),
            "resolution_status": _where(has_dispute & (rng.random(n) < 0.95), res).array,
            "mediation_agreement": mediation,
            "followup_due": pd.Series(pd.NaT, index=range(n), dtype=TZ),
            "review_status": pd.array(status, dtype="str"),
            "reviewed_at": _times(np.where(rev_missing, 0, rev)).where(~rev_missing),
            "source_file": pd.array(["visits.xlsx"] * n, dtype="str"),
            "source_row": np.arange(2, n + 2, dtype=np.int64),
        }
    )
    visits["reviewed_at"] = visits["reviewed_at"].astype(TZ)
    # parties and follow-up dates of dispute records, from their own stream (the draws above
    # and below, and so every other column, stay as they were)
    aux = np.random.default_rng([seed, 13])
    visits["dispute_parties"] = pd.array(
        np.where(has_dispute, aux.integers(2, 6, n), 0), dtype="Int64"
    )
    due = (visits["visited_at"] + pd.to_timedelta(aux.integers(3, 31, n), unit="D")).dt.normalize()
    visits["followup_due"] = due.where(has_dispute & (aux.random(n) < 0.8)).astype(TZ)

    cats = list(INCIDENT_CATEGORIES)
    if planted_signal:
        ni = np.where(
            risky,
            rng.poisson(incidents_per_household * 3, n_households),
            rng.poisson(0.2, n_households),
        )
    else:
        ni = rng.poisson(incidents_per_household, n_households)
    ih = np.repeat(np.arange(n_households), ni)
    m = len(ih)
    rep = event_times(m)
    irec = rep + np.where(rng.random(m) < 0.7, 0, rng.integers(0, 5 * day_ns, m))
    if planted_signal:
        cat = np.where(
            risky[ih],
            rng.choice(["domestic_violence", "fight"], m),
            rng.choice(["theft", "fraud"], m),
        )
    else:
        cat = rng.choice(cats, m)
    incidents = pd.DataFrame(
        {
            "incident_id": pd.array([f"I{seed}-{i:06d}" for i in range(m)], dtype="str"),
            "household_id": pd.array(hh_ids[ih], dtype="str"),
            "reported_at": _times(rep),
            "recorded_at": _times(irec),
            "category": pd.array(cat, dtype="str"),
            "county": pd.array(["C1"] * m, dtype="str"),
            "township": pd.array(
                np.array([f"T{x % 2}" for x in hh_village[ih]], dtype=object), dtype="str"
            ),
            "village": pd.array(
                np.array([f"V{x}" for x in hh_village[ih]], dtype=object), dtype="str"
            ),
            "source_file": pd.array(["incidents.xlsx"] * m, dtype="str"),
            "source_row": np.arange(2, m + 2, dtype=np.int64),
        }
    )
    visits = visits.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    incidents = incidents.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(
        drop=True
    )
    return visits, incidents


def write_warehouse(home: Path, visits: pd.DataFrame, incidents: pd.DataFrame) -> None:
    """Write canonical frames where ``warehouse.store`` reads them."""
    for table, frame in ((TABLE_VISITS, visits), (TABLE_INCIDENTS, incidents)):
        path = warehouse_path(home, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)


_VISIT_DEFAULTS: dict[str, object] = {
    "officer_id": "P1", "station": "S1", "county": "C1", "township": "T1", "village": "V1",
    "persons_met": 1, "household_type": "ordinary", "has_dispute": False, "dispute_type": None,
    "dispute_severity": None, "dispute_parties": 0, "risk_hazards": "", "resolution_status": None,
    "mediation_agreement": None, "followup_due": None, "review_status": "approved",
    "reviewed_at": None, "source_file": "v.xlsx",
}  # fmt: skip


def _ts(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize(TIMEZONE) if ts.tzinfo is None else ts.tz_convert(TIMEZONE)


def _tz_column(values: pd.Series) -> pd.Series:
    col = pd.to_datetime(values.astype(object), utc=True)
    return col.dt.tz_convert(TIMEZONE).astype(TZ)


def visits_frame(records: list[dict]) -> pd.DataFrame:
    """Canonical visits from minimal dicts (``household_id``, ``visited_at`` …; naive = local)."""
    rows = []
    for i, rec in enumerate(records):
        row = {"visit_id": f"v{i:04d}", **_VISIT_DEFAULTS, **rec}
        row["visited_at"] = _ts(row["visited_at"])
        row["recorded_at"] = _ts(row.get("recorded_at")) or row["visited_at"]
        row["reviewed_at"] = _ts(row["reviewed_at"])
        row["source_row"] = i + 2
        rows.append(row)
    frame = pd.DataFrame(rows)
    for c in ("visited_at", "recorded_at", "reviewed_at"):
        frame[c] = _tz_column(frame[c])
    frame["followup_due"] = pd.Series(pd.NaT, index=frame.index, dtype=TZ)
    for c in ("persons_met", "dispute_parties"):
        frame[c] = frame[c].astype("Int64")
    for c in ("has_dispute", "mediation_agreement"):
        frame[c] = frame[c].astype("boolean")
    frame["source_row"] = frame["source_row"].astype(np.int64)
    return frame


def incidents_frame(records: list[dict]) -> pd.DataFrame:
    """Canonical incidents from minimal dicts (``household_id``, ``reported_at``, ``category``)."""
    rows = []
    for i, rec in enumerate(records):
        row = {
            "incident_id": f"i{i:04d}",
            "county": "C1",
            "township": "T1",
            "village": "V1",
            "source_file": "i.xlsx",
            **rec,
        }
        row["reported_at"] = _ts(row["reported_at"])
        row["recorded_at"] = _ts(row.get("recorded_at")) or row["reported_at"]
        row["source_row"] = i + 2
        rows.append(row)
    cols = [
        "incident_id",
        "household_id",
        "reported_at",
        "recorded_at",
        "category",
        "county",
        "township",
        "village",
        "source_file",
        "source_row",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    for c in ("reported_at", "recorded_at"):
        frame[c] = _tz_column(frame[c])
    for c in (
        "incident_id",
        "household_id",
        "category",
        "county",
        "township",
        "village",
        "source_file",
    ):
        frame[c] = frame[c].astype("str")
    frame["source_row"] = frame["source_row"].astype(np.int64)
    return frame
