"""`make bench`: run every benchmark in turn, one after the other, and keep their output.

Each benchmark is a module ``benchmarks.bench_*`` with a ``main(argv)`` function that
prints its own figures. They run sequentially (never in parallel: the figures are
timings on a 2-core machine) in a subprocess each, so that peak-memory figures are
per benchmark. Output goes to the terminal and to ``bench-results/<name>.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = (
    "bench_simulate",
    "bench_ingest",
    "bench_features",
    "bench_train",
    "bench_serving",
    "compas_check",
    "model_quality",
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named (default: all) and write their output under ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help="benchmarks to run")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    header = (
        f"{datetime.now(UTC).isoformat(timespec='seconds')} on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"
    )
    print(header)
    failures = 0
    for name in args.names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}"],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        text = proc.stdout + (proc.stderr if proc.returncode else "")
        print(text, end="")
        print(f"[{name}: exit {proc.returncode}, {elapsed:.1f} s wall]")
        (args.out / f"{name}.txt").write_text(
            f"{header}\n{text}\n[exit {proc.returncode}, {elapsed:.1f} s]\n"
        )
        failures += proc.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
