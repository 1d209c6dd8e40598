"""`revisit train` and `revisit promote`."""

from __future__ import annotations

import logging
import warnings
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


def _quiet_mlflow() -> None:
    """Keep the terminal to Revisit's own lines: mlflow/alembic chatter and font warnings off."""
    import mlflow  # noqa: F401  (mlflow configures its loggers on import: quiet them after)

    for name in ("mlflow", "alembic", "urllib3", "git", "matplotlib"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "Passing a Python object as python_model ... CloudPickle": the wrapper is our own code,
    # loaded only from our own registry; the caution is documented in models/pyfunc.py.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    # county/township names in Chinese on the audit figures; the default font lacks the glyphs
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
    warnings.filterwarnings("ignore", message=r".*type hints to the `predict` method")


def init_tracking_store(tracking_uri: str) -> None:
    """Create (or migrate) the MLflow tracking store once, before any training work.

    Called under the home's lock: two ``revisit train`` runs on a fresh home
    must not both run MLflow's schema set-up on one SQLite file (the second
    crashed with ``duplicate column name``).
    """
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=tracking_uri).search_experiments(max_results=1)


ConfigOption = typer.Option(None, "--config", help="Training configuration (TOML, JSON or YAML).")
GroundTruthOption = typer.Option(
    None,
    "--ground-truth",
    help="Simulator ground truth (oracle.parquet) for evaluation only "
    "(default: <home>/ground_truth if it exists).",
)
NegativeShareOption = typer.Option(
    None,
    "--negative-share",
    min=0.0,
    max=1.0,
    help="Share of negative household-weeks kept in the case-control sample the model is "
    "fitted on (positives all kept; weights 1/share), used as given. Default: the "
    "configuration's negative_share, lowered on a large warehouse to keep about "
    "max_negative_rows negatives; 1 fits on every row.",
)
DaskOption = typer.Option(
    None,
    "--dask",
    help="Fit the models with lightgbm.dask on a Dask cluster: 'local' or 'local:N' (a "
    "LocalCluster of N workers for this command) or 'tcp://host:port' (a running scheduler "
    "whose workers see the home). Rounds are fixed by a single-machine early-stopped fit on "
    "a sample.",
)
ParamsOption = typer.Option(
    None,
    "--params",
    help="LightGBM hyper-parameters chosen by a search (JSON, e.g. the output of python -m "
    "benchmarks.tune); they override the configuration's \\[lightgbm] and the file's name and "
    "SHA-256 are recorded in the run (param params_source).",
)
VersionOption = typer.Option(
    None, "--version", help="Version to promote (default: the current challenger)."
)
ForceOption = typer.Option(
    False,
    "--force",
    help="Promote despite failed gates (a reviewer's override; needs --reason).",
)
ReasonOption = typer.Option(
    None, "--reason", help="Why the override: recorded on the version and in its model card."
)


def _runs_url(tracking_uri: str, run_id: str) -> str:
    """The UI page of the run's experiment in the classic (model training) view, not GenAI's."""
    import mlflow

    try:
        experiment = mlflow.MlflowClient(tracking_uri).get_run(run_id).info.experiment_id
    except Exception:  # noqa: BLE001 - a hint only; the run was logged already
        return "http://127.0.0.1:5000"
    return f"http://127.0.0.1:5000/#/experiments/{experiment}/runs?workflowType=machine_learning"


