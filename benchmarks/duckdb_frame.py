"""The peer: DuckDB computing the weekly training frame for the features SQL expresses plainly.

Of the 147 features, 96 are counts, windowed counts and days-since-last that a
SQL user writes directly: per window (30d, 90d, 365d, all) visits, disputes
(all, by each of 7 types and 3 severities, mediation agreements), incidents
and escalations, incidents by each of 11 categories (90d, 365d, all), and days
since the last visit, dispute and incident; plus the label. The other 51
(shares, means, open-dispute episodes, trends, hazards latest/ever, the
leave-one-out context rates, household type) need per-household ordered state
or a second pass and are left out. The rule is the feature job's: a visit
counts at ``t`` when approved, ``recorded_at < t``, ``visited_at < t`` and
(when present) ``reviewed_at < t``; an incident when ``recorded_at < t`` and
``reported_at < t``; windows ``[t - w, t)``; the label looks at ``[t, t + 30 d)``.

Every labelled weekly as-of date of the run (``training.train.training_as_of_dates``)
is computed in one query (a range join of the dates with the warehouse's
Parquet files), written to ``<home>/duckdb_frame.parquet``. DuckDB runs with 2
threads, a memory limit (``--memory-limit``, default 8GB) and spills to
``<home>/duckdb_tmp``. When the training frame's pieces exist, the counts of the
last piece are compared with the peer's.

Usage: ``python -m benchmarks.duckdb_frame --home DIR [--memory-limit 8GB]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    INCIDENT_CATEGORIES,
)

WINDOWS = {"30d": 30, "90d": 90, "365d": 365, "all": None}
CATEGORY_WINDOWS = ("90d", "365d", "all")


def _in_window(column: str, days: int | None) -> str:
    return "TRUE" if days is None else f"{column} >= d.t - INTERVAL {days} DAY"


def frame_sql(dates: list[pd.Timestamp], visits: str, incidents: str, horizon_days: int) -> str:
    """The query: one row per (household of the cohort, as-of date)."""
    stamps = ", ".join(f"TIMESTAMPTZ '{d.isoformat()}'" for d in dates)
    esc = ", ".join(f"'{c}'" for c in DEFAULT_ESCALATION_CATEGORIES)
    types = ", ".join(f"'{c}'" for c in DISPUTE_TYPES)
    v_cols, i_cols = [], []
    for w, days in WINDOWS.items():
        inw = _in_window("v.visited_at", days)
        v_cols.append(f"count(*) FILTER (WHERE {inw})::DOUBLE AS visits_{w}_count")
        v_cols.append(f"count(*) FILTER (WHERE {inw} AND v.dispute)::DOUBLE AS disputes_{w}_count")
        for code in DISPUTE_TYPES:
            v_cols.append(
                f"count(*) FILTER (WHERE {inw} AND v.dispute AND v.dtype = '{code}')::DOUBLE "
                f"AS disputes_{w}_count_{code}"
            )
        for code in DISPUTE_SEVERITIES:
            v_cols.append(
                f"count(*) FILTER (WHERE {inw} AND v.dispute AND v.sev = '{code}')::DOUBLE "
                f"AS disputes_{w}_count_{code}"
            )
        v_cols.append(
            f"count(*) FILTER (WHERE {inw} AND v.dispute AND v.med)::DOUBLE "
            f"AS disputes_{w}_mediation_agreements"
        )
        ini = _in_window("i.reported_at", days)
        i_cols.append(f"count(*) FILTER (WHERE {ini})::DOUBLE AS incidents_{w}_count")
        i_cols.append(
            f"count(*) FILTER (WHERE {ini} AND i.category IN ({esc}))::DOUBLE "
            f"AS incidents_{w}_escalations"
        )
        if w in CATEGORY_WINDOWS:
            for code in INCIDENT_CATEGORIES:
                i_cols.append(
                    f"count(*) FILTER (WHERE {ini} AND i.category = '{code}')::DOUBLE "
                    f"AS incidents_{w}_count_{code}"
                )
    v_cols.append("(epoch(d.t) - epoch(max(v.visited_at))) / 86400 AS visits_all_days_since_last")
    v_cols.append(
        "(epoch(d.t) - epoch(max(v.visited_at) FILTER (WHERE v.dispute))) / 86400 "
        "AS disputes_all_days_since_last"
    )
    i_cols.append(
        "(epoch(d.t) - epoch(max(i.reported_at))) / 86400 AS incidents_all_days_since_last"
    )
    i_names = [c.rsplit(" AS ", 1)[1] for c in i_cols]
    fill = ", ".join(
        f"coalesce(inf.{n}, 0) AS {n}" if not n.endswith("since_last") else f"inf.{n}"
        for n in i_names
    )
    return f"""
    WITH d AS (SELECT unnest([{stamps}]) AS t),
    v AS (
      SELECT household_id, visited_at, coalesce(recorded_at, visited_at) AS rec, reviewed_at,
             coalesce(has_dispute, FALSE) AS dispute,
             CASE WHEN dispute_type IN ({types}) THEN dispute_type ELSE 'other' END AS dtype,
             dispute_severity AS sev, coalesce(mediation_agreement, FALSE) AS med
      FROM read_parquet('{visits}') WHERE review_status = 'approved'
    ),
    i AS (
      SELECT household_id, reported_at, coalesce(recorded_at, reported_at) AS rec, category
      FROM read_parquet('{incidents}')
    ),
    vf AS (
      SELECT v.household_id, d.t, {", ".join(v_cols)}
      FROM d JOIN v ON v.visited_at < d.t AND v.rec < d.t
                   AND (v.reviewed_at IS NULL OR v.reviewed_at < d.t)
      GROUP BY v.household_id, d.t
    ),
    inf AS (
      SELECT i.household_id, d.t, {", ".join(i_cols)}
      FROM d JOIN i ON i.reported_at < d.t AND i.rec < d.t
      GROUP BY i.household_id, d.t
    ),
    lab AS (
      SELECT DISTINCT i.household_id, d.t
      FROM d JOIN i ON i.reported_at >= d.t AND i.reported_at < d.t + INTERVAL {horizon_days} DAY
      WHERE i.category IN ({esc})
    )
    SELECT vf.*, {fill}, (lab.household_id IS NOT NULL)::TINYINT AS label
    FROM vf
    LEFT JOIN inf ON inf.household_id = vf.household_id AND inf.t = vf.t
    LEFT JOIN lab ON lab.household_id = vf.household_id AND lab.t = vf.t
    ORDER BY vf.t, vf.household_id
    """


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    import duckdb

    from training.config import TrainConfig
    from training.train import _labelled_dates, training_as_of_dates
    from warehouse.store import read_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--memory-limit", default="8GB")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    started = time.perf_counter()
    cols = {"visits": ["visited_at", "recorded_at"], "incidents": ["reported_at", "recorded_at"]}
    times = {t: read_table(home, t)[c] for t, c in cols.items()}
    config = TrainConfig()
    dates = training_as_of_dates(times["visits"], times["incidents"], config)
    dates = _labelled_dates(times["visits"], times["incidents"], dates, config)
    del times
    out = home / "duckdb_frame.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone='Asia/Shanghai'")
    con.execute("SET threads=2")
    con.execute(f"SET memory_limit='{args.memory_limit}'")
    con.execute(f"SET temp_directory='{home / 'duckdb_tmp'}'")
    con.execute("SET preserve_insertion_order=false")
    sql = frame_sql(
        dates,
        str(home / "warehouse" / "visits.parquet"),
        str(home / "warehouse" / "incidents.parquet"),
        config.horizon_days,
    )
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    rows = con.execute(f"SELECT count(*), count(DISTINCT t) FROM read_parquet('{out}')").fetchone()
    n_features = len(con.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()) - 3
    elapsed = time.perf_counter() - started
    print(
        f"duckdb peer: {rows[0] if rows else 0} rows x {n_features} features over "
        f"{rows[1] if rows else 0} as-of dates in {elapsed:.1f} s -> {out}"
    )
    pieces = sorted((home / "training_frame").glob("as_of=*.parquet"))
    if pieces:
        ours = pd.read_parquet(pieces[-1])
        day = pieces[-1].stem.split("=", 1)[1]
        peer = con.execute(
            f"SELECT * FROM read_parquet('{out}') WHERE strftime(t, '%Y-%m-%d') = '{day}'"
        ).df()
        merged = ours.merge(peer, on="household_id", suffixes=("", "_peer"))
        checked = ["visits_all_count", "disputes_365d_count", "incidents_365d_escalations"]
        same = all(
            np.allclose(merged[c].astype(float), merged[f"{c}_peer"].astype(float)) for c in checked
        )
        print(
            f"check on {day}: {len(merged)} of {len(ours)} rows matched by household; "
            f"{', '.join(checked)} {'equal' if same else 'DIFFER'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
