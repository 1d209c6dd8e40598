"""`revisit audit export`."""

from __future__ import annotations

import typer

from revisit.cli._common import not_built


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI app."""
    group = typer.Typer(help="Read the audit log of list and household reads.", no_args_is_help=True)

    @group.command("export", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def export() -> None:
        """Not built yet."""
        not_built("audit export")

    app.add_typer(group, name="audit")
