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
        dask: str | None = typer.Option(
            None,
            "--dask",
            help="Compute on a Dask cluster: 'local' or 'local:N' (a LocalCluster of N workers "
            "for this command) or 'tcp://host:port' (a running scheduler whose workers see the "
            "home). Writes a Parquet dataset folder, one file per partition of whole townships.",
        ),
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
            if dask is not None:
                _features_on_dask(dask, settings.home, as_of, out, time.perf_counter())
            else:
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


def _features_on_dask(
    address: str, home: Path, as_of: str | None, out: Path | None, started: float
) -> None:
    """``revisit features --dask ADDRESS``: partitions of whole townships, a Parquet dataset."""
    from features.asof import AsOfError, local_midnight
    from features.build import FeatureBuildError
    from features.distributed import (
        DaskAddressError,
        build_features_dask,
        dask_client,
        parse_address,
        read_feature_dataset,
        snapshot_as_of,
    )
    from warehouse.store import WarehouseError

    try:
        where = parse_address(address)
        when = snapshot_as_of(home) if as_of is None else local_midnight(as_of)
    except (DaskAddressError, AsOfError) as err:
        fail(f"{'--dask' if isinstance(err, DaskAddressError) else '--as-of'}: {err}", code=2)
        return
    except (FeatureBuildError, WarehouseError, OSError) as err:
        fail(str(err))
        return
    day = when.date().isoformat()
    folder = out or home / "features" / f"features_{day}"
    try:
        with dask_client(where) as client:
            workers = len(client.scheduler_info().get("workers", {}))
            rows = build_features_dask(home, [when], client, folder)
    except (FeatureBuildError, WarehouseError, OSError) as err:
        fail(str(err))
        return
    except Exception as err:  # the cluster: unreachable scheduler, lost workers
        fail(f"the Dask cluster at {address!r} failed: {type(err).__name__}: {err}")
        return
    if rows == 0:
        fail("no household has an approved visit known before the as-of date; nothing written")
        return
    table = read_feature_dataset(folder)
    labelled = int(table["label"].notna().sum())
    typer.echo(f"as-of date:      {day} (Asia/Shanghai)")
    typer.echo(
        f"rows:            {len(table)} ({len(list(folder.glob('part-*.parquet')))} partitions, {workers} workers)"
    )
    typer.echo(f"cohort:          {table['household_id'].nunique()} households")
    typer.echo(f"label coverage:  {labelled}/{len(table)} rows labelled")
    typer.echo(f"elapsed:         {time.perf_counter() - started:.1f} s")
    typer.echo(f"written:         {folder}/")