def register(app: typer.Typer) -> None:
    """Add the ``train`` and ``promote`` commands to the CLI app."""

    @app.command("train")
    def train(
        home: Path | None = HomeOption,
        config: Path | None = ConfigOption,
        ground_truth: Path | None = GroundTruthOption,
        wait: float | None = WaitOption,
        negative_share: float | None = NegativeShareOption,
        dask: str | None = DaskOption,
        params: Path | None = ParamsOption,
    ) -> None:
        """Train the escalation model, compare it with baselines, register a `challenger`.

        The weekly frame is written in pieces under <home>/training_frame/ and the
        model is fitted on a case-control sample of it; each stage prints its time
        and its peak memory.
        """
        configure_logging(logging.WARNING)
        _quiet_mlflow()
        # every input is checked before the lock is taken: a mistyped --home or
        # --params leaves no folder, lock file or MLflow store behind
        prepared = _prepare(home, config, ground_truth, negative_share, params)
        if prepared is None:
            return
        settings, cfg, gt = prepared
        with locked_home(settings.home, wait):
            _train(settings, cfg, gt, negative_share, dask, params)

    def _prepare(
        home: Path | None,
        config: Path | None,
        ground_truth: Path | None,
        negative_share: float | None,
        params: Path | None,
    ) -> tuple[Any, Any, Path | None] | None:
        """Settings, configuration and ground-truth folder of a run; ``None`` after a failure."""
        from pydantic import ValidationError

        from training.baselines import BaselineError, resolve_ground_truth_dir
        from training.config import ConfigError, load_config
        from warehouse.contract import warehouse_path

        try:
            settings = settings_for(home)
        except ValidationError as err:
            first = err.errors()[0]
            fail(f"bad setting {first['loc'][0]}: {first['msg'].removeprefix('Value error, ')}")
            return None
        try:
            cfg = load_config(config)
            if params is not None:
                from training.tuned_params import apply_params

                cfg = apply_params(cfg, params)
            if negative_share is not None:
                if negative_share <= 0:
                    raise ConfigError(f"--negative-share must be in (0, 1], got {negative_share!r}")
                cfg = cfg.model_copy(update={"negative_share": negative_share})
            gt = resolve_ground_truth_dir(settings.home, ground_truth)
        except (ConfigError, BaselineError) as err:
            fail(str(err))
            return None
        visits = warehouse_path(settings.home, "visits")
        if not visits.exists():
            fail(
                f"expected a warehouse at {visits.parent} (the home {settings.home}), found "
                f"none: run revisit ingest first, or give the home with --home"
            )
            return None
        return settings, cfg, gt

    def _train(
        settings: Any,
        cfg: Any,
        gt: Path | None,
        negative_share: float | None,
        dask: str | None,
        params: Path | None = None,
    ) -> None:
        from mlflow.exceptions import MlflowException

        from training.baselines import BaselineError
        from training.train import TrainingError, run_training

        try:
            init_tracking_store(settings.tracking_uri)
        except MlflowException as err:
            fail(f"the MLflow store at {settings.tracking_uri} cannot be set up: {err.message}")
            return
        typer.echo(
            f"training on {settings.home.resolve()} (horizon {cfg.horizon_days} days, seed {cfg.seed}"
            + (f", oracle from {gt}" if gt else ", no oracle")
            + (f", LightGBM parameters from {params.name}" if params is not None else "")
            + ")"
        )

        from warehouse.memory import format_bytes

        def on_stage(name: str, seconds: float, peak: int) -> None:
            typer.echo(f"  {name:<28} {seconds:8.1f} s   peak {format_bytes(peak):>8}")

        from contextlib import nullcontext

        from features.distributed import DaskAddressError, dask_client, parse_address

        try:
            cluster = nullcontext(None) if dask is None else dask_client(parse_address(dask))
        except DaskAddressError as err:
            fail(f"--dask: {err}", code=2)
            return
        try:
            with cluster as client:
                result = run_training(
                    home=settings.home,
                    tracking_uri=settings.tracking_uri,
                    artifact_location=settings.artifact_location,
                    config=cfg,
                    ground_truth_dir=gt,
                    model_name=settings.model_name,
                    progress=True,
                    on_stage=on_stage,
                    audit_only=settings.audit_only,
                    dask_client=client,
                    dask_address=dask or "",
                    signing_key=settings.signing_key,
                    negative_share=negative_share,
                )
        except (TrainingError, BaselineError, FileNotFoundError) as err:
            fail(str(err))
            return
        except ValueError as err:  # domain errors of features/models/metrics are ValueErrors
            fail(f"training failed: {err}")
            return
        except MlflowException as err:
            fail(f"the MLflow store at {settings.tracking_uri} refused the run: {err.message}")
            return
        except OSError as err:  # the Dask cluster: unreachable scheduler
            fail(f"the Dask cluster at {dask!r} could not be reached: {err}")
            return
        typer.echo(
            f"\ntest metrics, pooled over folds ({result.n_rows} labelled household-weeks; "
            f"model fitted on every positive and {result.negative_share:.1%} of the negatives; "
            f"intervals from {result.n_bootstrap} household resamples):"
        )
        typer.echo(result.comparison_table().to_string())
        if result.evidence is not None:
            from training.evidence_report import lift_table_text

            for r in result.evidence.sizes.to_dict("records"):
                typer.echo(
                    f"test size ({r['segment']}): {r['rows']:,} rows, {r['households']:,} "
                    f"households, {r['positives']:,} positive rows "
                    f"({r['positive_households']:,} households with an event)"
                )
            typer.echo("\nlift over the strongest officer rule (paired household bootstrap, 95 %):")
            typer.echo(lift_table_text(result.evidence.comparison))
        typer.echo(
            f"\nrun {result.run_id}; registered {result.model_name} version {result.version} "
            f"as 'challenger'.\npromote it with: revisit promote --version {result.version}"
            f"\nreview it in the MLflow UI: make mlflow-ui, then "
            f"{_runs_url(settings.tracking_uri, result.run_id)}"
        )

    @app.command("promote")
    def promote(
        version: int | None = VersionOption,
        home: Path | None = HomeOption,
        wait: float | None = WaitOption,
        force: bool = ForceOption,
        reason: str | None = ReasonOption,
    ) -> None:
        """Move `champion` to a version that beats the strongest officer rule and the champion.

        Gates (exit 3 with the figures when one fails): the lower bound of the lift over the
        strongest officer rule at the top 1 % is above 1, and the paired difference with the
        current champion on the same latest weeks has a lower bound of at least -0.005.
        """
        configure_logging(logging.WARNING)
        _quiet_mlflow()
        if force and not (reason or "").strip():
            fail("--force needs a reason: --reason TEXT (it is recorded on the version)", code=2)
            return
        settings = settings_for(home)
        with locked_home(settings.home, wait):
            _promote(settings, version, force, reason)

    def _promote(settings: Any, version: int | None, force: bool, reason: str | None) -> None:
        from mlflow.exceptions import MlflowException

        from models.signing import SigningError
        from training.registry import PromotionRefused, RegistryError
        from training.registry import promote as promote_version

        try:
            result = promote_version(
                tracking_uri=settings.tracking_uri,
                model_name=settings.model_name,
                version=version,
                signing_key=settings.signing_key,
                force=force,
                reason=reason,
            )
        except SigningError as err:
            fail(f"not promoted: {err}")
            return
        except PromotionRefused as err:
            fail(f"refused: {err}", code=3)
            return
        except RegistryError as err:
            fail(str(err))
            return
        except MlflowException as err:
            fail(f"the MLflow store at {settings.tracking_uri} could not be read: {err.message}")
            return
        lift = result.figures.get(f"test.lift_vs_rule.lightgbm.{result.metric}", float("nan"))
        low = result.figures.get(f"test.lift_vs_rule.lightgbm.{result.metric}.ci_low", float("nan"))
        high = result.figures.get(
            f"test.lift_vs_rule.lightgbm.{result.metric}.ci_high", float("nan")
        )
        typer.echo(
            f"{result.model_name} version {result.version} is now 'champion' "
            f"(was {result.previous_champion or 'none'}"
            f"{'; OVERRIDE by a reviewer' if result.forced else ''}): test {result.metric} "
            f"{result.model_value:.4f} vs {result.rule_value:.4f} for the strongest officer rule "
            f"({result.strongest_rule}), lift {lift:.2f} [{low:.2f}, {high:.2f}]."
        )
