"""Hyper-parameters of the LightGBM model by a search on a simulated tuning world (issue #13).

The search never sees a world the model is reported on: the tuning world has
its own seed (default 7; the demo's seed 0 and the model-quality seeds 11, 12
and 13 are refused). It is simulated and ingested like ``make demo`` does, then
evaluated with the steps of ``revisit train`` (:func:`training.train.run_training`):
the weekly frame written in pieces with the run's case-control share of
negatives, the rolling-origin folds, and each fold's model fitted by
:func:`training.scoring.fit_model` (early-stopped and calibrated on the fold's
validation weeks).

Objective (maximised): the LightGBM model's precision@1 % pooled over the
folds' out-of-time test weeks *of the tuning world* (the top 1 % of every
household of each week, as :mod:`training.metrics`). These weeks play the part
of a validation set for the search: they are the tuning world's, never a
reported world's. The folds' own validation blocks are not used for the score
because early stopping and calibration already fit on them and they hold only
the case-control sample of negatives (precision@k needs every household of a
week). Each trial also records the strongest officer rule's precision@1 % on
the same rows and the lift over it.

Optuna's TPE sampler (seeded) proposes ``learning_rate``, ``num_leaves`` and
``min_child_samples`` (:data:`SEARCH_SPACE`); the first trial is the run's
current defaults, so the result says how much the search gained over them on
the tuning world. Every trial is an MLflow run nested under one parent run in
the experiment ``tuning``; the best parameters are written as JSON for
``revisit train --params FILE.json`` (:mod:`training.tuned_params`).

Usage::

    python -m benchmarks.tune --households 3000 --seed 7 --trials 15 --out best.json

Memory and time grow with ``--households`` (frame pieces on disk, one fold's
sample in memory at a time); run it with ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Seeds of worlds the model is shown or reported on: never tuned on.
RESERVED_SEEDS: dict[int, str] = {
    0: "the demo's world",
    11: "a model-quality world (benchmarks.model_quality)",
    12: "a model-quality world (benchmarks.model_quality)",
    13: "a model-quality world (benchmarks.model_quality)",
}
DEFAULT_SEED = 7
EXPERIMENT = "tuning"
OBJECTIVE = "precision_at_1pct"
#: (low, high, log scale) of each searched parameter of ``training.config.LightGBMConfig``.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "learning_rate": (0.01, 0.2, True),
    "num_leaves": (4, 63, True),
    "min_child_samples": (20, 3000, True),
}
_INT_PARAMS = ("num_leaves", "min_child_samples")

logger = logging.getLogger(__name__)


class TuningError(RuntimeError):
    """The search cannot run as asked (reserved seed, too short a world)."""


def check_seed(seed: int) -> None:
    """Refuse the seed of a world the model is shown or reported on.

    Raises
    ------
    TuningError
        When ``seed`` is one of :data:`RESERVED_SEEDS`.
    """
    if seed in RESERVED_SEEDS:
        raise TuningError(
            f"seed {seed} is {RESERVED_SEEDS[seed]}: tune on a world of its own "
            f"(e.g. --seed {DEFAULT_SEED}), never on one the model is reported on"
        )


@dataclass
class TuningWorld:
    """The tuning world's frame, folds and the officer rules' scores of its test weeks.

    Attributes
    ----------
    pieces : training.frame.FramePieces
        The weekly frame on disk (test weeks in full).
    folds : list of training.splits.Fold
        Rolling-origin folds.
    config : training.config.TrainConfig
        The base configuration (defaults or ``--config``); trials override ``lightgbm``.
    rules : DataFrame
        One row per (household, test week) in fold order: ``household_id``,
        ``as_of``, ``label`` and the officer rules' scores (``training.evidence``).
    strongest_rule : str
        The rule with the highest precision@1 % on those rows.
    rule_precision : float
        Its precision@1 %.
    """

    pieces: Any
    folds: list[Any]
    config: Any
    rules: pd.DataFrame
    strongest_rule: str
    rule_precision: float


def prepare_world(home: Path, config: Any) -> TuningWorld:
    """Frame pieces, folds and officer-rule scores of a home's warehouse (the train steps).

    Parameters
    ----------
    home : Path
        Revisit home with an ingested warehouse; the frame goes to
        ``<home>/training_frame/``.
    config : training.config.TrainConfig
        Horizon, splits, case-control share, seed.

    Returns
    -------
    TuningWorld

    Raises
    ------
    training.train.TrainingError
        Empty warehouse or too short a history for the folds.
    """
    from training.evidence import RULE_SCORERS, add_officer_rules
    from training.frame import FRAME_FOLDER, build_frame_pieces
    from training.metrics import precision_at_k
    from training.train import _labelled_dates, plan_folds, read_warehouse, training_as_of_dates
    from warehouse.contract import LABEL_COLUMN

    visits, incidents, _digest = read_warehouse(home)
    dates = training_as_of_dates(visits, incidents, config)
    plan = plan_folds(dates, _labelled_dates(visits, incidents, dates, config), config)
    pieces = build_frame_pieces(
        visits, incidents, dates, plan.test_dates, Path(home) / FRAME_FOLDER,
        horizon_days=config.horizon_days, escalation_categories=config.escalation_categories,
        negative_share=config.negative_share, random_state=config.seed, progress=False,
    )  # fmt: skip
    del visits, incidents
    parts = []
    for fold in plan.folds:
        for rows in pieces.iter_full(fold.test):
            base = rows[["household_id", "as_of", LABEL_COLUMN]].copy()
            base[LABEL_COLUMN] = base[LABEL_COLUMN].astype("int64")
            parts.append(add_officer_rules(base, rows))
    rules = pd.concat(parts, ignore_index=True)
    precision = {
        rule: precision_at_k(
            rules[LABEL_COLUMN],
            rules[col],
            0.01,
            as_of=rules["as_of"],
            tiebreak=rules["household_id"],
        )  # fmt: skip
        for rule, col in RULE_SCORERS.items()
    }
    strongest = max(precision, key=lambda r: precision[r])
    return TuningWorld(pieces, plan.folds, config, rules, strongest, precision[strongest])


def evaluate_params(world: TuningWorld, params: dict[str, Any]) -> dict[str, float]:
    """Fit every fold's model with ``params`` and score the folds' test weeks.

    Parameters
    ----------
    world : TuningWorld
    params : dict
        LightGBM parameters over the base configuration's (``training.config.LightGBMConfig``).

    Returns
    -------
    dict of str to float
        ``precision_at_1pct`` and ``precision_at_5pct`` of the model pooled over
        the test weeks (mean over weeks), ``rule_precision_at_1pct`` (the
        strongest officer rule), ``lift_at_1pct`` (model / rule), ``roc_auc``,
        ``best_iteration_mean`` (rounds kept by early stopping), ``list_rows``
        (rows on the top-1 % lists, all weeks), ``precision_at_1pct.se`` (binomial
        standard error over those rows, households not clustered: a floor on the
        noise of the objective) and ``seconds``.
    """
    from training.config import LightGBMConfig
    from training.evidence import top_share_mask
    from training.metrics import precision_at_k, roc_auc
    from training.scoring import fit_model
    from warehouse.contract import LABEL_COLUMN

    start = time.perf_counter()
    lightgbm = LightGBMConfig.model_validate({**world.config.lightgbm.model_dump(), **params})
    config = world.config.model_copy(update={"lightgbm": lightgbm})
    features = world.pieces.feature_names
    scores, rounds = [], []
    for fold in world.folds:
        model = fit_model(world.pieces, fold, features, config)
        rounds.append(int(model.best_iteration_))
        for rows in world.pieces.iter_full(fold.test):
            scores.append(model.predict_proba(rows)[:, 1])
    rules = world.rules
    score = np.concatenate(scores)
    y, as_of, tie = rules[LABEL_COLUMN], rules["as_of"], rules["household_id"]
    p1 = precision_at_k(y, score, 0.01, as_of=as_of, tiebreak=tie)
    on_list = int(top_share_mask(rules.assign(_score=score), "_score", 0.01).sum())
    return {
        OBJECTIVE: p1,
        OBJECTIVE + ".se": float(np.sqrt(p1 * (1 - p1) / on_list)) if on_list else float("nan"),
        "list_rows": float(on_list),
        "precision_at_5pct": precision_at_k(y, score, 0.05, as_of=as_of, tiebreak=tie),
        "rule_precision_at_1pct": world.rule_precision,
        "lift_at_1pct": p1 / world.rule_precision if world.rule_precision > 0 else float("nan"),
        "roc_auc": roc_auc(y, score),
        "best_iteration_mean": float(np.mean(rounds)),
        "seconds": time.perf_counter() - start,
    }


def suggest(trial: Any) -> dict[str, Any]:
    """One point of :data:`SEARCH_SPACE` proposed by an Optuna trial."""
    out: dict[str, Any] = {}
    for name, (low, high, log) in SEARCH_SPACE.items():
        if name in _INT_PARAMS:
            out[name] = trial.suggest_int(name, int(low), int(high), log=log)
        else:
            out[name] = trial.suggest_float(name, float(low), float(high), log=log)
    return out


def search(
    world: TuningWorld,
    trials: int,
    *,
    tracking_uri: str,
    artifact_location: str,
    seed: int,
    description: dict[str, Any],
    on_trial: Callable[[int, dict[str, Any], dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Run the search, each trial an MLflow run nested under one parent run.

    Parameters
    ----------
    world : TuningWorld
    trials : int
        Number of trials (>= 1); the first is the base configuration's parameters.
    tracking_uri, artifact_location : str
        MLflow store and the ``tuning`` experiment's artifact root (when created).
    seed : int
        Seed of the sampler (and of the world, recorded).
    description : dict
        What the world is (households, seed, window), recorded in the result and the parent run.
    on_trial : callable (number, params, metrics) -> None, optional
        Called after each trial (the command prints a line).

    Returns
    -------
    dict
        The result written as JSON: ``lightgbm`` (best parameters), ``objective``,
        ``value``, ``defaults`` (the first trial's parameters and value),
        ``strongest_rule``, ``rule_value``, ``lift``, ``trials``, ``world``,
        ``mlflow`` (tracking URI, parent run id).
    """
    import mlflow
    import optuna

    from models.pyfunc import mlflow_uris
    from training.record import CLASSIC_EXPERIMENT_KIND, EXPERIMENT_KIND_TAG

    if trials < 1:
        raise TuningError(f"--trials: expected at least 1, got {trials!r}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(EXPERIMENT, artifact_location=artifact_location)
    )
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_EXPERIMENT_KIND)
    defaults = {k: getattr(world.config.lightgbm, k) for k in SEARCH_SPACE}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(defaults)
    results: dict[int, dict[str, float]] = {}
    with (
        mlflow_uris(tracking_uri),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"tune-seed{seed}-{description.get('households', '?')}hh",
            description=f"Search of LightGBM's {', '.join(SEARCH_SPACE)} by {OBJECTIVE} on the "
            f"tuning world's out-of-time test weeks (benchmarks.tune).",
        ) as parent,
    ):
        mlflow.log_params(
            {
                **{f"world.{k}": str(v) for k, v in description.items()},
                "objective": OBJECTIVE,
                "trials": str(trials),
                "sampler": f"optuna TPESampler(seed={seed})",
                "strongest_rule": world.strongest_rule,
                "search_space": json.dumps(SEARCH_SPACE),
                **{f"base.{k}": str(v) for k, v in world.config.flat_params().items()},
            }
        )

        def objective(trial: Any) -> float:
            params = suggest(trial)
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"trial-{trial.number}", nested=True
            ):
                mlflow.log_params({f"lightgbm.{k}": str(v) for k, v in params.items()})
                metrics = evaluate_params(world, params)
                mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
            results[trial.number] = metrics
            if on_trial is not None:
                on_trial(trial.number, params, metrics)
            return float(metrics[OBJECTIVE])

        study.optimize(objective, n_trials=trials)
        best = study.best_trial
        first = results[0]
        value = float(best.value) if best.value is not None else float("nan")
        lift = results[best.number]["lift_at_1pct"]
        out: dict[str, Any] = {
            "lightgbm": dict(best.params),
            "objective": f"{OBJECTIVE}: the model's precision@1 % pooled over the tuning world's "
            f"rolling-origin out-of-time test weeks",
            "value": value,
            "lift": lift,
            "value_se": results[best.number][OBJECTIVE + ".se"],
            "list_rows": results[best.number]["list_rows"],
            "best_trial": best.number,
            "defaults": {"lightgbm": defaults, "value": first[OBJECTIVE]},
            "strongest_rule": world.strongest_rule,
            "rule_value": world.rule_precision,
            "trials": trials,
            "world": description,
            "mlflow": {
                "tracking_uri": tracking_uri,
                "experiment": EXPERIMENT,
                "parent_run_id": parent.info.run_id,
            },
        }
        mlflow.log_metrics(
            {
                "best." + OBJECTIVE: value,
                **({"best.lift_at_1pct": lift} if np.isfinite(lift) else {}),
                "defaults." + OBJECTIVE: first[OBJECTIVE],
                "rule_precision_at_1pct": world.rule_precision,
            }
        )
        mlflow.log_params({f"best.lightgbm.{k}": str(v) for k, v in best.params.items()})
        mlflow.log_dict(out, "best_params.json")
    return out


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _simulate(tmp: Path, households: int, seed: int) -> tuple[Path, Path]:
    """Simulate and ingest the tuning world (as ``benchmarks.model_quality``); home, ground truth."""
    from benchmarks import model_quality

    home = model_quality._world(tmp, households, seed)
    return home, tmp / f"exports-{seed}" / "ground_truth"


