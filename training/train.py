"""One training run: weekly frame → out-of-time folds → model and baselines → MLflow.

:func:`run_training` reads the warehouse, builds the labelled weekly feature
frame, evaluates the LightGBM risk model and its baselines (the officers' hand
rule, logistic regression and, on simulated data, the simulator's oracle) on
the same test rows of rolling-origin out-of-time folds, retrains the final
model on all labelled data, and records everything in one MLflow run whose
model is registered as a new version of ``household-escalation`` with alias
``challenger``. Nothing personal is logged: params, metrics, tags and artifacts
carry dates, counts, jurisdictions and scores only.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from training.baselines import LogisticBaseline, hand_rule_scores, oracle_scores
from training.config import TrainConfig
from training.evidence import RunEvidence, add_officer_rules
from training.splits import Fold, final_split, rolling_origin_splits
from warehouse.contract import (
    JURISDICTION_COLUMNS,
    KEY_COLUMNS,
    LABEL_COLUMN,
    TIMEZONE,
    warehouse_path,
)

logger = logging.getLogger(__name__)

EXPERIMENT_NAME = "revisit"
#: Experiment tag the MLflow UI reads to choose its view (classic ML runs vs GenAI traces).
EXPERIMENT_KIND_TAG, CLASSIC_EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
CHALLENGER_ALIAS = "challenger"
#: Names of the compared scorers, in table order.
MODEL, LOGISTIC, HAND_RULE, ORACLE = "lightgbm", "logistic", "hand_rule", "oracle"
#: Run metric of a model's test precision@k at the headline capacity: f"test.{model}.{metric}".
TEST_PREFIX = "test"


class TrainingError(RuntimeError):
    """A training run cannot proceed; the message says why in plain words."""


@dataclass
class TrainResult:
    """Outcome of :func:`run_training`.

    Attributes
    ----------
    run_id : str
        MLflow run id.
    version : str
        Registered model version (alias ``challenger``).
    model_name : str
        Registered model name.
    metrics : DataFrame
        Pooled test metrics, long format: ``model``, ``metric``, ``value``,
        ``ci_low``, ``ci_high``, ``n_rows`` (from :func:`training.metrics.evaluate`).
    fold_metrics : DataFrame
        The same per fold, with a ``fold`` column.
    timings : dict of str to float
        Seconds per stage.
    n_rows : int
        Labelled rows of the weekly frame.
    window : dict of str to str
        ISO dates: first/last as-of date, per block of the final model.
    scored : DataFrame
        Pooled test rows: keys, jurisdiction, ``label``, ``fold`` and one score
        column per scorer (in memory only; never logged: it holds household ids).
    """

    run_id: str
    version: str
    model_name: str
    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    n_rows: int = 0
    window: dict[str, str] = field(default_factory=dict)
    scored: pd.DataFrame = field(default_factory=pd.DataFrame)
    evidence: RunEvidence | None = None

    def comparison_table(self) -> pd.DataFrame:
        """Model vs baselines vs oracle: one row per metric, one column per scorer.

        Returns
        -------
        DataFrame
            Index ``metric``; columns the scorers present; cells ``"v [lo, hi]"``.
        """
        m = self.metrics
        cells = m.apply(
            lambda r: (
                f"{r['value']:.3f}"
                + (
                    f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                    if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])
                    else ""
                )
                if np.isfinite(r["value"])
                else "–"
            ),
            axis=1,
        )
        table = (
            m.assign(cell=cells).pivot(index="metric", columns="model", values="cell").fillna("–")
        )
        order = [c for c in (MODEL, LOGISTIC, HAND_RULE, ORACLE) if c in table.columns]
        return table[order + [c for c in table.columns if c not in order]]


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


class _Stages:
    """Times named stages; reports each one to ``on_stage`` and the log."""

    def __init__(self, on_stage: Callable[[str, float], None] | None, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self.on_stage = on_stage
        self.progress = progress

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self.progress:
            logger.info("stage %s …", name)
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        if self.progress:
            logger.info("stage %s done in %.1f s", name, elapsed)
        if self.on_stage is not None:
            self.on_stage(name, elapsed)


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


def training_as_of_dates(
    visits: pd.DataFrame, incidents: pd.DataFrame, config: TrainConfig
) -> list[pd.Timestamp]:
    """Weekly Monday as-of dates whose label horizon is fully observed.

    Parameters
    ----------
    visits, incidents : DataFrame
        Canonical warehouse tables.
    config : TrainConfig
        ``as_of_start``/``as_of_end`` override the bounds; otherwise the first
        Monday at least ``warmup_days`` after the earliest visit, and the last
        Monday ``t`` with ``t + horizon_days`` on or before the day after the
        latest ``recorded_at`` of either table (the data are observed until then).

    Returns
    -------
    list of pandas.Timestamp
        Mondays at local midnight, Asia/Shanghai, ascending.
    """
    times = [visits["recorded_at"].dropna(), incidents["recorded_at"].dropna()]
    latest = max(t.max() for t in times if len(t))
    observed_until = latest.tz_convert(TIMEZONE).normalize() + pd.Timedelta(days=1)
    earliest = visits["visited_at"].min().tz_convert(TIMEZONE).normalize()
    start = (
        pd.Timestamp(config.as_of_start, tz=TIMEZONE)
        if config.as_of_start
        else earliest + pd.Timedelta(days=config.warmup_days)
    )
    end = (
        pd.Timestamp(config.as_of_end, tz=TIMEZONE)
        if config.as_of_end
        else observed_until - pd.Timedelta(days=config.horizon_days)
    )
    return list(pd.date_range(start.normalize(), end, freq="W-MON"))


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


def _contributions(model: Any, X: pd.DataFrame) -> pd.Series:
    """Mean |LightGBM contribution| (log-odds) per feature on the rows of ``X``."""
    data: dict[str, Any] = {}
    for name in model.feature_names_:
        if name in model.categories_:
            values = X[name].astype(object).where(X[name].notna(), None)
            data[name] = pd.Categorical(values, categories=model.categories_[name])
        else:
            data[name] = pd.to_numeric(X[name], errors="coerce").astype("float64").to_numpy()
    frame = pd.DataFrame(data, columns=model.feature_names_)
    contrib = model.booster_.predict(frame, pred_contrib=True, num_iteration=model.best_iteration_)
    mean_abs = np.abs(np.asarray(contrib)[:, :-1]).mean(axis=0)
    return pd.Series(mean_abs, index=model.feature_names_, name="mean_abs_contribution")


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def _model_params(config: TrainConfig, feature_names: list[str]) -> dict[str, Any]:
    lgb = config.lightgbm.model_dump()
    return {**lgb, "feature_names": feature_names, "random_state": config.seed}


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL_COLUMN].astype("int64").to_numpy()


def _score_fold(
    frame: pd.DataFrame,
    fold: Fold,
    feature_names: list[str],
    config: TrainConfig,
    ground_truth_dir: Path | None,
) -> pd.DataFrame:
    """Scores of every scorer on the fold's test rows (one row per test row)."""
    from models.risk_model import EscalationModel

    train_m, val_m, test_m = fold.masks(frame["as_of"])
    train, val, test = frame[train_m], frame[val_m], frame[test_m]
    for block, rows in (("training", train), ("validation", val), ("test", test)):
        if rows.empty or rows[LABEL_COLUMN].nunique() < 2:
            raise TrainingError(
                f"{fold.name}: the {block} block ({len(rows)} rows) needs both escalated and "
                f"non-escalated households; simulate or ingest a longer or larger history"
            )
    model = EscalationModel(**_model_params(config, feature_names))
    model.fit(train, _labels(train), val, _labels(val))
    logistic_rows = train
    if len(train) > config.max_logistic_rows:
        logistic_rows = train.sample(config.max_logistic_rows, random_state=config.seed)
    logistic = LogisticBaseline(feature_names, random_state=config.seed).fit(
        logistic_rows, _labels(logistic_rows)
    )
    out = test[[*KEY_COLUMNS, *JURISDICTION_COLUMNS, LABEL_COLUMN]].copy()
    out[LABEL_COLUMN] = _labels(test)
    out["fold"] = fold.name
    out[MODEL] = model.predict_proba(test)[:, 1]
    out[LOGISTIC] = logistic.predict_proba(test)[:, 1]
    out[HAND_RULE] = hand_rule_scores(test)
    if ground_truth_dir is not None:
        out[ORACLE] = oracle_scores(test, ground_truth_dir)
    out = add_officer_rules(out, test)  # the three officers' rules and the no-prior segment
    return out.reset_index(drop=True)


