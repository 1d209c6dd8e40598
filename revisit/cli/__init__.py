"""The ``revisit`` console script (Typer). Each command lives in its own module."""

from __future__ import annotations

import typer

from revisit.cli import (
    audit_cmd,
    features_cmd,
    ingest_cmd,
    officers_cmd,
    rank_cmd,
    report_cmd,
    serve_cmd,
    simulate_cmd,
    simulate_policy_cmd,
    tasks_cmd,
    token_cmd,
    train_cmd,
)

app = typer.Typer(
    name="revisit",
    help="Revisit: ranked, explained lists of households for community police to revisit first.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _private_files() -> None:
    """Files that Revisit creates under the home are readable by their owner only (0600).

    Set per command, in the entry point (never at import): the process's umask makes
    every file a command creates (warehouse, quarantine, features, ``mlflow.db``,
    MLflow artifacts, logs, audit log, tokens) 0600 and every folder 0700.
    """
    import os

    os.umask(0o077)


for _module in (
    simulate_cmd,
    simulate_policy_cmd,
    ingest_cmd,
    features_cmd,
    train_cmd,
    rank_cmd,
    serve_cmd,
    token_cmd,
    audit_cmd,
    tasks_cmd,
    report_cmd,
    officers_cmd,
):
    _module.register(app)


def main() -> None:
    """Entry point of the ``revisit`` console script.

    MLflow's usage telemetry is switched off for every Revisit process (set
    before any command imports mlflow; an explicit ``MLFLOW_DISABLE_TELEMETRY``
    in the environment wins): a police deployment sends nothing out. MLflow's
    "Downloading artifacts" progress bars, drawn when ``promote`` or ``rank``
    reads a registered version, are off too (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``):
    they interleave with the command's own output and say nothing to an officer.
    """
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    app()
