"""CLI regressions a newcomer met on a clean clone: rank audit, display, usage errors, serve port.

``revisit rank`` runs on the fake model and snapshot of ``tests.test_serving_support``
(``serving.loading.load_state`` patched), except where the real loader's refusal on an
empty home is the point.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import serving.loading
from revisit.cli import app
from revisit.cli.rank_cmd import _CHATTY_LOGGERS
from revisit.cli.serve_cmd import port_problem
from serving.audit import read_events
from tests.test_serving_support import fake_loader, make_snapshot

NO_REGISTRY_ENV = {"MLFLOW_TRACKING_URI": None, "REVISIT_HOME": None}


@pytest.fixture(autouse=True)
def _restore_logger_levels() -> Iterator[None]:
    """``revisit rank`` quiets some loggers for the process; give other tests theirs back."""
    saved = {name: logging.getLogger(name).level for name in _CHATTY_LOGGERS}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def fake_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fractional days since the last visit, so rounding shows."""
    frame = make_snapshot()
    frame["visits_all_days_since_last"] = frame["visits_all_days_since_last"] + 0.4567
    monkeypatch.setattr(serving.loading, "load_state", fake_loader(frame=frame))


def rank(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["rank", *args, "--home", str(home)], env=NO_REGISTRY_ENV)
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------ audit
@pytest.mark.usefixtures("fake_state")
def test_rank_writes_an_audit_row_with_the_operator_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # $USER and $LOGNAME are anyone's to set: the row names the account of the process's uid
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    code, out, err = rank(tmp_path, "--township", "Dingxiao", "--limit", "4", "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    (row,) = read_events(tmp_path / "audit.db")
    assert (row["token_id"], row["role"], row["endpoint"], row["outcome"]) == (
        "cli",
        "cli",
        "cli:rank",
        "ok",
    )
    assert row["label"] == pwd.getpwuid(os.geteuid()).pw_name != "mallory"
    assert (row["level"], row["jurisdiction"]) == ("township", "Xingyi/Dingxiao")
    assert json.loads(str(row["household_ids"])) == [it["household_id"] for it in body["items"]]
    assert (row["model_version"], row["as_of"]) == ("7", "2026-11-30")


@pytest.mark.usefixtures("fake_state")
def test_rank_of_an_unknown_jurisdiction_is_audited_as_not_found(tmp_path: Path) -> None:
    code, _, err = rank(tmp_path, "--village", "Nowhere")
    assert code == 1 and "no village named 'Nowhere'" in err
    (row,) = read_events(tmp_path / "audit.db")
    assert (row["outcome"], row["household_ids"], row["jurisdiction"]) == (
        "not_found",
        "[]",
        "Nowhere",
    )


# ---------------------------------------------------------------- display
@pytest.mark.usefixtures("fake_state")
def test_rank_table_stdout_is_only_the_table_with_version_as_of_and_band_rule(
    tmp_path: Path,
) -> None:
    code, out, err = rank(tmp_path, "--township", "Dingxiao")
    assert code == 0, err
    assert "model_version" not in out and "model_version" not in err
    assert "model version 7" in out and "as of 2026-11-30" in out
    assert "Risk band = rank among all households" in out
    percentages = re.findall(r"\b\d{1,3}\.\d\d %", out)
    assert len(percentages) == 16  # 16 households of Dingxiao, one risk cell each
    rows = [[c.strip() for c in line.split("│")] for line in out.splitlines() if "H000" in line]
    assert len(rows) == 16
    # cells: "", rank, id, village, township, risk, band, days, open disputes, reasons
    assert all(re.fullmatch(r"\d+", r[7]) and re.fullmatch(r"\d+", r[8]) for r in rows), rows


@pytest.mark.usefixtures("fake_state")
def test_rank_json_rounds_days_to_a_tenth_and_counts_to_integers(tmp_path: Path) -> None:
    code, out, err = rank(tmp_path, "--township", "Dingxiao", "--format", "json")
    assert code == 0, err
    items = json.loads(out)["items"]
    assert items and all(isinstance(it["score"], float) for it in items)
    assert all(isinstance(it["open_disputes"], int) for it in items)
    days = [it["days_since_last_visit"] for it in items]
    assert all(d == round(d, 1) for d in days)
    assert any(d != int(d) for d in days)  # 0.4567 kept as .5, not dropped


@pytest.mark.usefixtures("fake_state")
def test_rank_logs_no_info_unless_verbose(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    code, _, err = rank(tmp_path, "--township", "Dingxiao")
    assert code == 0, err
    assert not [r for r in caplog.records if r.levelno < logging.WARNING]
    caplog.clear()
    code, _, err = rank(tmp_path, "--township", "Dingxiao", "--verbose")
    assert code == 0, err
    assert any(r.name.startswith("serving") for r in caplog.records)


def test_rank_on_an_empty_home_refuses_without_creating_a_tracking_store(tmp_path: Path) -> None:
    code, _, err = rank(tmp_path, "--township", "Dingxiao")
    assert code == 1
    assert "no trained model: run revisit train and revisit promote first" in err
    assert not (tmp_path / "mlflow.db").exists()
    assert "Creating initial MLflow database tables" not in err


# ------------------------------------------------------------ usage errors
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "exactly one of --county, --township or --village"),
        (["--county", "Xingyi", "--township", "Dingxiao"], "exactly one of"),
        (["--township", "Dingxiao", "--format", "pdf"], "--format"),
        (["--township", "Dingxiao", "--lang", "fr"], "--lang"),
        (["--township", "Dingxiao", "--format", "xlsx"], "--out"),
    ],
)
def test_bad_rank_options_are_usage_errors_with_exit_2(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    code, _, err = rank(tmp_path, *args)
    assert code == 2
    assert needle in " ".join(re.sub("[│╭╮╰╯─]", " ", err).split())  # unwrap rich's error box
    assert not (tmp_path / "audit.db").exists()


def test_serve_on_a_port_in_use_exits_1_with_a_plain_message(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--home", str(tmp_path)],
            env=NO_REGISTRY_ENV,
        )
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.output


def test_port_check_passes_a_free_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert port_problem("127.0.0.1", port) is None


@pytest.mark.usefixtures("fake_state")
def test_rank_refuses_a_name_two_villages_share_and_ranks_a_path(tmp_path: Path) -> None:
    code, out, err = rank(tmp_path, "--village", "Xinzhai", "--format", "json")
    assert code == 1
    assert (
        "ambiguous" in err and "Anlong/Zhaodi/Xinzhai" in err and "Xingyi/Dingxiao/Xinzhai" in err
    )
    code, out, err = rank(tmp_path, "--village", "Anlong/Zhaodi/Xinzhai", "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert body["jurisdiction"] == "Anlong/Zhaodi/Xinzhai"
    assert {(it["county"], it["village"]) for it in body["items"]} == {("Anlong", "Xinzhai")}
    outcomes = [r["outcome"] for r in read_events(tmp_path / "audit.db")]
    assert outcomes == ["ambiguous", "ok"]
