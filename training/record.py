"""Record a training run: one MLflow run, a registered version, alias ``challenger``.

:func:`record_run` logs the run's params (configuration, seed, warehouse
digest, git commit, frame sizes, folds, window), its metrics (pooled test
metrics with intervals, per-fold points), its artifacts (metrics tables,
importance, contributions, bias audit, figures, model card) and the final
model, registers the model as a new version of the registered model with tags
and a description of its window and test figures, and moves alias
``challenger`` to it. Nothing personal is logged: params, metrics, tags and
artifacts carry dates, counts, jurisdictions and scores only.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.evaluation import headline_metric, metric_dict
from training.frame import FramePieces
from training.scoring import HAND_RULE, LOGISTIC, MODEL, ORACLE
from training.splits import Fold
from warehouse.contract import warehouse_path

EXPERIMENT_NAME = "revisit"
CHALLENGER_ALIAS = "challenger"
#: Experiment tag the MLflow UI reads to choose its view (classic ML runs vs GenAI traces).
EXPERIMENT_KIND_TAG, CLASSIC_EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
#: Run metric of a model's test precision@k at the headline capacity: f"test.{model}.{metric}".
TEST_PREFIX = "test"


class RecordError(RuntimeError):
    """The run was logged but its model could not be registered."""


@dataclass
class RunRecord:
    """Everything a training run logs.

    Attributes
    ----------
    config : TrainConfig
        The run's configuration.
    digest : str
        SHA-256 of the warehouse files.
    pieces : FramePieces
        The training frame on disk.
    feature_names : list of str
        Features of the model.
    folds : list of Fold
        Rolling-origin folds.
    final : Fold
        The final model's training and validation weeks.
    final_model : EscalationModel
        The retrained model that is registered.
    scored : DataFrame
        The scored test frame (never logged: it holds household ids).
    scorers : list of str
        Score columns compared.
    pooled, per_fold : DataFrame
        Metrics (``training.evaluation.evaluate_scored``).
    window : dict of str to str
        ISO dates of the run.
    audit_values : DataFrame or None
        Audit-only attributes per household (bias audit only).
    extra_params : dict of str to str
        More params (e.g. how the model was trained on a Dask cluster).
    extra_metrics : dict of str to float
        More run metrics from later steps.
    extra_tags : dict of str to str
        More run and version tags (e.g. the model evidence of ``training.evidence``).
    card_sections : list of str
        More Markdown sections appended to the model card.
    artifact_writers : list of callable (folder) -> None
        More artifacts: each writes files into the folder that is logged.
    started_at_ms : int or None
        When the training began (Unix epoch, milliseconds): the run's
        ``start_time``, so that its duration covers the whole training and not
        only the logging. ``None``: when the run is logged.
    """

    config: TrainConfig
    digest: str
    pieces: FramePieces
    feature_names: list[str]
    folds: list[Fold]
    final: Fold
    final_model: Any
    scored: pd.DataFrame
    scorers: list[str]
    pooled: pd.DataFrame
    per_fold: pd.DataFrame
    window: dict[str, str]
    audit_values: pd.DataFrame | None = None
    extra_params: dict[str, str] = field(default_factory=dict)
    extra_metrics: dict[str, float] = field(default_factory=dict)
    extra_tags: dict[str, str] = field(default_factory=dict)
    card_sections: list[str] = field(default_factory=list)
    artifact_writers: list[Callable[[Path], None]] = field(default_factory=list)
    started_at_ms: int | None = None

    def test_values(self) -> dict[tuple[str, str], float]:
        """Pooled test value per (model, metric)."""
        return {
            (str(r["model"]), str(r["metric"])): float(r["value"])
            for r in self.pooled.to_dict("records")
        }


def warehouse_hash(home: Path) -> str:
    """SHA-256 of the warehouse Parquet files (names and bytes, sorted by name).

    Parameters
    ----------
    home : Path
        Revisit home folder.

    Returns
    -------
    str
        Hex digest; identical warehouses give identical digests.
    """
    digest = hashlib.sha256()
    folder = warehouse_path(Path(home), "visits").parent
    for path in sorted(folder.glob("*.parquet")):
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str:
    """The source tree's git commit, or ``"unknown"`` (never fails)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "":
        return Path(uri)
    return None


def _experiment_id(client: Any, artifact_location: str) -> str:
    local = _local_path(artifact_location)
    if local is not None:
        local.mkdir(parents=True, exist_ok=True)
        artifact_location = local.resolve().as_uri()
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":  # deleted in the UI: bring it back
            client.restore_experiment(experiment.experiment_id)
        experiment_id = str(experiment.experiment_id)
    else:
        experiment_id = str(
            client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location)
        )
    # The UI opens a training experiment on its classic runs view, not the GenAI traces view.
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_EXPERIMENT_KIND)
    return experiment_id