def _evaluate(scored: pd.DataFrame, config: TrainConfig, scorers: list[str]) -> pd.DataFrame:
    from training.metrics import evaluate

    return evaluate(
        scored,
        {name: name for name in scorers},
        LABEL_COLUMN,
        as_of_col="as_of",
        group_col="township",
        cluster_col="household_id",
        tiebreak_col="household_id",
        ks=list(config.capacity_shares),
        group_ks=[config.capacity_per_township],
        baseline=HAND_RULE,
        oracle=ORACLE if ORACLE in scorers else None,
        probability_models=[s for s in scorers if s != HAND_RULE],
        n_boot=config.n_bootstrap,
        random_state=config.seed,
    )


def _metric_dict(table: pd.DataFrame, prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in table.to_dict("records"):
        for suffix, col in (("", "value"), (".ci_low", "ci_low"), (".ci_high", "ci_high")):
            value = float(row[col])
            if np.isfinite(value):
                out[f"{prefix}.{row['model']}.{row['metric']}{suffix}"] = value
    return out


def headline_metric(config: TrainConfig) -> str:
    """Metric name of precision@k at the headline capacity, e.g. ``precision_at_5pct``."""
    from training.metrics import k_label

    return f"precision_at_{k_label(config.headline_share)}"


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


def run_training(
    *,
    home: Path,
    tracking_uri: str,
    artifact_location: str,
    config: TrainConfig,
    ground_truth_dir: Path | None,
    model_name: str = "household-escalation",
    progress: bool = True,
    on_stage: Callable[[str, float], None] | None = None,
    audit_only: Sequence[str] = (),
) -> TrainResult:
    """Train, evaluate against baselines, log one MLflow run and register a challenger.

    Parameters
    ----------
    home : Path
        Revisit home folder holding ``warehouse/``.
    tracking_uri : str
        MLflow tracking URI (e.g. ``sqlite:///<home>/mlflow.db``).
    artifact_location : str
        Artifact root of the ``revisit`` experiment when it is created
        (absolute ``file://`` URI or path; created if absent).
    config : TrainConfig
        Every choice of the run (horizon, splits, LightGBM params, seed, capacities).
    ground_truth_dir : Path or None
        Folder holding the simulator's ``oracle.parquet`` (evaluation only), or ``None``.
    model_name : str
        Registered model name.
    progress : bool
        Log each stage and show the feature job's progress.
    on_stage : callable (name, seconds) -> None, optional
        Called when a stage ends (the CLI prints timings with it).
    audit_only : sequence of str, default ()
        Audit-only attributes the deployment declares (``REVISIT_AUDIT_ONLY``,
        canonical names such as ``ethnicity``). Their latest value per
        household in ``warehouse/audit_attributes.parquet`` is joined onto the
        pooled test rows for the bias audit alone (never onto the frame the
        model is fitted on or scores); each gets its ``bias_audit_<name>``
        csv/png and model-card section next to county and township.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingError
        Empty warehouse, too short a history for the split scheme, a block
        with a single class.
    """
    import mlflow

    from features.build import build_features
    from models.pyfunc import log_model, mlflow_uris
    from training.evidence_report import card_section, write_evidence
    from training.model_card import render_model_card
    from training.plots import plot_feature_importance, save_figure
    from training.reviewers import review_run
    from training.splits import SplitError
    from warehouse.store import read_incidents, read_visits

    stage = _Stages(on_stage, progress)
    home = Path(home)
    with stage("read warehouse"):
        visits, incidents = read_visits(home), read_incidents(home)
        audit_values = _audit_only_values(home, audit_only)
        if visits.empty:
            raise TrainingError(
                f"the warehouse at {warehouse_path(home, 'visits').parent} is empty: "
                f"run revisit ingest first"
            )
        digest = warehouse_hash(home)
    with stage("build features"):
        dates = training_as_of_dates(visits, incidents, config)
        if not dates:
            raise TrainingError(
                f"no weekly as-of date has a fully observed {config.horizon_days}-day horizon "
                f"in the warehouse at {home}: ingest a longer history"
            )
        frame = build_features(
            visits,
            incidents,
            dates,
            horizon_days=config.horizon_days,
            escalation_categories=config.escalation_categories,
            with_labels=True,
            progress=progress,
        )
        frame = frame[frame[LABEL_COLUMN].notna()].reset_index(drop=True)
        if frame.empty:
            raise TrainingError("the weekly frame has no labelled row: ingest a longer history")
    from features.catalogue import feature_names as catalogue_names

    feature_names = [c for c in catalogue_names() if c in frame.columns]
    with stage("leakage canary"):
        _leakage_canary(frame, feature_names, config)
    try:
        folds = rolling_origin_splits(
            frame["as_of"].unique(),
            horizon_days=config.horizon_days,
            n_folds=config.splits.n_folds,
            test_weeks=config.splits.test_weeks,
            val_weeks=config.splits.val_weeks,
            min_train_weeks=config.splits.min_train_weeks,
        )
        final = final_split(
            frame["as_of"].unique(),
            horizon_days=config.horizon_days,
            val_weeks=config.splits.val_weeks,
            min_train_weeks=config.splits.min_train_weeks,
        )
    except SplitError as err:
        raise TrainingError(f"the history is too short for the split scheme: {err}") from err

    scored_parts = []
    for fold in folds:
        with stage(f"fit and score {fold.name}"):
            scored_parts.append(_score_fold(frame, fold, feature_names, config, ground_truth_dir))
    scored = pd.concat(scored_parts, ignore_index=True)
    scorers = [MODEL, LOGISTIC, HAND_RULE]
    if ORACLE in scored.columns:
        if scored[ORACLE].notna().all():
            scorers.append(ORACLE)
        else:
            logger.warning(
                "oracle covers %d of %d test rows: left out of the comparison",
                int(scored[ORACLE].notna().sum()),
                len(scored),
            )
    with stage("evaluate"):
        pooled = _evaluate(scored, config, scorers)
        per_fold = pd.concat(
            [
                _evaluate(part, config.model_copy(update={"n_bootstrap": 0}), scorers).assign(
                    fold=name
                )
                for name, part in scored.groupby("fold", sort=True)
            ],
            ignore_index=True,
        )

    with stage("evidence"):
        evidence = _run_evidence(scored, scorers, config)
        if ORACLE in scorers:
            _oracle_canary(pooled)
    with stage("reviewers' tools"):
        review = review_run(
            frame,
            scored,
            feature_names,
            tracking_uri=tracking_uri,
            model_name=model_name,
            ks=list(config.capacity_shares),
            group_ks=[config.capacity_per_township],
            n_boot=config.n_bootstrap,
            random_state=config.seed,
            model_col=MODEL,
        )

    from models.risk_model import EscalationModel

    with stage("fit final model"):
        train_m, val_m, _ = final.masks(frame["as_of"])
        final_model = EscalationModel(**_model_params(config, feature_names))
        final_model.fit(
            frame[train_m], _labels(frame[train_m]), frame[val_m], _labels(frame[val_m])
        )

    headline = headline_metric(config)
    test_values = {
        (str(r["model"]), str(r["metric"])): float(r["value"]) for r in pooled.to_dict("records")
    }
    window = {
        "as_of_first": dates[0].date().isoformat(),
        "as_of_last_labelled": frame["as_of"].max().date().isoformat(),
        **{f"final_{k}": v for k, v in final.describe().items()},
        "test_first": scored["as_of"].min().date().isoformat(),
        "test_last": scored["as_of"].max().date().isoformat(),
    }

    with stage("log to mlflow"):
        client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
        experiment_id = _experiment_id(client, artifact_location)
        with (
            mlflow_uris(tracking_uri),
            tempfile.TemporaryDirectory() as tmp,
            mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name(window, config),
                description=_version_description(window, config, test_values),
            ) as run,
        ):
            run_id = run.info.run_id
            out = Path(tmp)
            params = {
                **config.flat_params(),
                "seed": str(config.seed),
                "warehouse_sha256": digest,
                "git_commit": git_commit(),
                "n_features": str(len(feature_names)),
                "n_rows_labelled": str(len(frame)),
                "n_households": str(frame["household_id"].nunique()),
                "n_as_of_dates": str(frame["as_of"].nunique()),
                "folds": ";".join(
                    f"{f.name}:{f.describe()['test_start']}..{f.describe()['test_end']}"
                    for f in folds
                ),
                **{f"window.{k}": v for k, v in window.items()},
                "final.best_iteration": str(final_model.best_iteration_),
                "final.calibration": str(final_model.calibration_method_),
            }
            mlflow.log_params(params)
            metrics = _metric_dict(pooled, TEST_PREFIX)
            for name, part in per_fold.groupby("fold", sort=True):
                metrics.update(_metric_dict(part, str(name)))
            metrics.update(evidence.metrics())
            metrics.update(review.metrics())
            mlflow.log_metrics(metrics)
            write_evidence(evidence, out)
            review.write(out)

            pooled.to_csv(out / "metrics_test.csv", index=False)
            per_fold.to_csv(out / "metrics_per_fold.csv", index=False)
            importance = pd.Series(
                final_model.booster_.feature_importance(importance_type="gain"),
                index=final_model.feature_names_,
                name="gain",
            )
            importance.sort_values(ascending=False).to_csv(out / "feature_importance.csv")
            save_figure(plot_feature_importance(importance), out / "feature_importance.png")
            sample = scored.sample(min(config.shap_sample, len(scored)), random_state=config.seed)
            sample_rows = frame.merge(sample[list(KEY_COLUMNS)], on=list(KEY_COLUMNS), how="inner")
            contrib = _contributions(final_model, sample_rows)
            contrib.sort_values(ascending=False).to_csv(out / "shap_summary.csv")
            save_figure(
                plot_feature_importance(
                    contrib,
                    kind="mean |SHAP|",
                    title=f"Mean |contribution| (log-odds) on {len(sample_rows)} test rows",
                ),
                out / "shap_summary.png",
            )
            audit_tables = _audit_and_plots(scored, scorers, config, out, audit_values)
            card = render_model_card(
                model_name=model_name,
                config=config,
                window=window,
                metrics=pooled,
                per_fold=per_fold,
                audit=audit_tables,
                n_rows=len(frame),
                n_households=int(frame["household_id"].nunique()),
                feature_names=feature_names,
                has_oracle=ORACLE in scorers,
                run_id=run_id,
            )
            card += "\n" + card_section(evidence)
            (out / "model_card.md").write_text(card, encoding="utf-8")
            mlflow.log_artifacts(str(out))

            example = frame[feature_names].head(5).reset_index(drop=True)
            log_model(
                final_model,
                name="model",
                input_example=example,
                registered_model_name=model_name,
            )
            tags = {
                "horizon_days": str(config.horizon_days),
                "training_window": f"{window['final_train_start']}..{window['final_validation_end']}",
                "last_training_as_of": window["final_validation_end"],
                "test_window": f"{window['test_first']}..{window['test_last']}",
                "warehouse_sha256": digest,
                **{
                    f"test.{model}.{metric}": f"{test_values[(model, metric)]:.6g}"
                    for model in scorers
                    for metric in ("roc_auc", "average_precision", headline)
                    if (model, metric) in test_values
                },
                **evidence.tags(),
                **review.tags(),
            }
            mlflow.set_tags(tags)
        versions = client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
        if not versions:
            raise TrainingError(
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

    return TrainResult(
        run_id=run_id,
        version=version,
        model_name=model_name,
        metrics=pooled,
        fold_metrics=per_fold,
        timings=stage.timings,
        n_rows=len(frame),
        window=window,
        scored=scored,
        evidence=evidence,
    )


def _leakage_canary(frame: pd.DataFrame, feature_names: list[str], config: TrainConfig) -> None:
    """Refuse a frame in which a single feature separates the label (``training.leakage``)."""
    from training.leakage import LeakageError, check_features

    try:
        check_features(frame, feature_names, LABEL_COLUMN, random_state=config.seed)
    except LeakageError as err:
        raise TrainingError(str(err)) from err


def _oracle_canary(pooled: pd.DataFrame) -> None:
    """Refuse a model that beats the simulator's own probability (``training.leakage``)."""
    from training.leakage import LeakageError, check_against_oracle

    auc = pooled[pooled["metric"] == "roc_auc"].set_index("model")["value"]
    try:
        check_against_oracle(float(auc.get(MODEL, np.nan)), float(auc.get(ORACLE, np.nan)))
    except LeakageError as err:
        raise TrainingError(str(err)) from err


def _run_evidence(scored: pd.DataFrame, scorers: list[str], config: TrainConfig) -> RunEvidence:
    """Strongest officer rule per capacity, paired lifts, test size, calibration (``training.evidence``)."""
    from training.evidence import summarise

    models = [s for s in scorers if s != HAND_RULE]
    return summarise(
        scored,
        models,
        models,
        ks=list(config.capacity_shares),
        group_ks=[config.capacity_per_township],
        n_boot=config.n_bootstrap,
        random_state=config.seed,
        main_model=MODEL,
    )


def _top_share_per_date(scored: pd.DataFrame, score_col: str, share: float) -> np.ndarray:
    """Rows on the list: the top ``ceil(share * n)`` of each as-of date by score."""
    ranked = scored.sort_values([score_col, "household_id"], ascending=[False, True], kind="stable")
    position = ranked.groupby("as_of", sort=False).cumcount()
    size = ranked.groupby("as_of", sort=False)["as_of"].transform("size")
    chosen = position < np.maximum(1, np.ceil(share * size))
    return chosen.reindex(scored.index).to_numpy(dtype=bool)


def _audit_only_values(home: Path, audit_only: Sequence[str]) -> pd.DataFrame | None:
    """Latest value per household of each declared audit-only attribute, wide.

    Returns ``None`` when nothing is declared or stored; else a frame with
    ``household_id`` and one ``str`` column per declared attribute found in
    ``warehouse/audit_attributes.parquet``. For the bias audit alone.
    """
    from warehouse.store import canonical_audit_attributes, read_audit_attributes

    declared = canonical_audit_attributes(list(audit_only))
    if not declared:
        return None
    stored = read_audit_attributes(home)
    stored = stored[stored["attribute"].isin(declared)]
    missing = sorted(set(declared) - set(stored["attribute"]))
    if missing:
        logger.warning("audit-only attribute(s) %s declared but not stored: not audited", missing)
    if stored.empty:
        return None
    latest = stored.sort_values("recorded_at", kind="stable").drop_duplicates(
        ["household_id", "attribute"], keep="last"
    )
    wide = latest.pivot(index="household_id", columns="attribute", values="value")
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index().astype("str").astype({"household_id": "str"})


def _audit_and_plots(
    scored: pd.DataFrame,
    scorers: list[str],
    config: TrainConfig,
    out: Path,
    audit_values: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Bias-audit tables (csv + png) of the model's headline list, and evaluation figures.

    The audited selection is the LightGBM model's top ``headline_share`` of
    each as-of date of the pooled test rows; groups are counties, townships and
    each audit-only attribute of ``audit_values`` (household_id + one column per
    attribute, joined here onto a copy of the test rows only).
    """
    from training.audit import bias_audit
    from training.plots import plot_disparities, save_figure

    frame = scored.copy()
    frame["selected"] = _top_share_per_date(frame, MODEL, config.headline_share)
    attributes = ["county", "township"]
    if audit_values is not None:
        extra = [c for c in audit_values.columns if c != "household_id"]
        clash = [c for c in extra if c in frame.columns]
        if clash:
            raise TrainingError(f"audit-only attributes {clash!r} clash with test-frame columns")
        frame = frame.merge(audit_values, on="household_id", how="left", validate="many_to_one")
        attributes += extra
    audits: dict[str, pd.DataFrame] = {}
    for attribute in attributes:
        table = bias_audit(
            frame,
            label_col=LABEL_COLUMN,
            selected_col="selected",
            attribute_cols=[attribute],
            score_col=MODEL,
        )
        table.to_csv(out / f"bias_audit_{attribute}.csv", index=False)
        save_figure(
            plot_disparities(_judged_only(table), attribute=attribute),
            out / f"bias_audit_{attribute}.png",
        )
        audits[attribute] = table
    _plots(frame, scorers, config, out)
    return audits


def _judged_only(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of an audit table whose ratios not judged (``<NA>`` flag) are ``nan``.

    The figure then marks them "n/a" instead of drawing ratios computed on too
    few rows as if they were disparities; the csv keeps every ratio.
    """
    from training.audit import RATES

    out = table.copy()
    for rate in RATES:
        flag, ratio = f"{rate}_flag", f"{rate}_disparity"
        if flag in out.columns and ratio in out.columns:
            out[ratio] = out[ratio].where(out[flag].notna())
    return out


def _plots(frame: pd.DataFrame, scorers: list[str], config: TrainConfig, out: Path) -> None:
    """PR, precision@k and calibration figures (:mod:`training.plots`) into ``out``."""
    from training.plots import (
        plot_calibration,
        plot_precision_at_k,
        plot_precision_recall,
        save_figure,
    )

    y = frame[LABEL_COLUMN].to_numpy()
    scores = {name: frame[name].to_numpy(dtype="float64") for name in scorers}
    probs = {name: v for name, v in scores.items() if name != HAND_RULE}
    save_figure(plot_precision_recall(y, scores), out / "pr_curve.png")
    save_figure(
        plot_precision_at_k(
            y, scores, as_of=frame["as_of"].to_numpy(), tiebreak=frame["household_id"].to_numpy()
        ),
        out / "precision_at_k.png",
    )
    save_figure(plot_calibration(y, probs), out / "calibration.png")
