"""Model quality against the officers' rules on fresh simulated worlds (issue #13's goals).

For each seed (default 11, 12, 13: neither the demo's seed 0 nor the tuning
world's seed 7), simulate a prefecture of ``--households`` households over
two years, ingest it, build the weekly labelled frame, and evaluate exactly as
``revisit train`` does: rolling-origin out-of-time folds, the LightGBM model
(the run's default hyper-parameters) and the three officers' rules scored on
the same test rows, the strongest rule named at each capacity, and the paired
household-bootstrap lift over it (``training.evidence``).

Prints the three goal figures per seed with their 95 % intervals, then their
mean and spread (min–max) over the seeds, and whether each goal is met:

1. lift over the strongest rule at the top 1 % ≥ 1.3;
2. lift ≥ 1.15 at the top 5 % and at 20 per township;
3. within households with no prior escalation, precision@1 % ≥ 2× the
   strongest rule on that segment.

Beside the model and the oracle it prints a third scorer, ``records_ceiling``:
a diagnostic of how much of the oracle's advantage the records can show at
all. For each fold, LightGBM is fitted with the cross-entropy objective to the
simulator's oracle probability as a soft label on the fold's training weeks,
from the same features (case-control weights, early stopping on the
validation weeks' oracle), and scores the test weeks. It needs the simulator's truth, so it is
never a model to serve; it estimates E[oracle | features], the best ranking
any model of these features could learn from unlimited labelled weeks (up to
the oracle's frozen-state approximation). It is an estimate from one world's
training weeks, not a bound: a richer reading of the records could see more.

Usage: ``python -m benchmarks.model_quality [--households N] [--seeds 11 12 13]
[--no-ceiling]``.
Peak memory grows with ``--households`` (a 20 000-household world is the
demo's size); run one at a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

GOALS: dict[tuple[str, str], float] = {
    ("all", "precision_at_1pct"): 1.3,
    ("all", "precision_at_5pct"): 1.15,
    ("all", "precision_at_20_per_township"): 1.15,
    ("no_prior_escalation", "precision_at_1pct"): 2.0,
}
DEFAULT_SEEDS = (11, 12, 13)
#: Scorers printed: the model, the records-ceiling diagnostic and the oracle.
SCORERS = ("lightgbm", "records_ceiling", "oracle")
#: Fixed end of the simulated window, so that a seed gives the same world on any day.
END = "2026-11-30"


def _world(tmp: Path, households: int, seed: int) -> Path:
    """Simulate and ingest one world; return its Revisit home."""
    revisit = str(Path(sys.executable).with_name("revisit"))
    env = {
        **os.environ,
        "REVISIT_ID_SECRET": os.environ.get(
            "REVISIT_ID_SECRET", "benchmark-secret-not-for-production"
        ),
        "PYTHONWARNINGS": "ignore",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    exports, home = tmp / f"exports-{seed}", tmp / f"home-{seed}"
    for args in (
        ["simulate", "--households", str(households), "--seed", str(seed), "--end", END,
         "--format", "csv", "--out", str(exports)],
        ["ingest", str(exports), "--home", str(home)],
    ):  # fmt: skip
        done = subprocess.run([revisit, *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(
                f"revisit {args[0]} failed (exit {done.returncode}): {done.stderr.strip()}"
            )
    return home


def _soft_labelled(
    pieces: Any, dates: Sequence[pd.Timestamp], model: Any, ground_truth: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix, oracle probability and case-control weight of some dates' sample.

    Read one as-of date at a time (the oracle too), so that only the float32
    matrix is ever held whole: about 1.2 GB for a fold at 1 000 000 households.
    Rows without an oracle probability (households added to the exports by hand)
    are left out.
    """
    from training.baselines import oracle_scores, read_oracle
    from training.frame import WEIGHT

    xs, ys, ws = [], [], []
    for as_of in dates:
        rows = pieces.read_one(as_of, sampled=True)
        y = oracle_scores(rows, ground_truth, oracle=read_oracle(ground_truth, [as_of]))
        covered = ~np.isnan(y)  # a household the simulator never made has no oracle row
        if not covered.all():
            rows, y = rows[covered].reset_index(drop=True), y[covered]
        xs.append(model._matrix(rows, count_unseen=False))
        ys.append(np.clip(y, 0.0, 1.0))
        ws.append(rows[WEIGHT].to_numpy(dtype=np.float64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def records_ceiling(
    pieces: Any, folds: Sequence[Any], models: dict[str, Any], ground_truth: Path, seed: int
) -> pd.DataFrame:
    """The records-ceiling diagnostic's scores of every fold's test rows.

    Parameters
    ----------
    pieces : training.frame.FramePieces
        The run's frame on disk (test weeks in full, other weeks case-control sampled).
    folds : sequence of training.splits.Fold
        Rolling-origin folds.
    models : dict of str to models.risk_model.EscalationModel
        Each fold's fitted model, by fold name: its feature preparation (the
        same float32 matrix, categories as codes) is reused.
    ground_truth : Path
        Folder of the simulator's ``oracle.parquet``.
    seed : int
        ``random_state`` of the regressions.

    Returns
    -------
    DataFrame
        ``household_id`` (str), ``as_of`` (Asia/Shanghai) and ``records_ceiling``
        (float64, the predicted oracle probability), one row per test row.
    """
    import lightgbm as lgb

    parts = []
    for fold in folds:
        model = models[fold.name]
        categorical = [j for j, n in enumerate(model.feature_names_) if n in model.categories_]
        X, y, w = _soft_labelled(pieces, fold.train, model, ground_truth)
        X_val, y_val, w_val = _soft_labelled(pieces, fold.validation, model, ground_truth)
        regressor = lgb.LGBMRegressor(
            objective="cross_entropy",
            n_estimators=3000, learning_rate=0.05, num_leaves=31, min_child_samples=200,
            subsample=0.8, subsample_freq=1, random_state=seed, n_jobs=2, verbose=-1,
        )  # fmt: skip
        regressor.fit(
            X, y, sample_weight=w, eval_X=(X_val,), eval_y=(y_val,), eval_sample_weight=[w_val],
            categorical_feature=categorical, callbacks=[lgb.early_stopping(50, verbose=False)],
        )  # fmt: skip
        del X, y, w, X_val, y_val, w_val
        for rows in pieces.iter_full(fold.test):
            out = rows[["household_id", "as_of"]].copy()
            out["records_ceiling"] = regressor.predict(model._matrix(rows, count_unseen=False))
            parts.append(out)
    return pd.concat(parts, ignore_index=True)


def evaluate_world(
    home: Path, ground_truth: Path, n_boot: int, seed: int, *, ceiling: bool = True
) -> pd.DataFrame:
    """Lift table (``training.evidence.compare_with_rules``) of one world's out-of-time folds.

    The same steps as ``revisit train`` (:func:`training.train.run_training`):
    the weekly frame written in pieces with the run's case-control share of
    negatives, rolling-origin folds, every scorer on the folds' test weeks
    (written in full), then the paired household-bootstrap lift over the
    strongest officer rule.
    """
    from contextlib import nullcontext

    from training.config import TrainConfig
    from training.evidence import compare_with_rules
    from training.frame import build_frame_pieces
    from training.scoring import build_scored_test_frame
    from training.train import _labelled_dates, plan_folds, read_warehouse, training_as_of_dates

    config = TrainConfig(n_bootstrap=n_boot, seed=0)
    visits, incidents, _digest = read_warehouse(home)
    dates = training_as_of_dates(visits, incidents, config)
    plan = plan_folds(dates, _labelled_dates(visits, incidents, dates, config), config)
    pieces = build_frame_pieces(
        visits, incidents, dates, plan.test_dates, home / "training_frame",
        horizon_days=config.horizon_days, escalation_categories=config.escalation_categories,
        negative_share=config.negative_share, random_state=config.seed, progress=False,
    )  # fmt: skip
    del visits, incidents
    fold_models: dict[str, Any] = {}
    scored, scorers = build_scored_test_frame(
        pieces, plan.folds, pieces.feature_names, config, ground_truth,
        lambda _name: nullcontext(), models=fold_models,
    )  # fmt: skip
    models = ["lightgbm", *(["oracle"] if "oracle" in scorers else [])]
    if ceiling and "oracle" in scorers:
        fitted = records_ceiling(pieces, plan.folds, fold_models, ground_truth, seed)
        n = len(scored)
        scored = scored.merge(fitted, on=["household_id", "as_of"], how="left", validate="1:1")
        if len(scored) != n or scored["records_ceiling"].isna().any():
            raise SystemExit("records ceiling: expected one score per test row")
        models.insert(1, "records_ceiling")
    cmp = compare_with_rules(
        scored, models, ks=[0.01, 0.05], group_ks=[20], n_boot=n_boot, random_state=seed
    )
    return cmp.table


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print per-seed figures, mean and spread, and the goals' verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument(
        "--no-ceiling", action="store_true", help="leave out the records-ceiling diagnostic"
    )
    args = parser.parse_args(argv)
    if args.households < 1000 or args.n_boot < 1:
        parser.error("expected --households of at least 1000 and --n-boot of at least 1")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.WARNING)
    print(
        f"model quality: {args.households} households, seeds {args.seeds}, lift of LightGBM over "
        f"the strongest officer rule (paired household bootstrap, {args.n_boot} resamples)",
        flush=True,
    )
    results = []
    for seed in args.seeds:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="revisit-quality-") as tmp:
            home = _world(Path(tmp), args.households, seed)
            table = evaluate_world(
                home, Path(tmp) / f"exports-{seed}" / "ground_truth", args.n_boot, seed,
                ceiling=not args.no_ceiling,
            )  # fmt: skip
        took = time.perf_counter() - start
        print(f"\nseed {seed} ({took:.0f} s):", flush=True)
        for (segment, metric), goal in GOALS.items():
            for model in SCORERS:
                hit = table[
                    (table["segment"] == segment)
                    & (table["metric"] == metric)
                    & (table["model"] == model)
                ]
                if hit.empty:
                    continue
                r = hit.iloc[0]
                results.append(
                    {
                        "seed": seed,
                        "segment": segment,
                        "metric": metric,
                        "model": model,
                        "lift": r["lift"],
                    }
                )
                print(
                    f"  {model:<15} {segment:<20} {metric:<29} vs {r['strongest_rule']:<17} "
                    f"{r['value']:.3f} / {r['rule_value']:.3f} = lift {r['lift']:.2f} "
                    f"[{r['lift_low']:.2f}, {r['lift_high']:.2f}]  (goal ≥ {goal:g})",
                    flush=True,
                )
    frame = pd.DataFrame(results)
    print("\nover seeds (mean, min–max):")
    for (segment, metric), goal in GOALS.items():
        for model in SCORERS:
            v = frame[
                (frame["segment"] == segment)
                & (frame["metric"] == metric)
                & (frame["model"] == model)
            ]["lift"]
            if v.empty:
                continue
            verdict = (
                ("MET (mean ≥ goal)" if v.mean() >= goal else "NOT MET")
                if model == "lightgbm"
                else "(diagnostic)"
            )
            print(
                f"  {model:<15} {segment:<20} {metric:<29} lift {np.mean(v):.2f} "
                f"({np.min(v):.2f}–{np.max(v):.2f})  goal ≥ {goal:g}: {verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