def run_name(window: dict[str, str], config: TrainConfig) -> str:
    """Readable MLflow run name, ``train-<last labelled as-of date>-seed<seed>``.

    Parameters
    ----------
    window : dict of str to str
        ISO dates of the run (``as_of_last_labelled``: last Monday, Asia/Shanghai).
    config : TrainConfig
        The run's configuration (its seed).

    Returns
    -------
    str
        E.g. ``"train-2026-10-26-seed0"``.
    """
    return f"train-{window.get('as_of_last_labelled', 'unknown')}-seed{config.seed}"


def model_description(config: TrainConfig, model_name: str) -> str:
    """Description of the registered model: what it predicts, horizon, intended use.

    Parameters
    ----------
    config : TrainConfig
        Horizon (days) and escalation categories.
    model_name : str
        Registered model name.

    Returns
    -------
    str
        Markdown text, no personal data.
    """
    return (
        f"**{model_name}**: calibrated probability (0-1) that a household has an escalation "
        f"incident ({', '.join(config.escalation_categories)}) reported to the police within "
        f"the next {config.horizon_days} days of an as-of date (Monday, Asia/Shanghai), from "
        f"point-in-time features of approved visit records and incidents.\n\n"
        f"Intended use: rank households so that community police officers revisit the "
        f"riskiest first; it supports and never replaces an officer's judgement, and must not "
        f"be used to sanction, label or deny services to anyone. Each version's description "
        f"gives its training window and test figures; alias `challenger` is the latest "
        f"training run, `champion` the version serving lists (moved by `revisit promote` "
        f"only when it beats the officers' hand rule)."
    )


def _version_description(
    window: dict[str, str], config: TrainConfig, test_values: dict[tuple[str, str], float]
) -> str:
    """Description of one version: training window and test precision@k vs baselines."""
    headline = headline_metric(config)

    def value(model: str) -> str:
        v = test_values.get((model, headline))
        return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"

    oracle = (
        f", oracle (the simulator's true risk) {value(ORACLE)}"
        if ((ORACLE, headline) in test_values)
        else ""
    )
    return (
        f"Final model trained on {window.get('final_train_start', '–')} to "
        f"{window.get('final_train_end', '–')}, early-stopped and calibrated on "
        f"{window.get('final_validation_start', '–')} to "
        f"{window.get('final_validation_end', '–')}; horizon {config.horizon_days} days, "
        f"seed {config.seed}.\n\n"
        f"Test precision@{config.headline_share:.0%} (share of the top "
        f"{config.headline_share:.0%} per week that escalated; as-of dates "
        f"{window.get('test_first', '–')} to {window.get('test_last', '–')}, pooled): "
        f"model {value(MODEL)}, officers' hand rule {value(HAND_RULE)}, logistic "
        f"{value(LOGISTIC)}{oracle}. These test figures come from the rolling-origin fold "
        f"models; this retrained version has no held-out test of its own."
    )


def _params(ev: RunRecord) -> dict[str, str]:
    pieces = ev.pieces
    return {
        **ev.config.flat_params(),
        "seed": str(ev.config.seed),
        "warehouse_sha256": ev.digest,
        "git_commit": git_commit(),
        "n_features": str(len(ev.feature_names)),
        "n_rows_labelled": str(pieces.n_rows),
        "n_rows_sampled": str(pieces.n_sampled),
        "negative_share": f"{pieces.negative_share:g}",
        "n_households": str(pieces.n_households),
        "n_as_of_dates": str(len(pieces.dates)),
        "n_suspect_visits": str(sum(pieces.suspect_visits.values())),  # summed over dates
        "folds": ";".join(
            f"{f.name}:{f.describe()['test_start']}..{f.describe()['test_end']}" for f in ev.folds
        ),
        **{f"window.{k}": v for k, v in ev.window.items()},
        "final.best_iteration": str(ev.final_model.best_iteration_),
        "final.calibration": str(ev.final_model.calibration_method_),
        **ev.extra_params,
    }


