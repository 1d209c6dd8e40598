"""`revisit simulate`: synthetic field exports of a prefecture, with ground truth."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from revisit.cli._common import configure_logging, fail

DEFAULT_HOUSEHOLDS = 20_000
DEFAULT_OUT = Path("simulated-exports")


def _parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date like 2024-01-31, got {value!r}", code=2)
        raise  # unreachable: fail() exits


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("simulate")
    def simulate(
        households: Annotated[
            int, typer.Option("--households", help="Number of households.")
        ] = DEFAULT_HOUSEHOLDS,
        start: Annotated[
            str | None,
            typer.Option("--start", help="First day (YYYY-MM-DD); default END - 2 years."),
        ] = None,
        end: Annotated[
            str | None, typer.Option("--end", help="Last day (YYYY-MM-DD); default yesterday.")
        ] = None,
        seed: Annotated[
            int,
            typer.Option("--seed", help="Random seed: the same seed gives byte-identical files."),
        ] = 0,
        out: Annotated[Path, typer.Option("--out", help="Output folder.")] = DEFAULT_OUT,
        fmt: Annotated[
            str | None,
            typer.Option(
                "--format", help="xlsx or csv (default: xlsx up to 50 000 households, else csv)."
            ),
        ] = None,
        duplicate_rate: Annotated[
            float,
            typer.Option("--duplicate-rate", help="Share of rows re-sent as exact duplicates."),
        ] = 0.002,
        malformed_rate: Annotated[
            float, typer.Option("--malformed-rate", help="Share of rows made malformed.")
        ] = 0.0005,
    ) -> None:
        """Simulate a prefecture-wide visiting campaign: monthly visit and incident exports
        (Chinese headers, PII included) and ground_truth/ for evaluation only."""
        from simulation.errors import SimulationError
        from simulation.simulate import simulate as run_simulation
        from simulation.world import SimulationConfig

        configure_logging()
        end_date = _parse_date(end, "--end") or (dt.date.today() - dt.timedelta(days=1))
        start_date = _parse_date(start, "--start")
        if start_date is None:
            try:
                start_date = end_date.replace(year=end_date.year - 2)
            except ValueError:  # 29 February
                start_date = end_date.replace(year=end_date.year - 2, day=28)
        config = SimulationConfig(
            households=households,
            start=start_date,
            end=end_date,
            seed=seed,
            fmt=fmt,
            duplicate_rate=duplicate_rate,
            malformed_rate=malformed_rate,
        )
        began = time.perf_counter()
        try:
            summary = run_simulation(config, out)
        except SimulationError as err:
            fail(str(err), code=2)
            return
        counts = summary.manifest["counts"]
        typer.echo(
            f"simulated {households} households {start_date} .. {end_date} (seed {seed}) in "
            f"{time.perf_counter() - began:.1f} s: {counts['visits']} visits, {counts['incidents']} "
            f"incidents ({counts['escalations']} escalations) in {len(summary.files)} "
            f"{config.export_format} files under {out}; ground truth in {out / 'ground_truth'}"
        )
