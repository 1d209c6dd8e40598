"""Benchmark of the point-in-time feature job, against a straightforward DuckDB query.

Generates a synthetic canonical warehouse with numpy at the requested scale,
then times:

1. one as-of date over ``--households`` households (targets at full scale,
   1 000 000 households / 10 000 000 visits / 1 000 000 incidents: <= 60 s and
   <= 8 GB on the 2-core reference machine);
2. the weekly training frame (52 Mondays) over ``--weekly-households``
   households (target: 20 000 households in <= 30 s);
3. the peer a user might pick instead: a plain DuckDB SQL query computing a
   subset of the same features (visit counts and days since the last visit,
   incident counts, escalations and days since the last incident) for the
   same as-of date. The outputs must match; the time ratio is printed.

Peak memory is the process's maximum resident set size (``ru_maxrss``), which
includes the generated data.

Usage: ``python -m benchmarks.bench_features [--households N] [--visits-per-household V] ...``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from features.asof import weekly_as_of_dates
from features.build import build_features
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    HOUSEHOLD_TYPES,
    INCIDENT_CATEGORIES,
    RESOLUTION_STATUSES,
    RISK_HAZARDS,
    TIMEZONE,
)

DAY_S = 86_400
START = pd.Timestamp("2024-01-01", tz=TIMEZONE)
DAYS = 730


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _times(seconds: np.ndarray) -> pd.Series:
    ns = int(START.value) + seconds.astype(np.int64) * 10**9
    return pd.Series(pd.DatetimeIndex(ns, tz="UTC").tz_convert(TIMEZONE).as_unit("ns"))


def synthetic_warehouse(
    n_households: int, visits_per_household: float, incidents_per_household: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical (visits, incidents) frames over two years, generated with numpy (whole seconds)."""
    rng = np.random.default_rng(seed)
    nv = int(n_households * visits_per_household)
    ni = int(n_households * incidents_per_household)
    hh_names = pd.Series(np.arange(n_households)).map("H{:07d}".format).astype("str").to_numpy()
    n_villages = max(1, n_households // 300)
    hh_village = rng.integers(0, n_villages, n_households)
    vh = rng.integers(0, n_households, nv)
    vis = rng.integers(0, DAYS * DAY_S, nv)
    rec = vis + np.where(rng.random(nv) < 0.7, 0, rng.integers(0, 10 * DAY_S, nv))
    rev = rec + rng.integers(0, 5 * DAY_S, nv)
    has_dispute = rng.random(nv) < 0.1

    def pick(values: list[str], n: int, mask: np.ndarray | None = None) -> pd.Series:
        s = pd.Series(
            np.asarray(values, dtype=object)[rng.integers(0, len(values), n)], dtype="str"
        )
        return s if mask is None else s.where(mask)

    hazard_combos = ["", *RISK_HAZARDS, "drug_use|released_prisoner", "elderly_alone|safety_hazard"]
    hazard_codes = np.where(rng.random(nv) < 0.85, 0, rng.integers(1, len(hazard_combos), nv))
    village = hh_village[vh]
    visits = pd.DataFrame(
        {
            "visit_id": pd.Series(np.arange(nv)).map("V{:09d}".format).astype("str"),
            "household_id": pd.Series(hh_names[vh], dtype="str"),
            "visited_at": _times(vis),
            "recorded_at": _times(rec),
            "county": pd.Series(village % 9).map("C{}".format).astype("str"),
            "township": pd.Series(village % 150).map("T{}".format).astype("str"),
            "village": pd.Series(village).map("V{}".format).astype("str"),
            "persons_met": pd.array(rng.integers(0, 4, nv), dtype="Int64"),
            "household_type": pick(list(HOUSEHOLD_TYPES), nv),
            "has_dispute": pd.array(has_dispute, dtype="boolean"),
            "dispute_type": pick(list(DISPUTE_TYPES), nv, has_dispute),
            "dispute_severity": pick(list(DISPUTE_SEVERITIES), nv, has_dispute),
            "risk_hazards": pd.Series(
                np.asarray(hazard_combos, dtype=object)[hazard_codes], dtype="str"
            ),
            "resolution_status": pick(list(RESOLUTION_STATUSES), nv, has_dispute),
            "mediation_agreement": pd.array(has_dispute & (rng.random(nv) < 0.3), dtype="boolean"),
            "review_status": pick(["approved"] * 18 + ["pending", "rejected"], nv),
            "reviewed_at": _times(rev).where(rng.random(nv) < 0.8),
        }
    )
    ih = rng.integers(0, n_households, ni)
    rep = rng.integers(0, DAYS * DAY_S, ni)
    incidents = pd.DataFrame(
        {
            "incident_id": pd.Series(np.arange(ni)).map("I{:09d}".format).astype("str"),
            "household_id": pd.Series(hh_names[ih], dtype="str"),
            "reported_at": _times(rep),
            "recorded_at": _times(
                rep + np.where(rng.random(ni) < 0.8, 0, rng.integers(0, 3 * DAY_S, ni))
            ),
            "category": pick(list(INCIDENT_CATEGORIES), ni),
        }
    )
    return visits, incidents


PEER_COLUMNS = [
    "visits_all_count",
    "visits_30d_count",
    "visits_365d_count",
    "visits_all_days_since_last",
    "incidents_all_count",
    "incidents_365d_escalations",
    "incidents_all_days_since_last",
]


def duckdb_peer(visits: pd.DataFrame, incidents: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The same subset of features for one as-of date, by a plain DuckDB SQL query."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='Asia/Shanghai'")
    con.execute("SET threads=2")
    con.register("visits", visits)
    con.register("incidents", incidents)
    t = f"TIMESTAMPTZ '{as_of.isoformat()}'"
    escalations = ", ".join(f"'{c}'" for c in DEFAULT_ESCALATION_CATEGORIES)
    sql = f"""
    WITH v AS (
      SELECT household_id, visited_at FROM visits
      WHERE review_status = 'approved' AND recorded_at < {t} AND visited_at < {t}
        AND (reviewed_at IS NULL OR reviewed_at < {t})
    ), vf AS (
      SELECT household_id,
             count(*)::DOUBLE AS visits_all_count,
             count(*) FILTER (WHERE visited_at >= {t} - INTERVAL 30 DAY)::DOUBLE AS visits_30d_count,
             count(*) FILTER (WHERE visited_at >= {t} - INTERVAL 365 DAY)::DOUBLE AS visits_365d_count,
             (epoch({t}) - epoch(max(visited_at))) / 86400 AS visits_all_days_since_last
      FROM v GROUP BY household_id
    ), inf AS (
      SELECT household_id,
             count(*)::DOUBLE AS incidents_all_count,
             count(*) FILTER (WHERE category IN ({escalations})
                              AND reported_at >= {t} - INTERVAL 365 DAY)::DOUBLE AS incidents_365d_escalations,
             (epoch({t}) - epoch(max(reported_at))) / 86400 AS incidents_all_days_since_last
      FROM incidents WHERE recorded_at < {t} AND reported_at < {t}
      GROUP BY household_id
    )
    SELECT vf.household_id, vf.visits_all_count, vf.visits_30d_count, vf.visits_365d_count,
           vf.visits_all_days_since_last,
           coalesce(inf.incidents_all_count, 0) AS incidents_all_count,
           coalesce(inf.incidents_365d_escalations, 0) AS incidents_365d_escalations,
           inf.incidents_all_days_since_last
    FROM vf LEFT JOIN inf USING (household_id)
    ORDER BY vf.household_id
    """
    return con.execute(sql).df()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when outputs match (1 otherwise)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--visits-per-household", type=float, default=10.0)
    parser.add_argument("--incidents-per-household", type=float, default=1.0)
    parser.add_argument("--weekly-households", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    as_of = pd.Timestamp("2025-06-02", tz=TIMEZONE)
    started = time.perf_counter()
    visits, incidents = synthetic_warehouse(
        args.households, args.visits_per_household, args.incidents_per_household, args.seed
    )
    print(
        f"generated {len(visits):,} visits, {len(incidents):,} incidents for "
        f"{args.households:,} households in {time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    ours = build_features(visits, incidents, [as_of])
    one_date_s = time.perf_counter() - started
    print(
        f"one as-of date: {len(ours):,} rows x {ours.shape[1]} columns in {one_date_s:.2f} s "
        f"(peak RSS so far {_peak_gib():.2f} GiB)"
    )

    started = time.perf_counter()
    peer = duckdb_peer(visits, incidents, as_of)
    peer_s = time.perf_counter() - started
    mine = ours[["household_id", *PEER_COLUMNS]].reset_index(drop=True)
    peer = peer.astype({"household_id": "str"})
    try:
        pd.testing.assert_frame_equal(mine, peer[mine.columns], check_dtype=False, rtol=1e-9)
        same = True
    except AssertionError as err:
        print(f"MISMATCH between the feature job and the DuckDB peer: {err}", file=sys.stderr)
        same = False
    print(
        f"DuckDB peer ({len(PEER_COLUMNS)} of {ours.shape[1] - 6} features): {peer_s:.2f} s; "
        f"outputs match: {same}; time ratio ours/DuckDB = {one_date_s / peer_s:.2f} "
        f"(ours computes all {ours.shape[1] - 6} features)"
    )
    del ours, peer, mine, visits, incidents

    wv, wi = synthetic_warehouse(
        args.weekly_households,
        args.visits_per_household,
        args.incidents_per_household,
        args.seed + 1,
    )
    dates = weekly_as_of_dates("2024-12-30", "2025-12-22")
    started = time.perf_counter()
    frame = build_features(wv, wi, dates)
    weekly_s = time.perf_counter() - started
    print(
        f"weekly frame: {len(dates)} as-of dates x {args.weekly_households:,} households -> "
        f"{len(frame):,} rows in {weekly_s:.2f} s"
    )
    print(f"peak RSS: {_peak_gib():.2f} GiB")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