def main(argv: list[str] | None = None) -> int:
    """Run the search; print each trial and the best parameters; write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--out", type=Path, required=True, help="Best parameters (JSON).")
    parser.add_argument(
        "--config", type=Path, default=None, help="Base training configuration (TOML/JSON/YAML)."
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store of the trials (default: sqlite:///<folder of --out>/tuning-mlflow.db).",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="Use this home's ingested warehouse instead of simulating one (its world must not "
        "be one the model is reported on).",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.WARNING)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from training.config import ConfigError, load_config

    try:
        check_seed(args.seed)
        config = load_config(args.config).model_copy(update={"seed": args.seed})
    except (TuningError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tracking_uri = args.tracking_uri or f"sqlite:///{out.parent / 'tuning-mlflow.db'}"
    artifacts = (out.parent / "tuning-mlartifacts").as_uri()
    start = time.perf_counter()
    world_text = (
        f"the warehouse of {args.home}"
        if args.home is not None
        else f"a simulated world of {args.households} households, seed {args.seed}"
    )
    print(
        f"tuning: {args.trials} trials on {world_text}; objective {OBJECTIVE} over the "
        f"rolling-origin test weeks",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="revisit-tune-") as tmp:
        if args.home is not None:
            home = args.home
            description: dict[str, Any] = {"home": str(home), "seed": args.seed}
        else:
            from benchmarks.model_quality import END

            home, _truth = _simulate(Path(tmp), args.households, args.seed)
            description = {"households": args.households, "seed": args.seed, "end": END}
        world = prepare_world(home, config)
        prepared = time.perf_counter() - start
        print(
            f"world ready in {prepared:.0f} s: {len(world.rules):,} test rows in "
            f"{len(world.folds)} folds; strongest officer rule {world.strongest_rule} "
            f"precision@1 % {world.rule_precision:.3f}",
            flush=True,
        )

        def on_trial(number: int, params: dict[str, Any], metrics: dict[str, float]) -> None:
            shown = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
            )
            print(
                f"  trial {number:>2}: {shown}  ->  precision@1 % {metrics[OBJECTIVE]:.4f} "
                f"(lift {metrics['lift_at_1pct']:.2f}, AUC {metrics['roc_auc']:.3f}, "
                f"{metrics['best_iteration_mean']:.0f} rounds, {metrics['seconds']:.0f} s)",
                flush=True,
            )

        result = search(
            world, args.trials, tracking_uri=tracking_uri, artifact_location=artifacts,
            seed=args.seed, description=description, on_trial=on_trial,
        )  # fmt: skip
    result["seconds"] = round(time.perf_counter() - start, 1)
    out.write_text(
        json.dumps(_finite(result), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    print(
        f"\nbest (trial {result['best_trial']}): {json.dumps(result['lightgbm'])}\n"
        f"  precision@1 % {result['value']:.4f} ± {result['value_se'] or 0:.4f} (binomial SE over "
        f"{result['list_rows']:.0f} list rows; defaults {result['defaults']['value']:.4f}; "
        f"strongest rule {result['strongest_rule']} {result['rule_value']:.4f}; lift "
        f"{result['lift']:.2f})\nwritten to {out} in {result['seconds']:.0f} s; trials in "
        f"{tracking_uri} (experiment {EXPERIMENT!r})\nuse them: revisit train --params {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
