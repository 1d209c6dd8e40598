"""The main job at a given size, stage by stage: time and peak resident memory of each.

Each stage is the plain ``revisit`` command a user runs, in its own process, so
that its peak resident memory is its own (``ru_maxrss`` of that child from
``os.wait4``; Linux reports KiB):

1. ``revisit simulate --households N`` (2 years ending yesterday, seed 0);
2. ``revisit ingest`` of the exports;
3. ``revisit features`` (today's snapshot; ``--dask local:2`` with ``--dask``);
4. ``revisit train`` (frame in pieces, 3 out-of-time folds with baselines and
   the oracle, final model, MLflow);
5. ``revisit promote --force --reason ...`` (signed with ``REVISIT_SIGNING_KEY``,
   a benchmark key unless set; the gate's refusal is overridden and recorded so
   that the serving stage has a champion);
6. serving start-up: the champion loaded and the 1-date snapshot built and
   scored, as ``revisit serve`` does before it listens;
7. the peer (``--peer``): DuckDB computing the same weekly training frame for
   the features SQL expresses plainly (:mod:`benchmarks.duckdb_frame`).

Goals (issue #12, on the 2-core, 24 GB machine): at 1 000 000 households every
stage <= 12 GB peak and ``revisit train`` <= 45 min; serving start-up <= 90 s
and <= 4 GB; ``make demo`` (20 000 households) <= 3 GB.

Usage: ``python -m benchmarks.bench_scale --households N [--home DIR] [--stages a,b]
[--peer] [--dask] [--json FILE]``. Data are kept under ``--home`` (default
``bench-scale-<N>``) so that later stages can be rerun alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("simulate", "ingest", "features", "train", "promote", "serve", "peer")
ROOT = Path(__file__).resolve().parents[1]
REVISIT = [str(Path(sys.executable).with_name("revisit"))]

_SERVE = """
import sys, time
from serving.config import ServingSettings
from serving.loading import load_state
t0 = time.perf_counter()
state = load_state(ServingSettings())
print(f"snapshot: {len(state.frame)} households scored in {time.perf_counter() - t0:.1f} s")
"""


def run_stage(name: str, argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run one stage in a child process; its wall time (s), peak RSS (bytes) and exit code.

    The peak is the larger of the child's ``ru_maxrss`` (from ``os.wait4``) and the
    resident memory of the child and its own children sampled every 0.2 s: the
    training stages reset the kernel's high-water mark per stage (to show each
    stage's own peak), which also lowers the ``ru_maxrss`` reported at exit.
    """
    import threading

    import psutil

    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, env=env)
    sampled = [0]
    done = threading.Event()

    def sample() -> None:
        proc = psutil.Process(child.pid)
        while not done.wait(0.2):
            try:
                tree = [proc, *proc.children(recursive=True)]
                sampled[0] = max(sampled[0], sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                continue

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    watcher.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    peak = max(usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024), sampled[0])
    return {
        "stage": name,
        "seconds": round(seconds, 1),
        "peak_bytes": peak,
        "exit": child.returncode,
    }


def stage_commands(
    name: str, home: Path, households: int, dask: bool, negative_share: float | None
) -> list[str]:
    """The command line of a stage."""
    exports = home / "exports"
    if name == "simulate":
        return [*REVISIT, "simulate", "--households", str(households), "--seed", "0",
                "--out", str(exports), "--format", "csv"]  # fmt: skip
    if name == "ingest":
        return [*REVISIT, "ingest", str(exports)]
    if name == "features":
        extra = ["--dask", "local:2"] if dask else []
        return [*REVISIT, "features", "--out", str(home / "features" / "snapshot.parquet"), *extra]
    if name == "train":
        extra = ["--negative-share", str(negative_share)] if negative_share else []
        return [*REVISIT, "train", "--ground-truth", str(exports / "ground_truth"), *extra]
    if name == "promote":
        # serving start-up needs a champion: a refusal of the gate is overridden, on the record
        reason = "benchmark: the serving start-up stage needs a champion"
        return [*REVISIT, "promote", "--force", "--reason", reason]
    if name == "serve":
        return [sys.executable, "-c", _SERVE]
    if name == "peer":
        return [sys.executable, "-m", "benchmarks.duckdb_frame", "--home", str(home)]
    raise ValueError(f"unknown stage {name!r}; expected one of {STAGES!r}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--stages", default=",".join(s for s in STAGES if s != "peer"))
    parser.add_argument("--peer", action="store_true", help="also run the DuckDB peer")
    parser.add_argument("--dask", action="store_true", help="features on a LocalCluster of 2")
    parser.add_argument("--negative-share", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    home = (args.home or ROOT / f"bench-scale-{args.households}").resolve()
    home.mkdir(parents=True, exist_ok=True)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if args.peer and "peer" not in stages:
        stages.append("peer")
    env = {
        **os.environ,
        "REVISIT_HOME": str(home),
        "REVISIT_ID_SECRET": os.environ.get(
            "REVISIT_ID_SECRET", "bench-secret-not-for-production-use"
        ),
        # promote signs the version and serving verifies it (issue #10)
        "REVISIT_SIGNING_KEY": os.environ.get(
            "REVISIT_SIGNING_KEY", "bench-signing-key-not-for-production-use"
        ),
        "PYTHONWARNINGS": "ignore",
    }
    results = []
    for name in stages:
        print(f"\n== {name} ({args.households} households) ==", flush=True)
        cmd = stage_commands(name, home, args.households, args.dask, args.negative_share)
        result = run_stage(name, cmd, env)
        results.append(result)
        print(
            f"== {name}: {result['seconds']} s, peak {int(result['peak_bytes']) / 1e9:.2f} GB, "
            f"exit {result['exit']}",
            flush=True,
        )
        if result["exit"] not in (0, 3):
            break
    print(f"\nstage        seconds   peak RSS   ({args.households} households, {home})")
    for r in results:
        print(
            f"{r['stage']:<10} {r['seconds']:>9} {int(r['peak_bytes']) / 1e9:>8.2f} GB  exit {r['exit']}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"households": args.households, "stages": results}, indent=2)
        )
    return 0 if all(r["exit"] in (0, 3) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
