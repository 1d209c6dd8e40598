"""Training speed: the weekly frame of a demo warehouse, and a large synthetic frame.

(a) ``--home DIR`` (default ``$REVISIT_HOME`` or ``./revisit-data``): when it holds
    a warehouse, build its weekly labelled frame and fit the risk model on an
    out-of-time split (the demo: a simulated 20 000-household prefecture).
(b) A synthetic frame of ``--rows`` rows × ``--features`` features (default
    1 000 000 × 100: float features with a planted signal, one category, ~5 %
    positives, weekly as-of dates): fit the risk model (last 10 % of weeks as
    validation), score it, fit the logistic baseline on a sample, and evaluate
    with bootstrap intervals — the per-fold work of ``revisit train``.

Prints seconds per stage, rows/s and the peak resident memory (MiB) of the
process. Goal (issue #5): ≤ 5 minutes for 1 000 000 rows × ~100 features on 2
cores. Usage: ``python -m benchmarks.bench_train [--rows N] [--features F]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd


def _peak_mib() -> float:
    """Peak resident set size of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    print(f"  {name} …", flush=True)
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    print(f"  {name}: {timings[name]:.1f} s (peak {_peak_mib():.0f} MiB)", flush=True)


def synthetic_frame(n_rows: int, n_features: int, seed: int = 0) -> pd.DataFrame:
    """A weekly feature frame with a planted signal.

    Parameters
    ----------
    n_rows, n_features : int
        Rows and feature columns (one of them categorical).
    seed : int
        Seed of the generator: same seed, same frame.

    Returns
    -------
    DataFrame
        ``household_id``, ``as_of`` (52 weekly Mondays, Asia/Shanghai),
        ``county``, ``township``, ``village``, ``f000``… (float64, ~5 % NaN),
        ``disputes_all_open``, ``disputes_all_days_since_last``,
        ``context_all_household_type`` (category) and ``label`` (Int8, ~5 % positive).
    """
    rng = np.random.default_rng(seed)
    n_weeks = 52
    n_households = max(1, n_rows // n_weeks)
    X = rng.standard_normal((n_rows, n_features - 3)).astype("float64")
    X[rng.random(X.shape) < 0.05] = np.nan
    open_disputes = rng.poisson(0.3, n_rows).astype("float64")
    days = rng.exponential(120, n_rows)
    kind = rng.integers(0, 6, n_rows)
    logit = (
        -3.6
        + 0.6 * np.nan_to_num(X[:, 0])
        + 0.4 * np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2])
        + 0.5 * open_disputes
        + 0.3 * (kind == 5)
    )
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype("int8")
    mondays = pd.date_range("2025-01-06", periods=n_weeks, freq="W-MON", tz="Asia/Shanghai")
    hh = np.arange(n_rows) % n_households
    frame = pd.DataFrame(X, columns=[f"f{i:03d}" for i in range(n_features - 3)])
    frame.insert(0, "household_id", pd.Series([f"H{h:07d}" for h in hh], dtype="str"))
    frame.insert(1, "as_of", mondays[np.minimum(np.arange(n_rows) // n_households, n_weeks - 1)])
    frame.insert(2, "county", pd.Series([f"C{h % 9}" for h in hh], dtype="str"))
    frame.insert(3, "township", pd.Series([f"T{h % 120}" for h in hh], dtype="str"))
    frame.insert(4, "village", pd.Series([f"V{h % 1500}" for h in hh], dtype="str"))
    frame["disputes_all_open"] = open_disputes
    frame["disputes_all_days_since_last"] = days
    frame["context_all_household_type"] = pd.Categorical.from_codes(  # type: ignore[call-overload]
        kind,
        [
            "ordinary",
            "left_behind_elderly",
            "left_behind_children",
            "reconstituted_family",
            "migrant_worker",
            "living_alone",
        ],
    )
    frame["label"] = pd.array(y, dtype="Int8")
    return frame


def train_frame(
    frame: pd.DataFrame, features: list[str], *, seed: int, timings: dict[str, float]
) -> dict[str, float]:
    """Fit and evaluate the model and baselines on an out-of-time split of ``frame``.

    The last 10 % of as-of dates (at least one) are the test block, the 10 %
    before them validation; the rest trains. Returns the headline metrics.
    """
    from models.risk_model import EscalationModel
    from training.baselines import LogisticBaseline, hand_rule_scores
    from training.bootstrap import evaluate

    dates = np.sort(frame["as_of"].unique())
    k = max(1, len(dates) // 10)
    test_m = frame["as_of"].isin(dates[-k:]).to_numpy()
    val_m = frame["as_of"].isin(dates[-2 * k : -k]).to_numpy()
    train_m = ~(test_m | val_m)
    train, val, test = frame[train_m], frame[val_m], frame[test_m]
    y = {
        n: part["label"].astype("int64").to_numpy() for n, part in (("train", train), ("val", val))
    }
    print(
        f"  {len(train)} training, {len(val)} validation, {len(test)} test rows; {len(features)} features",
        flush=True,
    )
    with _stage("fit risk model", timings):
        model = EscalationModel(
            feature_names=features, random_state=seed, n_jobs=os.cpu_count() or 2
        )
        model.fit(train, y["train"], val, y["val"])
    print(
        f"    best iteration {model.best_iteration_}, calibration {model.calibration_method_}",
        flush=True,
    )
    scored = test[["household_id", "as_of", "township"]].copy()
    scored["label"] = test["label"].astype("int64").to_numpy()
    with _stage("score test rows", timings):
        scored["lightgbm"] = model.predict_proba(test)[:, 1]
    with _stage("fit logistic baseline (≤ 200 000 rows)", timings):
        sample = train.sample(min(len(train), 200_000), random_state=seed)
        logistic = LogisticBaseline(features, random_state=seed).fit(sample, sample["label"])
        scored["logistic"] = logistic.predict_proba(test)[:, 1]
    scored["hand_rule"] = hand_rule_scores(test)
    with _stage("evaluate with 200 bootstrap resamples", timings):
        table = evaluate(
            scored,
            {"lightgbm": "lightgbm", "logistic": "logistic", "hand_rule": "hand_rule"},
            "label",
            as_of_col="as_of",
            group_col="township",
            cluster_col="household_id",
            baseline="hand_rule",
            probability_models=["lightgbm", "logistic"],
            n_boot=200,
            random_state=seed,
        )
    pick = table[table["metric"].isin(["roc_auc", "precision_at_5pct"])]
    print(
        pick.pivot(index="metric", columns="model", values="value").round(3).to_string(), flush=True
    )
    return timings


def bench_warehouse(home: Path, seed: int) -> None:
    """Part (a): the weekly frame of the warehouse under ``home``."""
    from features.build import build_features
    from features.catalogue import feature_names
    from training.config import TrainConfig
    from training.train import training_as_of_dates
    from warehouse.store import read_incidents, read_visits

    timings: dict[str, float] = {}
    with _stage("read warehouse", timings):
        visits, incidents = read_visits(home), read_incidents(home)
    if visits.empty:
        print(f"(a) skipped: no warehouse at {home} (run `make demo` first)")
        return
    print(f"(a) warehouse {home}: {len(visits)} visits, {len(incidents)} incidents", flush=True)
    dates = training_as_of_dates(visits, incidents, TrainConfig())
    with _stage(f"build weekly frame ({len(dates)} as-of dates)", timings):
        frame = build_features(visits, incidents, dates, with_labels=True, progress=True)
        frame = frame[frame["label"].notna()].reset_index(drop=True)
    names = [c for c in feature_names() if c in frame.columns]
    train_frame(frame, names, seed=seed, timings=timings)
    total = sum(timings.values())
    print(f"(a) {len(frame)} labelled rows: {total:.1f} s in all, peak {_peak_mib():.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print seconds per stage, rows/s and peak memory."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of the synthetic frame (b)"
    )
    parser.add_argument(
        "--features", type=int, default=100, help="features of the synthetic frame (b)"
    )
    parser.add_argument(
        "--home", type=Path, default=Path(os.environ.get("REVISIT_HOME", "revisit-data"))
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-warehouse", action="store_true", help="skip part (a)")
    args = parser.parse_args(argv)
    if not args.skip_warehouse:
        bench_warehouse(args.home, args.seed)
    timings: dict[str, float] = {}
    print(f"(b) synthetic frame: {args.rows} rows × {args.features} features", flush=True)
    with _stage("generate", timings):
        frame = synthetic_frame(args.rows, args.features, seed=args.seed)
    features = [
        c
        for c in frame.columns
        if c not in ("household_id", "as_of", "county", "township", "village", "label")
    ]
    train_frame(frame, features, seed=args.seed, timings=timings)
    work = sum(v for k, v in timings.items() if k != "generate")
    print(
        f"(b) {args.rows} rows × {args.features} features: {work:.1f} s training + evaluation "
        f"({args.rows / work:,.0f} rows/s), peak {_peak_mib():.0f} MiB; goal ≤ 300 s for 1 000 000 rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
