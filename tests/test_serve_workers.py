"""`revisit serve --workers N` on the trained prefecture: every worker audits into one chain,
an answered read keeps its audit row even when the server is killed right after, and a
schemathesis run over the live API finds no 5xx and no answer that breaks the schema."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e_support import (  # noqa: F401  (pytest fixtures)
    TrainedPrefecture,
    run_cli,
    start_server,
    trained_prefecture,
)

pytestmark = pytest.mark.e2e


def _schemathesis_over_the_live_api(base_url: str, headers: dict[str, str]) -> None:
    """Generated requests against the running server: no 5xx, answers match the schema."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=8,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: object) -> None:
                # positive_data_acceptance excluded: see tests/test_serving_schema.py
                case.call_and_validate(  # type: ignore[attr-defined]
                    base_url=base_url,
                    headers=headers,
                    excluded_checks=[positive_data_acceptance],
                )

            try:
                run()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE


def test_two_workers_audit_every_read_into_one_chain_that_survives_kill_9(
    trained_prefecture: TrainedPrefecture,  # noqa: F811
    tmp_path: Path,
) -> None:
    home = trained_prefecture.home
    issued = run_cli(["token", "issue", "--role", "analyst", "--name", "workers"], home)
    token = issued.stdout.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    server = start_server(home, tmp_path / "serve.log", "--workers", "2")
    try:
        # /readyz answers once one worker is ready: wait for both before reading
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            log = (tmp_path / "serve.log").read_text(encoding="utf-8")
            if log.count("Application startup complete") >= 2:
                break
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, timeout=30) as client:

            def read(_: int) -> int:
                return client.get("/v1/model", headers=headers).status_code

            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(read, range(40)))
            assert codes == [200] * 40
            last = client.get("/v1/model", headers=headers)
            assert last.status_code == 200
        # kill -9 the whole server (parent and workers) right after the answer
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=15)
    finally:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=15)
    with sqlite3.connect(home / "audit.db") as conn:
        n = conn.execute(
            "SELECT COUNT(*) FROM audit WHERE token_id = ? AND outcome = 'ok'", (token_id,)
        ).fetchone()[0]
    assert n == 41
    verified = run_cli(["audit", "verify"], home)
    assert "hash chain intact" in verified.stdout
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert log.count("Application startup complete") == 2, log[-2000:]


@pytest.mark.slow
def test_schemathesis_over_the_live_api_finds_no_5xx_and_no_schema_mismatch(
    trained_prefecture: TrainedPrefecture,  # noqa: F811
    tmp_path: Path,
) -> None:
    home = trained_prefecture.home
    issued = run_cli(["token", "issue", "--role", "analyst", "--name", "schemathesis"], home)
    token = issued.stdout.strip().splitlines()[-1]
    server = start_server(home, tmp_path / "serve.log")
    try:
        _schemathesis_over_the_live_api(server.base_url, {"Authorization": f"Bearer {token}"})
    finally:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=30)
