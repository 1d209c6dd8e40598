"""`revisit ingest PATH... [--home DIR]`: field exports into the canonical warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

from revisit.cli._common import HomeOption, configure_logging, fail, settings_for

_COLUMNS = ("read", "accepted", "quarantined", "duplicates", "conflicts")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("ingest")
    def ingest(
        paths: list[Path] = typer.Argument(  # noqa: B008
            ..., help="Export files (.xlsx, .csv, .parquet) or folders holding them."
        ),
        home: Path | None = HomeOption,
        progress: bool = typer.Option(True, help="Show a progress bar per file."),
    ) -> None:
        """Validate field exports, drop personal data, quarantine bad rows, update the warehouse.

        Prints rows read / accepted / quarantined / duplicates / conflicts per
        file and in total (read = accepted + quarantined + duplicates), the
        quarantine file (and how many of its rows an earlier run quarantined
        already) and the conflicts file. Exits 0 when every file was processed,
        even with quarantined rows; 1 when a file could not be read at all or
        the paths hold no .xlsx, .csv or .parquet file.
        """
        from pydantic import ValidationError
        from rich.console import Console
        from rich.table import Table

        from warehouse.ingest import IngestError, ingest_paths
        from warehouse.store import WarehouseError

        configure_logging()
        try:
            settings = settings_for(home)
        except ValidationError as err:
            first = err.errors()[0]
            fail(f"bad setting {first['loc'][0]}: {first['msg'].removeprefix('Value error, ')}")
            return
        secret = settings.id_secret.get_secret_value() if settings.id_secret else None
        try:
            report = ingest_paths(
                paths, settings.home, secret, progress=progress, audit_only=settings.audit_only
            )
        except (IngestError, WarehouseError, OSError) as err:
            fail(str(err))
            return

        table = Table(title=f"Ingestion run {report.run_id}")
        table.add_column("file")
        table.add_column("table")
        for c in _COLUMNS:
            table.add_column(c, justify="right")
        for f in report.files:
            if f.rejected is not None:
                table.add_row(f.file, "-", *["-"] * len(_COLUMNS))
            else:
                table.add_row(f.file, f.table or "-", *(str(getattr(f, c)) for c in _COLUMNS))
        totals = report.totals
        table.add_row("total", "", *(str(totals[c]) for c in _COLUMNS), style="bold")
        console = Console()
        if console.width < 120:
            console = Console(width=120)
        console.print(table)
        if report.quarantine_file is not None:
            console.print(f"quarantined rows and reasons: {report.quarantine_file}")
            repeats = totals["quarantine_repeats"]
            if repeats:
                console.print(
                    f"  {repeats} of the {totals['quarantined']} quarantined rows were already "
                    "quarantined by an earlier run (the same bad rows sent again)"
                )
        if report.conflicts_file is not None:
            console.print(
                f"{totals['conflicts']} conflicts (same id, different content; the later "
                f"录入时间 recorded_at was kept): {report.conflicts_file}"
            )
        console.print(f"warehouse: {settings.home / 'warehouse'}")
        if report.rejected:
            for f in report.rejected:
                typer.secho(f"error: {f.file}: {f.rejected}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1)
