"""`revisit features --as-of DATE [--home DIR] [--out FILE]`: the point-in-time feature table."""

from __future__ import annotations

import time
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

OutOption = typer.Option(
    None, "--out", help="Output Parquet file (default: <home>/features/features_<date>.parquet)."
)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("features")
    def features(
        as_of: str | None = typer.Option(
            None,
            "--as-of",
            help="As-of date YYYY-MM-DD (local midnight, Asia/Shanghai). "
            "Default: the day after the warehouse's latest recorded_at (the serving snapshot).",
        ),
        home: Path | None = HomeOption,
        out: Path | None = OutOption,
        wait: float | None = WaitOption,
    ) -> None:
        """Build the feature table (features and labels) of every household for one as-of date.

        Uses only records known before the as-of date; the label is 1 when an
        escalation incident is reported within 30 days from it, missing when
        that horizon is not yet observed. Prints rows, cohort size, label
        coverage and elapsed time.
        """
        configure_logging()
        settings = settings_for(home)
        with locked_home(settings.home, wait):
            _build(settings, as_of, out)

    def _build(settings: Any, as_of: str | None, out: Path | None) -> None:
        from features.asof import AsOfError, local_midnight
        from features.build import FeatureBuildError, build_feature_table
        from warehouse.store import WarehouseError

        started = time.perf_counter()
        try:
            when = None if as_of is None else local_midnight(as_of)
            table = build_feature_table(settings.home, when)
        except AsOfError as err:
            fail(f"--as-of: {err}", code=2)
            return
        except (FeatureBuildError, WarehouseError, OSError) as err:
            fail(str(err))
            return
        if len(table) == 0:
            fail("no household has an approved visit known before the as-of date; nothing to write")
            return
        day = table["as_of"].iloc[0].date().isoformat()
        path = out or settings.home / "features" / f"features_{day}.parquet"
        try:
            from warehouse.home import atomic_path

            with atomic_path(path) as tmp:
                table.to_parquet(tmp, index=False)
        except OSError as err:
            fail(f"cannot write the feature table to {str(path)!r}: {err}")
            return
        labelled = int(table["label"].notna().sum())
        positives = int(table["label"].fillna(0).sum())
        elapsed = time.perf_counter() - started
        typer.echo(f"as-of date:      {day} (Asia/Shanghai)")
        typer.echo(f"rows:            {len(table)}")
        typer.echo(f"cohort:          {table['household_id'].nunique()} households")
        typer.echo(
            f"label coverage:  {labelled}/{len(table)} rows labelled"
            + (
                f", {positives} escalations ({positives / labelled:.2%})"
                if labelled
                else " (horizon not observed yet)"
            )
        )
        typer.echo(f"elapsed:         {elapsed:.1f} s")
        typer.echo(f"written:         {path}")
