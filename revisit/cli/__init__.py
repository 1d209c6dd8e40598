"""The ``revisit`` console script (Typer). Each command lives in its own module."""

from __future__ import annotations

import typer

from revisit.cli import (
    audit_cmd,
    features_cmd,
    ingest_cmd,
    rank_cmd,
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
):
    _module.register(app)


def main() -> None:
    """Entry point of the ``revisit`` console script.

    MLflow's usage telemetry is switched off for every Revisit process (set
    before any command imports mlflow; an explicit ``MLFLOW_DISABLE_TELEMETRY``
    in the environment wins): a police deployment sends nothing out.
    """
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    app()
