"""MLflow's usage telemetry is off in every Revisit process and in ``make mlflow-ui`` (issue #13).

MLflow 3 sends anonymous usage events unless ``MLFLOW_DISABLE_TELEMETRY`` (or
``DO_NOT_TRACK``) is true; its tracking server applies the same switch to the
UI's own telemetry (``/ajax-api/3.0/mlflow/ui-telemetry`` answers ``disabled``).
MLflow also turns telemetry off by itself under pytest, so the server is checked
in a subprocess with a clean environment: only what ``make mlflow-ui`` sets.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = "MLFLOW_DISABLE_TELEMETRY"

_ASK_SERVER = (
    "from mlflow.server import app\n"
    "answer = app.test_client().post('/ajax-api/3.0/mlflow/ui-telemetry', json={'records': []})\n"
    "print(answer.get_json()['status'])\n"
)


def _recipe(home: Path) -> str:
    """The shell line ``make mlflow-ui`` would run (``make -n``: nothing is started)."""
    done = subprocess.run(
        ["make", "-n", "mlflow-ui", f"HOME_DIR={home}", "STAMP=Makefile"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    (line,) = [x for x in done.stdout.splitlines() if "mlflow server" in x]
    return line


def _assignments(line: str) -> dict[str, str]:
    """The ``VAR=value`` words before the command."""
    out = {}
    for word in shlex.split(line.rstrip("\\ ")):
        name, eq, value = word.partition("=")
        if not eq or not name.isidentifier():
            break
        out[name] = value
    return out


def _server_ui_telemetry(extra_env: dict[str, str]) -> str:
    """What MLflow's tracking server tells the UI about telemetry, in a clean process."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **extra_env}
    done = subprocess.run(
        [sys.executable, "-c", _ASK_SERVER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_make_mlflow_ui_switches_the_servers_telemetry_off(tmp_path: Path) -> None:
    line = _recipe(tmp_path / "home")
    env = _assignments(line)
    assert env.get(VARIABLE) == "true" and env.get("DO_NOT_TRACK") == "true"
    assert "--workers 1" in line
    assert _server_ui_telemetry(env) == "disabled"
    # the check can fail: without the switch the same server accepts the UI's events
    assert _server_ui_telemetry({}) == "success"


def test_make_mlflow_ui_points_at_the_classic_training_runs_view(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "-n", "mlflow-ui", f"HOME_DIR={tmp_path}", "STAMP=Makefile"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert "#/experiments?workflowType=machine_learning" in done.stdout


@pytest.mark.parametrize("preset", [None, "false"])
def test_every_revisit_command_runs_with_telemetry_off_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, preset: str | None
) -> None:
    import revisit.cli as cli

    seen: list[str | None] = []
    monkeypatch.setattr(cli, "app", lambda: seen.append(os.environ.get(VARIABLE)))
    if preset is None:
        monkeypatch.delenv(VARIABLE, raising=False)
    else:
        monkeypatch.setenv(VARIABLE, preset)
    cli.main()
    assert seen == ["true" if preset is None else preset]


def test_mlflow_artifact_progress_bars_are_off_in_revisit_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``revisit promote`` printed MLflow's "Downloading artifacts" bars among its own lines."""
    import mlflow.environment_variables as mlflow_env

    import revisit.cli as cli

    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    seen: list[bool] = []
    monkeypatch.setattr(
        cli, "app", lambda: seen.append(mlflow_env.MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get())
    )
    monkeypatch.setenv(name, "true")  # so that undoing the delenv unsets what main() sets
    monkeypatch.delenv(name)
    assert mlflow_env.MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is True  # MLflow's default
    cli.main()
    assert seen == [False]
