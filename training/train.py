"""One training run: weekly frame in pieces → out-of-time folds → model and baselines → MLflow.

:func:`run_training` is the orchestrator; each step is a named function in its
own module:

1. :func:`read_warehouse` — the canonical tables and their digest;
2. :func:`plan_folds` — labelled weekly as-of dates, rolling-origin folds and
   the final split (:mod:`training.splits`);
3. :func:`training.frame.build_frame_pieces` — the labelled weekly frame,
   computed one as-of date at a time and written to Parquet under the home,
   with a case-control sample of negatives (every test week in full);
   The leakage canary (:mod:`training.leakage`) checks the sampled training
   frame: no single feature may separate the label;
4. :func:`training.scoring.build_scored_test_frame` — per fold, the model and
   logistic baseline fitted on the sample, and every household of the test
   weeks scored piece by piece by every scorer (model, logistic, the officers'
   hand rule, the oracle on simulated data; the three officers' rules and
   the no-prior segment of :mod:`training.evidence`);
5. :func:`training.evaluation.evaluate_scored` — pooled and per-fold metrics;
   the model evidence (:func:`training.evidence.summarise`: strongest officer
   rule, paired lifts, test size, calibration), the oracle canary, and the
   reviewers' tools (:func:`training.reviewers.review_run`: champion vs
   challenger, list stability, top-1 % crosstab, list audit) on the scored
   test frame, with the test weeks' features read back from the pieces;
6. :func:`training.scoring.fit_model` on the final split — the model that is
   registered;
7. :func:`training.record.record_run` — one MLflow run, a registered version
   with alias ``challenger``.

Each step is a stage: its time and its own peak resident memory are logged
and passed to ``on_stage``. Nothing personal is logged: params, metrics, tags
and artifacts carry dates, counts, jurisdictions and scores only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.evaluation import headline_metric
from training.evidence import RunEvidence
from training.frame import FRAME_FOLDER, FrameError, FramePieces
from training.record import (
    CHALLENGER_ALIAS,
    EXPERIMENT_NAME,
    TEST_PREFIX,
    RunRecord,
    git_commit,
    model_description,
    run_name,
    warehouse_hash,
)
from training.scoring import HAND_RULE, LOGISTIC, MODEL, ORACLE, FitModel, FoldError, fit_model
from training.splits import Fold
from warehouse.contract import KEY_COLUMNS, LABEL_COLUMN, TIMEZONE, warehouse_path
from warehouse.memory import format_bytes, peak_rss, reset_peak

logger = logging.getLogger(__name__)

__all__ = [
    "CHALLENGER_ALIAS",
    "EXPERIMENT_NAME",
    "HAND_RULE",
    "LOGISTIC",
    "MODEL",
    "ORACLE",
    "TEST_PREFIX",
    "TrainResult",
    "TrainingError",
    "git_commit",
    "headline_metric",
    "model_description",
    "run_name",
    "run_training",
    "training_as_of_dates",
    "warehouse_hash",
]

#: Called when a stage ends: (name, seconds, peak resident bytes of the stage).
StageCallback = Callable[[str, float, int], None]


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
        ``ci_low``, ``ci_high``, ``n_rows`` (from :func:`training.bootstrap.evaluate`).
    fold_metrics : DataFrame
        The same per fold, with a ``fold`` column.
    timings : dict of str to float
        Seconds per stage.
    peaks : dict of str to int
        Peak resident memory per stage (bytes).
    n_rows : int
        Labelled rows of the weekly frame (the population, before sampling).
    window : dict of str to str
        ISO dates: first/last as-of date, per block of the final model.
    scored : DataFrame
        Pooled test rows: keys, jurisdiction, ``label``, ``fold`` and one score
        column per scorer (in memory only; never logged: it holds household ids).
    evidence : RunEvidence or None
        The run's model evidence (:mod:`training.evidence`).
    negative_share : float
        Share of the negatives the models were fitted on (after
        ``TrainConfig.max_negative_rows``).
    n_bootstrap : int
        Bootstrap resamples the intervals were drawn from (after
        ``TrainConfig.max_bootstrap_rows``).
    """

    run_id: str
    version: str
    model_name: str
    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    n_rows: int = 0
    window: dict[str, str] = field(default_factory=dict)
    scored: pd.DataFrame = field(default_factory=pd.DataFrame)
    evidence: RunEvidence | None = None
    negative_share: float = 1.0
    n_bootstrap: int = 0

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


