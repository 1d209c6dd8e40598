"""Benchmark of `revisit simulate`: wall time and peak memory, csv and xlsx.

Usage: ``python -m benchmarks.bench_simulate [--households-csv N] [--households-xlsx N]
[--days D] [--keep DIR]``.  Defaults are the goals' sizes: 1 000 000 households over
two years in csv (goal: <= 3 min, <= 8 GB) and 20 000 households in xlsx (goal: < 60 s).
Each size runs in its own child process so that its peak memory (ru_maxrss, MiB) is
its own; output goes to a temporary folder unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

END = dt.date(2026, 11, 29)
GOALS = {"csv": (1_000_000, 180.0, 8192.0), "xlsx": (20_000, 60.0, None)}


def _one(fmt: str, households: int, days: int, out: Path) -> dict[str, float | int | str]:
    from simulation.simulate import simulate
    from simulation.world import SimulationConfig

    config = SimulationConfig(
        households=households, start=END - dt.timedelta(days=days - 1), end=END, seed=0, fmt=fmt
    )
    began = time.perf_counter()
    summary = simulate(config, out)
    wall = time.perf_counter() - began
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "format": fmt,
        "households": households,
        "days": days,
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "visit_rows": summary.manifest["counts"]["visits"],
        "incident_rows": summary.manifest["counts"]["incidents"],
        "output_mib": round(size / 2**20, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one line per size; returns 1 if a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households-csv", type=int, default=GOALS["csv"][0])
    parser.add_argument("--households-xlsx", type=int, default=GOALS["xlsx"][0])
    parser.add_argument("--days", type=int, default=731, help="window length (days)")
    parser.add_argument("--keep", type=Path, default=None, help="keep outputs under this folder")
    parser.add_argument("--one", nargs=2, metavar=("FORMAT", "HOUSEHOLDS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:  # child process: one run, JSON on stdout
        fmt, n = args.one[0], int(args.one[1])
        print(json.dumps(_one(fmt, n, args.days, args.out)))
        return 0

    failed = 0
    with tempfile.TemporaryDirectory(prefix="revisit-bench-sim-") as tmp:
        base = args.keep or Path(tmp)
        for fmt, n in (("xlsx", args.households_xlsx), ("csv", args.households_csv)):
            if n <= 0:
                continue
            out = base / f"{fmt}-{n}"
            cmd = [sys.executable, "-m", "benchmarks.bench_simulate", "--one", fmt, str(n)]
            cmd += ["--days", str(args.days), "--out", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode:
                print(f"simulate {fmt} {n}: failed\n{proc.stderr[-2000:]}")
                failed += 1
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            goal_n, goal_s, goal_mib = GOALS[fmt]
            verdict = ""
            if n == goal_n:
                ok = res["wall_s"] <= goal_s and (
                    goal_mib is None or res["peak_rss_mib"] <= goal_mib
                )
                verdict = f"  goal <= {goal_s:.0f} s" + (
                    f", <= {goal_mib:.0f} MiB" if goal_mib else ""
                )
                verdict += ": met" if ok else ": MISSED"
                failed += not ok
            print(
                f"simulate {fmt:4s} {n:>9,d} households x {res['days']} days: {res['wall_s']:.1f} s, "
                f"peak {res['peak_rss_mib']:.0f} MiB, {res['visit_rows']:,} visits, "
                f"{res['incident_rows']:,} incidents, {res['output_mib']:.0f} MiB written{verdict}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
