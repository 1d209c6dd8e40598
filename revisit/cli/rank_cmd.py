"""`revisit rank`."""

from __future__ import annotations

import typer

from revisit.cli._common import not_built


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("rank", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def rank() -> None:
        """Not built yet."""
        not_built("rank")
