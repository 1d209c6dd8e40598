"""Serving benchmark: throughput and latency of ``GET /v1/priority-list`` next to ``/healthz``.

A server process builds a synthetic snapshot of N households (a fast linear fake
model, or the real champion when ``--home`` is given), scores it and serves it
with uvicorn (one worker, no access log) on a free loopback port (127.0.0.1 only).
A load generator drives ``/healthz`` (the framework's ceiling) and then
``GET /v1/priority-list?township=…&limit=50`` with 32 concurrent keep-alive
connections for a bounded time. Reported: requests/s, p50/p99 latency (ms),
start-up time (load + score, s) and the server's resident memory (MiB, psutil).

Load generator: ``wrk`` (C, one thread, ``--latency``) when it is on PATH, else
a second Python process with httpx + asyncio; the report names the one used.
On a 2-core machine the generator competes with the server for CPU, and by
Little's law the mean latency is concurrency / throughput, so a costly client
(httpx costs about as much CPU per request as the server) lowers both figures.

Goals (issue #6, at 1 000 000 households on the 2-core machine): p99 ≤ 50 ms,
throughput ≥ 50 % of /healthz, start-up ≤ 60 s, RSS ≤ 4 GB.

Usage: ``python -m benchmarks.bench_serving [--households N] [--duration S] [--concurrency C]
[--limit L] [--home DIR] [--load-client auto|wrk|httpx]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

N_FEATURES = 20
AS_OF = "2026-11-30"


@dataclass(frozen=True)
class _Reason:
    code: str
    feature: str
    value: float
    contribution: float
    text_en: str
    text_zh: str


class FastFakeModel:
    """Linear logistic model over ``f00..f19`` with per-feature contributions as reasons."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.feature_names_ = [f"f{i:02d}" for i in range(N_FEATURES)]
        self.coef = rng.normal(0, 0.3, N_FEATURES)

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.feature_names_].to_numpy(dtype=np.float64, na_value=0.0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        z = -3.0 + self._matrix(X) @ self.coef
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def explain(self, X: pd.DataFrame, top_k: int = 3) -> list[list[_Reason]]:
        M = self._matrix(X)
        contrib = M * self.coef
        out = []
        for i in range(len(X)):
            top = np.argsort(-contrib[i])[:top_k]
            out.append(
                [
                    _Reason(
                        self.feature_names_[j].upper(),
                        self.feature_names_[j],
                        float(M[i, j]),
                        float(contrib[i, j]),
                        f"{self.feature_names_[j]} is {M[i, j]:.1f}",
                        f"{self.feature_names_[j]} 为 {M[i, j]:.1f}",
                    )
                    for j in top
                    if contrib[i, j] > 0
                ]
            )
        return out


def synthetic_snapshot(n: int, seed: int = 0) -> pd.DataFrame:
    """A snapshot of ``n`` households: 9 counties, ~7 000 households per township, ~350 per village."""
    rng = np.random.default_rng(seed)
    n_town = max(1, n // 7000)
    n_vill = max(n_town, n // 350)
    village = rng.integers(0, n_vill, n)
    township = village % n_town
    county = township % 9
    frame = pd.DataFrame(
        {
            "household_id": pd.Series([f"H{i:07d}" for i in range(n)], dtype="str"),
            "as_of": pd.Timestamp(AS_OF, tz="Asia/Shanghai"),
            "county": pd.Series(np.char.add("C", county.astype(str)), dtype="str"),
            "township": pd.Series(np.char.add("T", township.astype(str)), dtype="str"),
            "village": pd.Series(np.char.add("V", village.astype(str)), dtype="str"),
            "visits_all_days_since_last": rng.uniform(0, 365, n).round(),
            "disputes_all_open": rng.poisson(0.3, n).astype(np.float64),
        }
    )
    feats = rng.poisson(1.0, (n, N_FEATURES)).astype(np.float64)
    for i in range(N_FEATURES):
        frame[f"f{i:02d}"] = feats[:, i]
    return frame


# ------------------------------------------------------------------ server side
def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from serving.app import create_app
    from serving.config import ServingSettings
    from serving.loading import load_state
    from serving.state import ModelInfo, ServingState

    settings = ServingSettings(
        home=Path(args.home) if args.home else Path(args.workdir),
        tokens_path=Path(args.workdir) / "tokens.json",
    )

    def loader(s: ServingSettings) -> ServingState:
        started = time.perf_counter()
        if args.home:
            state = load_state(s)
        else:
            frame = synthetic_snapshot(args.households)
            state = ServingState(
                FastFakeModel(), frame, ModelInfo(name="bench", version="0"), pd.Timestamp(AS_OF)
            )
        Path(args.workdir, "startup.json").write_text(
            json.dumps(
                {
                    "load_score_s": time.perf_counter() - started,
                    "n": state.n_households,
                    "township": state.jurisdictions("township")[0],
                }
            )
        )
        return state

    app = create_app(settings, state_loader=loader)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, workers=1, log_level="warning", access_log=False
    )
    return 0


# ------------------------------------------------------------------ client side
async def _drive(
    url: str, headers: dict[str, str], concurrency: int, duration: float
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, headers=headers) as client:
        await client.get(url)  # warm-up (reasons of the first page get cached)
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000.0
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def _client(args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    result = asyncio.run(_drive(args.client, headers, args.concurrency, args.duration))
    print(json.dumps(result))
    return 0


def _uvicorn_stack() -> str:
    """The event loop and HTTP parser uvicorn's ``auto`` picks (uvloop/httptools when installed)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_WRK_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    """A wrk duration such as ``812.00us``, ``12.5ms`` or ``1.02s``, in milliseconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"expected a wrk duration like '12.5ms', got {text!r}")
    return float(match.group(1)) * _WRK_UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests, errors, requests/s and p50/p99 latency (ms) from ``wrk --latency`` output.

    Errors are non-2xx/3xx responses plus socket errors (connect, read, write, timeout).

    Raises
    ------
    ValueError
        When the output lacks the request count, the rate or the latency distribution.
    """
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", output, re.MULTILINE)
    pct = dict(re.findall(r"^\s*(50|99)(?:\.000)?%\s+(\S+)\s*$", output, re.MULTILINE))
    if total is None or rps is None or set(pct) != {"50", "99"}:
        raise ValueError(f"expected wrk --latency output, got {output[-500:]!r}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return {
        "requests": int(total.group(1)),
        "errors": errors,
        "rps": float(rps.group(1)),
        "p50_ms": _wrk_ms(pct["50"]),
        "p99_ms": _wrk_ms(pct["99"]),
    }


def _run_wrk(url: str, token: str | None, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    httpx.get(url, headers=headers, timeout=60).raise_for_status()  # warm-up
    cmd = [
        "wrk",
        "-t1",
        f"-c{args.concurrency}",
        f"-d{max(1, round(args.duration))}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, timeout=args.duration + 120
    )
    return parse_wrk(out.stdout)


def _run_client(url: str, token: str | None, args: argparse.Namespace) -> dict[str, Any]:
    if args.load_client == "wrk":
        return _run_wrk(url, token, args)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_serving",
        "--client",
        url,
        "--concurrency",
        str(args.concurrency),
        "--duration",
        str(args.duration),
    ]
    if token:
        cmd += ["--token", token]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=args.duration + 120
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one of its two processes) and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per endpoint")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--home", type=Path, default=None, help="serve the real champion of this home"
    )
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument(
        "--load-client",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load generator: wrk when on PATH (auto), or a Python httpx process",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--token", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args)
    if args.client:
        return _client(args)
    if args.load_client == "auto":
        args.load_client = "wrk" if shutil.which("wrk") else "httpx"
    elif args.load_client == "wrk" and not shutil.which("wrk"):
        print("--load-client wrk: wrk is not on PATH (apt-get install wrk)")
        return 2

    import httpx
    import psutil

    from serving.auth import TokenStore

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as workdir:
        token, _ = TokenStore(Path(workdir) / "tokens.json").issue("analyst", label="bench")
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.bench_serving",
            "--serve",
            "--port",
            str(port),
            "--workdir",
            workdir,
            "--households",
            str(args.households),
        ]
        if args.home:
            cmd += ["--home", str(args.home)]
        t0 = time.perf_counter()
        server = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                if server.poll() is not None:
                    print(f"server exited with {server.returncode} before it was ready")
                    return 1
                try:
                    r = httpx.get(f"{base}/readyz", timeout=2)
                    if r.status_code == 200:
                        break
                    if r.status_code == 503 and r.json().get("last_reload_error"):
                        print(f"server failed to load: {r.json()['last_reload_error']}")
                        return 1
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
            ready_s = time.perf_counter() - t0
            startup = json.loads(Path(workdir, "startup.json").read_text())
            proc = psutil.Process(server.pid)
            rss_ready = proc.memory_info().rss
            township = startup["township"]
            list_url = f"{base}/v1/priority-list?township={township}&limit={args.limit}"
            health = _run_client(f"{base}/healthz", None, args)
            listing = _run_client(list_url, token, args)
            rss_after = proc.memory_info().rss
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

    n = startup["n"]
    ratio = listing["rps"] / health["rps"] if health["rps"] else float("nan")
    print(
        f"serving benchmark: {n} households, {args.concurrency} connections, {args.duration:g} s per endpoint, "
        f"{'champion of ' + str(args.home) if args.home else 'fast fake model'}"
    )
    client_desc = (
        "wrk (C, 1 thread)"
        if args.load_client == "wrk"
        else "httpx + asyncio (Python; competes with the server for CPU)"
    )
    print(
        f"  load generator: {client_desc}; server: uvicorn, 1 worker, no access log, {_uvicorn_stack()}"
    )
    print(
        f"  start-up: load + score {startup['load_score_s']:.1f} s; process ready after {ready_s:.1f} s   (goal ≤ 60 s)"
    )
    print(
        f"  resident memory: {rss_ready / 2**20:.0f} MiB ready, {rss_after / 2**20:.0f} MiB after load test   (goal ≤ 4096 MiB)"
    )
    for name, res in (
        ("/healthz", health),
        (f"/v1/priority-list?township=…&limit={args.limit}", listing),
    ):
        print(
            f"  {name}: {res['rps']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms, "
            f"{res['requests']} requests, {res['errors']} errors"
        )
    print(
        f"  list throughput / healthz ceiling: {ratio:.0%}   (goal ≥ 50 %); list p99 goal ≤ 50 ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
