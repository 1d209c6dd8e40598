"""Benchmark of `revisit ingest`: rows/s and peak memory for a visits .csv and .xlsx.

Usage: ``python -m benchmarks.bench_ingest [--rows-csv N] [--rows-xlsx N] [--cache DIR]``.
Defaults are the goals' sizes (2M-row CSV, 200k-row xlsx); generated exports are
cached under ``--cache`` (default: <tmp>/revisit-bench) because writing a large
xlsx with openpyxl is slow. Peak memory is the process's ru_maxrss (MiB), so
run one size per process for a clean figure. CPU seconds (all threads of the process)
are printed too: on a shared machine they compare runs fairly where wall time does not.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.contract import VISIT_COLUMNS

HEADERS = {c.name: c.headers[0] for c in VISIT_COLUMNS}


def make_visits(n: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic visits export of ``n`` rows with Simplified headers (text cells)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T08:00")
    visited = start + rng.integers(0, 600 * 24 * 60, n).astype("timedelta64[m]")
    vis = pd.Series(visited).dt.strftime("%Y-%m-%d %H:%M")
    frame = pd.DataFrame(
        {
            "visit_id": [f"V{i:08d}" for i in range(n)],
            "household_id": pd.Series(rng.integers(0, max(n // 5, 1), n)).map("h{:07d}".format),
            "visited_at": vis,
            "recorded_at": vis,
            "officer_id": rng.integers(100000, 100500, n).astype(str),
            "station": "桔山派出所",
            "county": rng.choice(["兴义市", "兴仁市", "安龙县"], n),
            "township": rng.choice(["桔山街道", "丰都街道", "坪东街道"], n),
            "village": rng.choice([f"村{i}" for i in range(50)], n),
            "persons_met": rng.integers(0, 5, n).astype(str),
            "household_type": rng.choice(["普通户", "留守老人户", "独居户"], n),
            "has_dispute": rng.choice(["是", "否"], n, p=[0.1, 0.9]),
            "dispute_type": rng.choice(["", "邻里", "婚恋家庭"], n),
            "dispute_severity": rng.choice(["", "一般", "较大"], n),
            "dispute_parties": rng.integers(0, 4, n).astype(str),
            "risk_hazards": rng.choice(["", "吸毒", "刑满释放、吸毒"], n),
            "resolution_status": rng.choice(["", "已化解", "化解中"], n),
            "mediation_agreement": rng.choice(["", "是", "否"], n),
            "followup_due": "",
            "review_status": "已通过",
            "reviewed_at": vis,
        }
    )
    return frame.rename(columns=HEADERS)


def ensure_csv(cache: Path, n: int) -> Path:
    """Write (once) a UTF-8 visits CSV of ``n`` rows under ``cache``."""
    path = cache / f"visits_{n}.csv"
    if not path.exists():
        make_visits(n).to_csv(path, index=False)
    return path


def ensure_xlsx(cache: Path, n: int) -> Path:
    """Write (once) a visits .xlsx of ``n`` rows under ``cache`` (openpyxl write-only)."""
    from openpyxl import Workbook

    path = cache / f"visits_{n}.xlsx"
    if not path.exists():
        frame = make_visits(n, seed=1)
        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            ws.append(list(row))
        wb.save(path)
    return path


def run_one(path: Path, home: Path) -> dict[str, float]:
    """Ingest ``path`` into ``home``; return rows, seconds, rows/s and peak RSS (MiB)."""
    from warehouse.ingest import ingest_paths

    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest_paths([path], home, None, progress=True)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": report.read,
        "seconds": dt,
        "rows_per_s": report.read / dt,
        "cpu_seconds": cpu,
        "peak_mib": peak,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (cached) exports, ingest them, print rows/s and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows-csv", type=int, default=2_000_000)
    parser.add_argument("--rows-xlsx", type=int, default=200_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "revisit-bench")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n, make in (
            ("csv", args.rows_csv, ensure_csv),
            ("xlsx", args.rows_xlsx, ensure_xlsx),
        ):
            if n <= 0:
                continue
            path = make(args.cache, n)
            r = run_one(path, Path(tmp) / kind)
            goal = 100_000 if kind == "csv" else 20_000
            print(
                f"ingest {kind:4s}: {r['rows']:>9,.0f} rows in {r['seconds']:6.1f} s = "
                f"{r['rows_per_s']:>9,.0f} rows/s (goal {goal:,}); CPU {r['cpu_seconds']:6.1f} s "
                f"(all threads: a busy shared machine inflates wall time, not this); "
                f"peak RSS {r['peak_mib']:,.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
