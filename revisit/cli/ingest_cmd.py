"""`revisit ingest PATH... [--home DIR] [--header-map FILE] [--dry-run] [--wait S]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from revisit.cli._common import (
    HomeOption,
    WaitOption,
    configure_logging,
    fail,
    locked_home,
    settings_for,
)

HeaderMapOption = typer.Option(
    None,
    "--header-map",
    help="TOML file mapping your own headers to canonical columns "
    "(see docs/header_map.example.toml).",
)

_COLUMNS = ("read", "accepted", "quarantined", "duplicates", "conflicts")


def _print_header_maps(console: Any, report: Any) -> None:
    """Dry run: how every header of every file maps (personal-looking cells redacted)."""
    from rich.table import Table

    for f in report.files:
        if f.rejected is not None:
            continue
        grid = Table(title=f"{f.file} ({f.table}): headers", show_header=False, box=None)
        grid.add_column("header")
        grid.add_column("goes to")
        for header, where in f.headers.items():
            grid.add_row(header, f"→ {where}")
        console.print(grid)


def quarantine_summary(path: Path, top: int = 5) -> list[str]:
    """The most frequent quarantine reasons of one run, a line each, most frequent first.

    Parameters
    ----------
    path : Path
        The run's quarantine file (``<home>/quarantine/<run_id>.csv``; columns
        :data:`warehouse.quarantine.QUARANTINE_COLUMNS`).
    top : int
        Reasons listed; the rest are summed in one last line.

    Returns
    -------
    list of str
        ``"<n> rows: <reason>"`` lines. The reasons name a column and what was
        expected, never a cell's value (values stay in the file). Empty when the
        file cannot be read.
    """
    import pandas as pd

    try:
        reasons = pd.read_csv(path, usecols=["reason"], dtype=str, encoding="utf-8-sig")["reason"]
    except (OSError, ValueError):
        return []
    counts = reasons.fillna("(no reason)").value_counts()
    lines = [
        f"{n} {'row' if n == 1 else 'rows'}: {reason}" for reason, n in counts.head(top).items()
    ]
    if len(counts) > top:
        lines.append(
            f"{int(counts.iloc[top:].sum())} rows: {len(counts) - top} other reasons (see the file)"
        )
    return lines


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("ingest")
    def ingest(
        paths: list[Path] = typer.Argument(  # noqa: B008
            ..., help="Export files (.xlsx, .csv, .parquet) or folders holding them."
        ),
        home: Path | None = HomeOption,
        progress: bool = typer.Option(True, help="Show a progress bar per file."),
        header_map: Path | None = HeaderMapOption,
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Show how every header maps, what is dropped as personal data and the "
            "counts; write nothing.",
        ),
        wait: float | None = WaitOption,
    ) -> None:
        """Validate field exports, drop personal data, quarantine bad rows, update the warehouse.

        Prints rows read / accepted / quarantined / duplicates / conflicts per
        file and in total (read = accepted + quarantined + duplicates), the
        quarantine file (and how many of its rows an earlier run quarantined
        already) and the conflicts file. Exits 0 when every file was processed,
        even with quarantined rows; 1 when a file could not be read at all,
        every row of a file was quarantined, or the paths hold no .xlsx, .csv
        or .parquet file.
        """
        from pydantic import ValidationError
        from rich.console import Console
        from rich.table import Table

        from warehouse.headers import load_header_map
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
            mapping = load_header_map(header_map) if header_map is not None else None
        except IngestError as err:
            fail(f"--header-map: {err}", code=2)
            return

        def run() -> Any:
            return ingest_paths(
                paths,
                settings.home,
                secret,
                progress=progress,
                audit_only=settings.audit_only,
                header_map=mapping,
                dry_run=dry_run,
            )

        try:
            if dry_run:
                report = run()
            else:
                with locked_home(settings.home, wait):
                    report = run()
        except (IngestError, WarehouseError, OSError) as err:
            fail(str(err))
            return

        console = Console()
        if console.width < 120:
            console = Console(width=120)
        if dry_run:
            _print_header_maps(console, report)
        title = f"Ingestion run {report.run_id}" + (
            " (dry run: nothing written)" if dry_run else ""
        )
        table = Table(title=title)
        table.add_column("file")
        table.add_column("table")
        for c in _COLUMNS:
            table.add_column(c, justify="right")
        for f in report.files:
            if f.rejected is not None:
                table.add_row(f.file, "rejected", *["-"] * len(_COLUMNS))
            elif f.no_rows:
                table.add_row(
                    f.file, f"{f.table} (no rows)", *(str(getattr(f, c)) for c in _COLUMNS)
                )
            else:
                table.add_row(f.file, f.table or "-", *(str(getattr(f, c)) for c in _COLUMNS))
        totals = report.totals
        table.add_row("total", "", *(str(totals[c]) for c in _COLUMNS), style="bold")
        console.print(table)
        if report.quarantine_file is not None:
            console.print(f"quarantined rows and reasons: {report.quarantine_file}")
            for line in quarantine_summary(report.quarantine_file):
                console.print(f"  {line}", markup=False, highlight=False)
            repeats = totals["quarantine_repeats"]
            if repeats:
                console.print(
                    f"  {repeats} of the {totals['quarantined']} quarantined rows were already "
                    "quarantined by an earlier run (the same bad rows sent again)"
                )
        if totals["conflicts"]:
            where = f": {report.conflicts_file}" if report.conflicts_file is not None else ""
            console.print(
                f"{totals['conflicts']} conflicts (same id, different content; every version is "
                f"kept, the later 录入时间 recorded_at is current){where}"
            )
        if not dry_run:
            console.print(f"warehouse: {settings.home / 'warehouse'}")
        failed = False
        for f in report.rejected:
            typer.secho(f"error: {f.file}: {f.rejected}", fg=typer.colors.RED, err=True)
            failed = True
        for f in report.all_quarantined:
            typer.secho(
                f"error: {f.file}: every one of its {f.read} rows was quarantined; nothing of it "
                "was stored (see the quarantine file for the reasons)",
                fg=typer.colors.RED,
                err=True,
            )
            failed = True
        if failed:
            raise typer.Exit(code=1)
