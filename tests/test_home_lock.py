"""One writer at a time (issue #11): the home lock, atomic 0600 files, real processes.

Two `revisit ingest` runs into one home once lost 130 689 visit rows and both
exited 0; concurrent token revocations were lost; two `revisit train` runs on a
fresh home crashed in MLflow's schema set-up. These tests start real processes.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from warehouse.home import (
    TEMP_SUFFIX,
    HomeLockedError,
    atomic_path,
    atomic_write_bytes,
    holds_lock,
    home_lock,
)

CLI = [sys.executable, "-c", "from revisit.cli import main; main()"]
HEADER = "走访编号,户编号,走访时间,录入时间,县（市、新区）,乡镇（街道）,村（社区）,是否存在矛盾纠纷"


def _holder(
    home: Path, seconds: float, ready: Path, release: Path | None = None
) -> subprocess.Popen[bytes]:
    """A process that holds the home's lock for ``seconds`` (or until ``release`` exists)."""
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from warehouse.home import home_lock
        with home_lock(Path({str(home)!r})):
            Path({str(ready)!r}).write_text("held")
            end = time.monotonic() + {seconds}
            release = {str(release) if release else None!r}
            while time.monotonic() < end and not (release and Path(release).exists()):
                time.sleep(0.05)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "holder did not start"
        time.sleep(0.05)
    return proc


def test_second_writer_fails_clearly_after_wait(tmp_path: Path) -> None:
    home = tmp_path / "home"
    holder = _holder(home, 5, tmp_path / "ready")
    try:
        messages: list[str] = []
        started = time.monotonic()
        with (
            pytest.raises(HomeLockedError, match="another revisit command"),
            home_lock(home, wait_s=0.5, on_wait=messages.append),
        ):
            pass
        assert 0.4 < time.monotonic() - started < 4
        assert messages and "waiting up to 0.5 s" in messages[0]
    finally:
        holder.wait(timeout=30)
    with home_lock(home, wait_s=0):  # released when the holder ends
        assert holds_lock(home)
    assert not holds_lock(home)


def test_cli_ingest_waits_then_exits_1_with_a_plain_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    export = tmp_path / "v.csv"
    export.write_text(HEADER + "\nV1,H1,2026-10-05 09:30,,兴义市,桔山街道,坪东社区,否\n", "utf-8")
    holder = _holder(home, 20, tmp_path / "ready")
    try:
        run = subprocess.run(
            [*CLI, "ingest", str(export), "--home", str(home), "--no-progress", "--wait", "1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 1
    assert "another revisit command is writing" in run.stderr
    assert "error: expected the home" in run.stderr and "Traceback" not in run.stderr
    assert not (home / "warehouse").exists()


def test_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with home_lock(tmp_path, wait_s=0), home_lock(tmp_path, wait_s=0):
        assert holds_lock(tmp_path)
    assert not holds_lock(tmp_path)


def test_two_concurrent_ingests_lose_no_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = []
    for k in range(2):
        rows = [
            f"V{k}{i:04d},H{i:04d},2026-10-05 09:30,,兴义市,桔山街道,坪东社区,否"
            for i in range(3000)
        ]
        path = tmp_path / f"v{k}.csv"
        path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
        paths.append(path)
    # a third writer holds the home until both have started waiting: then they contend
    release = tmp_path / "release"
    holder = _holder(home, 120, tmp_path / "ready", release)
    logs = [tmp_path / f"err{k}.txt" for k in range(2)]
    procs = [
        subprocess.Popen(
            [*CLI, "ingest", str(p), "--home", str(home), "--no-progress"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for p, log in zip(paths, logs, strict=True)
    ]
    deadline = time.monotonic() + 120
    while not all(b"another revisit command" in log.read_bytes() for log in logs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.1)
    release.write_text("go")
    codes = [p.wait(timeout=180) for p in procs]
    holder.wait(timeout=30)
    assert codes == [0, 0], [log.read_text("utf-8") for log in logs]
    visits = pd.read_parquet(home / "warehouse" / "visits.parquet")
    assert len(visits) == 6000 and visits["visit_id"].is_unique


def test_files_are_private_and_stray_temp_files_are_cleaned(tmp_path: Path) -> None:
    target = tmp_path / "home" / "warehouse" / "x.parquet"
    atomic_write_bytes(target, b"data")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    stray = target.parent / f".x.parquet.abc{TEMP_SUFFIX}"
    stray.write_bytes(b"half-written by a killed run")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"data"  # the old file stays whole
    assert stray.exists()
    with home_lock(tmp_path / "home"):
        assert not stray.exists()


def test_ingest_outputs_are_0600(tmp_path: Path) -> None:
    export = tmp_path / "v.csv"
    export.write_text(
        HEADER + "\nV1,H1,2026-10-05 09:30,,兴义市,桔山街道,坪东社区,否\nV2,,bad,,x,y,z,否\n",
        "utf-8",
    )
    from typer.testing import CliRunner

    from revisit.cli import app

    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["ingest", str(export), "--home", str(home), "--no-progress"])
    assert result.exit_code == 0, result.output
    files = [p for p in home.rglob("*") if p.is_file()]
    assert len(files) >= 4
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o600)}


def test_concurrent_token_revocations_are_all_kept(tmp_path: Path) -> None:
    from serving.auth import TokenStore
    from serving.config import ServingSettings

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVISIT_")}
    path = ServingSettings().with_overrides(home=home).tokens_file
    ids = [TokenStore(path).issue("analyst", label=f"t{i}")[1].token_id for i in range(4)]
    holder = _holder(home, 3, tmp_path / "ready")  # revocations start together, then contend
    procs = [
        subprocess.Popen(
            [*CLI, "token", "revoke", token_id, "--home", str(home)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for token_id in ids
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(ids)
    holder.wait(timeout=30)
    records = TokenStore(path).records()
    assert sorted(records) == sorted(ids)
    assert all(r.revoked for r in records.values())


@pytest.mark.slow
def test_tracking_store_is_initialised_once_under_the_lock(tmp_path: Path) -> None:
    home = tmp_path / "home"
    uri = f"sqlite:///{home / 'mlflow.db'}"
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from warehouse.home import home_lock
        from revisit.cli.train_cmd import init_tracking_store
        with home_lock(Path({str(home)!r})):
            init_tracking_store({uri!r})
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(2)
    ]
    errs = [p.communicate(timeout=180)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert (home / "mlflow.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["ingest"],
        ["features"],
        ["train"],
        ["promote"],
        ["token", "issue"],
        ["token", "revoke"],
        ["simulate-policy"],
    ],
)
def test_every_writing_command_offers_wait(command: list[str]) -> None:
    from typer.testing import CliRunner

    from revisit.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--wait" in result.output