class _Stages:
    """Times named stages and their peak memory; reports each one to ``on_stage`` and the log."""

    def __init__(self, on_stage: StageCallback | None, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self.peaks: dict[str, int] = {}
        self.on_stage = on_stage
        self.progress = progress

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        reset_peak()
        if self.progress:
            logger.info("stage %s …", name)
        yield
        elapsed, peak = time.perf_counter() - start, peak_rss()
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        self.peaks[name] = max(self.peaks.get(name, 0), peak)
        if self.progress:
            logger.info("stage %s done in %.1f s, peak %s", name, elapsed, format_bytes(peak))
        if self.on_stage is not None:
            self.on_stage(name, elapsed, peak)


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


@dataclass
class FoldPlan:
    """The weeks of a run: as-of dates, rolling-origin folds and the final split."""

    dates: list[pd.Timestamp]
    folds: list[Fold]
    final: Fold

    @property
    def test_dates(self) -> set[pd.Timestamp]:
        """Every test week of every fold (written in full)."""
        return {d for f in self.folds for d in f.test}


def plan_folds(
    dates: list[pd.Timestamp], labelled: list[pd.Timestamp], config: TrainConfig
) -> FoldPlan:
    """Rolling-origin folds and the final split over the labelled as-of dates.

    Parameters
    ----------
    dates : list of pandas.Timestamp
        Weekly as-of dates of the run (:func:`training_as_of_dates`).
    labelled : list of pandas.Timestamp
        Those whose horizon is fully observed.
    config : TrainConfig
        Horizon and split scheme.

    Returns
    -------
    FoldPlan

    Raises
    ------
    TrainingError
        When the history is too short for the split scheme.
    """
    from training.splits import SplitError, final_split, rolling_origin_splits

    try:
        folds = rolling_origin_splits(
            labelled,
            horizon_days=config.horizon_days,
            n_folds=config.splits.n_folds,
            test_weeks=config.splits.test_weeks,
            val_weeks=config.splits.val_weeks,
            min_train_weeks=config.splits.min_train_weeks,
        )
        final = final_split(
            labelled,
            horizon_days=config.horizon_days,
            val_weeks=config.splits.val_weeks,
            min_train_weeks=config.splits.min_train_weeks,
        )
    except SplitError as err:
        raise TrainingError(f"the history is too short for the split scheme: {err}") from err
    return FoldPlan(dates, folds, final)


def _labelled_dates(
    visits: pd.DataFrame, incidents: pd.DataFrame, dates: list[pd.Timestamp], config: TrainConfig
) -> list[pd.Timestamp]:
    """Dates whose horizon ends on or before the warehouse's last ``recorded_at``."""
    from features.build import last_recorded_at

    last = last_recorded_at(visits, incidents)
    if last is None:
        return []
    horizon = pd.Timedelta(days=config.horizon_days)
    return [d for d in dates if d + horizon <= last]


def _window(plan: FoldPlan, pieces: FramePieces, scored: pd.DataFrame) -> dict[str, str]:
    return {
        "as_of_first": plan.dates[0].date().isoformat(),
        "as_of_last_labelled": pieces.dates[-1].date().isoformat(),
        **{f"final_{k}": v for k, v in plan.final.describe().items()},
        "test_first": scored["as_of"].min().date().isoformat(),
        "test_last": scored["as_of"].max().date().isoformat(),
    }


def run_training(
    *,
    home: Path,
    tracking_uri: str,
    artifact_location: str,
    config: TrainConfig,
    ground_truth_dir: Path | None,
    model_name: str = "household-escalation",
    progress: bool = True,
    on_stage: StageCallback | None = None,
    audit_only: Sequence[str] = (),
    negative_share: float | None = None,
    dask_client: Any = None,
    dask_address: str = "",
    signing_key: Any = None,
) -> TrainResult:
    """Train, evaluate against baselines, log one MLflow run and register a challenger.

    Parameters
    ----------
    home : Path
        Revisit home folder holding ``warehouse/``; the training frame's pieces
        are written to ``<home>/training_frame/``.
    tracking_uri : str
        MLflow tracking URI (e.g. ``sqlite:///<home>/mlflow.db``).
    artifact_location : str
        Artifact root of the ``revisit`` experiment when it is created
        (absolute ``file://`` URI or path; created if absent).
    config : TrainConfig
        Every choice of the run (horizon, splits, LightGBM params, seed,
        capacities, case-control share of negatives).
    ground_truth_dir : Path or None
        Folder holding the simulator's ``oracle.parquet`` (evaluation only), or ``None``.
    model_name : str
        Registered model name.
    progress : bool
        Log each stage and show progress bars.
    on_stage : callable (name, seconds, peak bytes) -> None, optional
        Called when a stage ends (the CLI prints timings and memory with it).
    audit_only : sequence of str, default ()
        Audit-only attributes the deployment declares (``REVISIT_AUDIT_ONLY``).
        Their latest value per household is joined onto the pooled test rows
        for the bias audit alone (never onto the frame the model is fitted on).
    negative_share : float, optional
        Overrides ``config.negative_share`` (share of negatives kept, (0, 1]),
        used as given (``config.max_negative_rows`` does not lower it).
    dask_client : distributed.Client, optional
        Fit the fold and final models with ``lightgbm.dask`` on this cluster,
        rounds fixed by a single-machine pilot fit (:mod:`training.dask_fit`).
    dask_address : str, default ""
        The cluster's address as given, recorded in the run.
    signing_key : str, bytes, SecretStr or None
        ``$REVISIT_SIGNING_KEY``: the champion is compared only when its
        promotion signature checks under it (:mod:`training.reviewers`).

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingError
        Empty warehouse, too short a history for the split scheme, a block
        with a single class.
    """
    from training.evaluation import evaluate_scored
    from training.evidence_report import card_section, write_evidence
    from training.frame import build_frame_pieces
    from training.record import record_run
    from training.report import audit_only_values
    from training.reviewers import review_run
    from training.scoring import build_scored_test_frame

    started_ms = int(time.time() * 1000)  # the run's start_time: before any work
    stage, home = _Stages(on_stage, progress), Path(home)
    fit: FitModel = fit_model
    if dask_client is not None:
        from training.dask_fit import DaskFitter

        fit = DaskFitter(dask_client, dask_address)
    share = config.negative_share if negative_share is None else negative_share
    # the config's share is capped on a large warehouse; an explicit one is used as given
    cap = config.max_negative_rows if negative_share is None else None
    try:
        with stage("read warehouse"):
            visits, incidents, digest = read_warehouse(home)
            audit_values = audit_only_values(home, audit_only)
            dates = training_as_of_dates(visits, incidents, config)
            if not dates:
                raise TrainingError(
                    f"no weekly as-of date has a fully observed {config.horizon_days}-day "
                    f"horizon in the warehouse at {home}: ingest a longer history"
                )
            plan = plan_folds(dates, _labelled_dates(visits, incidents, dates, config), config)
        with stage("build features"):
            pieces = build_frame_pieces(
                visits, incidents, dates, plan.test_dates, home / FRAME_FOLDER,
                horizon_days=config.horizon_days,
                escalation_categories=config.escalation_categories,
                negative_share=share, random_state=config.seed, progress=progress,
                exclude_suspect_visits=config.exclude_suspect_visits, max_negative_rows=cap,
            )  # fmt: skip
            del visits, incidents
        features = pieces.feature_names
        with stage("leakage canary"):
            _leakage_canary(pieces, features, config)
        fold_models: dict[str, Any] = {}
        scored, scorers = build_scored_test_frame(
            pieces, plan.folds, features, config, ground_truth_dir, stage, fit, fold_models
        )
        config = config.model_copy(update={"n_bootstrap": bootstrap_resamples(config, len(scored))})
        with stage("evaluate"):
            pooled, per_fold = evaluate_scored(scored, config, scorers)
        with stage("evidence"):
            evidence = _run_evidence(scored, scorers, config)
            if ORACLE in scorers:
                _oracle_canary(pooled)
        with stage("reviewers' tools"):
            # the test weeks' features (written in full), read back a few weeks at a time
            def test_rows(dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
                return pieces.read(dates, sampled=False, columns=[*KEY_COLUMNS, *features])

            review = review_run(
                test_rows, scored, features, tracking_uri=tracking_uri, model_name=model_name,
                ks=list(config.capacity_shares), group_ks=[config.capacity_per_township],
                n_boot=config.n_bootstrap, random_state=config.seed, model_col=MODEL,
                signing_key=signing_key, fold_models=fold_models,
            )  # fmt: skip
            del fold_models
        with stage("fit final model"):
            final_model = fit(pieces, plan.final, features, config)
    except (FoldError, FrameError) as err:
        raise TrainingError(str(err)) from err
    record = RunRecord(
        config, digest, pieces, features, plan.folds, plan.final, final_model, scored, scorers,
        pooled, per_fold, _window(plan, pieces, scored), audit_values,
    )  # fmt: skip
    record.started_at_ms = started_ms
    record.extra_metrics.update({**evidence.metrics(), **review.metrics()})
    record.extra_tags.update({**evidence.tags(), **review.tags()})

    def write_run_evidence(out: Path) -> None:
        write_evidence(evidence, out)

    record.artifact_writers += [write_run_evidence, review.write]
    record.card_sections.append(card_section(evidence))
    if dask_client is not None:
        record.extra_params.update(fit.params())  # type: ignore[attr-defined]
    with stage("log to mlflow"):
        run_id, version = record_run(
            record,
            tracking_uri=tracking_uri,
            artifact_location=artifact_location,
            model_name=model_name,
        )
    return TrainResult(
        run_id=run_id, version=version, model_name=model_name, metrics=pooled,
        fold_metrics=per_fold, timings=stage.timings, peaks=stage.peaks,
        n_rows=pieces.n_rows, window=record.window, scored=scored, evidence=evidence,
        negative_share=pieces.negative_share, n_bootstrap=config.n_bootstrap,
    )  # fmt: skip


def bootstrap_resamples(config: TrainConfig, test_rows: int) -> int:
    """Resamples of the run's bootstraps: ``n_bootstrap``, fewer on a very large test frame.

    Parameters
    ----------
    config : TrainConfig
        ``n_bootstrap`` asked for and ``max_bootstrap_rows`` (test rows times resamples).
    test_rows : int
        Rows of the pooled test frame.

    Returns
    -------
    int
        ``min(n_bootstrap, max(50, max_bootstrap_rows // test_rows))``: each
        resample costs a pass over the test rows per scorer, so the bootstraps'
        time stays about that of 200 000 households at 200 resamples.
    """
    if test_rows <= 0:
        return config.n_bootstrap
    return min(config.n_bootstrap, max(50, config.max_bootstrap_rows // test_rows))


def _leakage_canary(pieces: FramePieces, feature_names: list[str], config: TrainConfig) -> None:
    """Refuse a frame in which a single feature separates the label (``training.leakage``).

    Judged on the case-control sample of every labelled week (the rows the
    models are fitted on): sampling negatives at random leaves a feature's
    ROC AUC unchanged in expectation.
    """
    from training.leakage import AUC_SAMPLE_ROWS, LeakageError, check_features

    # no more than the rows the AUCs use (single_feature_aucs samples that many anyway)
    rows = pieces.read_at_most(
        pieces.dates, AUC_SAMPLE_ROWS, columns=[*feature_names, LABEL_COLUMN],
        random_state=config.seed,
    )  # fmt: skip
    try:
        check_features(rows, feature_names, LABEL_COLUMN, random_state=config.seed)
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


def read_warehouse(home: Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The canonical visits and incidents of the home's warehouse, and its digest.

    Raises
    ------
    TrainingError
        When the warehouse holds no visit.
    """
    from warehouse.store import read_incidents, read_visits

    visits, incidents = read_visits(home), read_incidents(home)
    if visits.empty:
        raise TrainingError(
            f"the warehouse at {warehouse_path(home, 'visits').parent} is empty: "
            f"run revisit ingest first"
        )
    return visits, incidents, warehouse_hash(home)
