"""`revisit audit export|verify`: the audit log of API requests and `revisit rank` runs.

Times are stored in UTC (``at``); the export adds ``at_local`` in Asia/Shanghai.
``verify`` recomputes the hash chain and names the first altered or deleted row.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from revisit.cli._common import HomeOption, fail

OutOption = typer.Option(None, "--out", help="Write to this file, not stdout.")


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
        fmt: str = typer.Option("csv", "--format", help="csv, jsonl or xlsx (xlsx needs --out)."),
        out: Path | None = OutOption,
        home: Path | None = HomeOption,
    ) -> None:
        """Print the audit rows, answered and refused reads, API and ``revisit rank`` alike.

        Columns: ``at`` (UTC, ``+00:00``), token id, role, jurisdiction, endpoint,
        household ids, model version, as-of date, ``outcome`` (ok, forbidden,
        not_found), ``label`` (the token's label; the OS account for ``revisit
        rank``) and ``at_local`` (the same instant in Asia/Shanghai, ``+08:00``).
        Cells a spreadsheet would run as a formula (starting with = + - @) get a
        leading ``'`` in csv and xlsx.
        """
        from serving.audit import AuditError, export_xlsx
        from serving.audit import export as export_rows
        from serving.config import ServingSettings

        if fmt not in ("csv", "jsonl", "xlsx"):
            fail(f"expected --format csv, jsonl or xlsx, got {fmt!r}")
        if fmt == "xlsx" and out is None:
            fail("--format xlsx needs --out FILE.xlsx")
        start = None
        if since is not None:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                fail(f"expected --since as YYYY-MM-DD or an ISO time, got {since!r}")
        path = ServingSettings().with_overrides(home=home).audit_db
        try:
            if fmt == "xlsx":
                assert out is not None
                content, n = export_xlsx(path, since=start)
                out.write_bytes(content)
            elif out is not None:
                with open(out, "w", encoding="utf-8", newline="") as handle:
                    n = export_rows(path, handle, since=start, fmt=fmt)
            else:
                n = export_rows(path, sys.stdout, since=start, fmt=fmt)
        except AuditError as err:
            fail(str(err))
            return
        typer.echo(f"{n} audit rows" + (f" written to {out}" if out else ""), err=True)

    @group.command("verify")
    def verify(home: Path | None = HomeOption) -> None:
        """Recompute the audit log's hash chain; exit 1 naming the first altered or deleted row.

        Keep the printed last hash elsewhere (e.g. with each export): a later
        verify whose chain no longer reaches it shows that rows were cut off the end.
        """
        from serving.audit import AuditError
        from serving.audit_verify import verify as verify_chain
        from serving.config import ServingSettings

        path = ServingSettings().with_overrides(home=home).audit_db
        try:
            report = verify_chain(path)
        except AuditError as err:
            fail(str(err))
            return
        legacy = f", {report.n_unhashed} older rows without hashes" if report.n_unhashed else ""
        if not report.ok:
            fail(
                f"audit log {path}: row {report.first_bad_id} {report.problem}; "
                f"{report.n_checked} rows before it check{legacy}"
            )
            return
        typer.echo(
            f"audit log {path}: {report.n_checked} rows, hash chain intact{legacy}; "
            f"last hash {report.last_hash}"
        )

    app.add_typer(group, name="audit")
