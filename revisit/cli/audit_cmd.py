"""`revisit audit export`: the audit log of list and household reads, to stdout.

Times are stored in UTC (``at``); the export adds ``at_local`` in Asia/Shanghai.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from revisit.cli._common import HomeOption, fail


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI app."""
    group = typer.Typer(
        help="Read the audit log of list and household reads.", no_args_is_help=True
    )

    @group.command("export")
    def export(
        since: str | None = typer.Option(
            None, "--since", help="Only rows from this UTC date or time on (YYYY-MM-DD[THH:MM])."
        ),
        fmt: str = typer.Option("csv", "--format", help="csv or jsonl."),
        home: Path | None = HomeOption,
    ) -> None:
        """Print the audit rows, answered and refused reads, API and ``revisit rank`` alike.

        Columns: ``at`` (UTC, ``+00:00``), token id, role, jurisdiction, endpoint,
        household ids, model version, as-of date, ``outcome`` (ok, forbidden,
        not_found), ``label`` (the token's label; the OS account for ``revisit
        rank``) and ``at_local`` (the same instant in Asia/Shanghai, ``+08:00``).
        """
        from serving.audit import AuditError
        from serving.audit import export as export_rows
        from serving.config import ServingSettings

        if fmt not in ("csv", "jsonl"):
            fail(f"expected --format csv or jsonl, got {fmt!r}")
        start = None
        if since is not None:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                fail(f"expected --since as YYYY-MM-DD or an ISO time, got {since!r}")
        path = ServingSettings().with_overrides(home=home).audit_db
        try:
            n = export_rows(path, sys.stdout, since=start, fmt=fmt)
        except AuditError as err:
            fail(str(err))
            return
        typer.echo(f"{n} audit rows", err=True)

    app.add_typer(group, name="audit")