def _write_artifacts(ev: RunRecord, model_name: str, run_id: str, out: Path) -> None:
    from training.model_card import render_model_card
    from training.report import audit_and_plots, write_model_artifacts

    ev.pooled.to_csv(out / "metrics_test.csv", index=False)
    ev.per_fold.to_csv(out / "metrics_per_fold.csv", index=False)
    write_model_artifacts(ev.final_model, ev.pieces, ev.scored, ev.config, out)
    audit_tables = audit_and_plots(ev.scored, ev.scorers, ev.config, out, ev.audit_values)
    card = render_model_card(
        model_name=model_name,
        config=ev.config,
        window=ev.window,
        metrics=ev.pooled,
        per_fold=ev.per_fold,
        audit=audit_tables,
        n_rows=ev.pieces.n_rows,
        n_households=ev.pieces.n_households,
        feature_names=ev.feature_names,
        has_oracle=ORACLE in ev.scorers,
        run_id=run_id,
    )
    card += "".join("\n" + section for section in ev.card_sections)
    (out / "model_card.md").write_text(card, encoding="utf-8")
    for writer in ev.artifact_writers:
        writer(out)


def _tags(ev: RunRecord) -> dict[str, str]:
    window, values = ev.window, ev.test_values()
    headline = headline_metric(ev.config)
    return {
        "horizon_days": str(ev.config.horizon_days),
        "training_window": f"{window['final_train_start']}..{window['final_validation_end']}",
        "last_training_as_of": window["final_validation_end"],
        "test_window": f"{window['test_first']}..{window['test_last']}",
        "warehouse_sha256": ev.digest,
        **{
            f"test.{model}.{metric}": f"{values[(model, metric)]:.6g}"
            for model in ev.scorers
            for metric in ("roc_auc", "average_precision", headline)
            if (model, metric) in values
        },
        **ev.extra_tags,
    }


def record_run(
    ev: RunRecord, *, tracking_uri: str, artifact_location: str, model_name: str
) -> tuple[str, str]:
    """Log the run, register its model as a new version, and make it the challenger.

    Parameters
    ----------
    ev : RunRecord
        What the run logs.
    tracking_uri : str
        MLflow tracking (and registry) URI.
    artifact_location : str
        Artifact root of the ``revisit`` experiment when it is created.
    model_name : str
        Registered model name.

    Returns
    -------
    run_id, version : str
        The MLflow run and the registered version (alias ``challenger``).

    Raises
    ------
    RecordError
        When the logged model was not registered.
    """
    import mlflow

    from models.pyfunc import log_model, mlflow_uris

    config, window = ev.config, ev.window
    test_values = ev.test_values()
    from mlflow.tracking.context.registry import resolve_tags

    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
    experiment_id = _experiment_id(client, artifact_location)
    # created with the training's start time (the run is logged at the end of the work), then
    # resumed as the active run; the context tags are the ones mlflow.start_run would set
    created = client.create_run(
        experiment_id, start_time=ev.started_at_ms, tags=resolve_tags(),
        run_name=run_name(window, config),
    )  # fmt: skip
    with (
        mlflow_uris(tracking_uri),
        tempfile.TemporaryDirectory() as tmp,
        mlflow.start_run(
            run_id=created.info.run_id,
            description=_version_description(window, config, test_values),
        ) as run,
    ):
        run_id = run.info.run_id
        mlflow.log_params(_params(ev))
        metrics = metric_dict(ev.pooled, TEST_PREFIX)
        for name, part in ev.per_fold.groupby("fold", sort=True):
            metrics.update(metric_dict(part, str(name)))
        mlflow.log_metrics({**metrics, **ev.extra_metrics})
        _write_artifacts(ev, model_name, run_id, Path(tmp))
        mlflow.log_artifacts(tmp)
        # the serving signature stays float64 (the frame's pieces are float32)
        example = ev.pieces.read_one(ev.pieces.dates[-1], sampled=True, columns=ev.feature_names)
        example = example.head(5).reset_index(drop=True)
        floats = [c for c in example.columns if example[c].dtype == np.float32]
        example = example.astype(dict.fromkeys(floats, "float64"))
        log_model(
            ev.final_model, name="model", input_example=example, registered_model_name=model_name
        )
        tags = _tags(ev)
        mlflow.set_tags(tags)
    versions = client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    if not versions:
        raise RecordError(
            f"the model of run {run_id} was not registered as a version of {model_name!r}"
        )
    version = str(max(int(v.version) for v in versions))
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    registered = client.get_registered_model(model_name)
    if not (registered.description or "").strip():  # once: a user's edit is kept
        client.update_registered_model(
            model_name, description=model_description(config, model_name)
        )
    client.update_model_version(
        model_name, version, description=_version_description(window, config, test_values)
    )
    client.set_registered_model_alias(model_name, CHALLENGER_ALIAS, version)
    return run_id, version
