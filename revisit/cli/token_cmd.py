"""`revisit token issue|revoke`."""

from __future__ import annotations

import typer

from revisit.cli._common import not_built


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI app."""
    group = typer.Typer(help="Issue and revoke API bearer tokens.", no_args_is_help=True)

    @group.command("issue", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def issue() -> None:
        """Not built yet."""
        not_built("token issue")

    @group.command("revoke", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def revoke() -> None:
        """Not built yet."""
        not_built("token revoke")

    app.add_typer(group, name="token")
