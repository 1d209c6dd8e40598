"""Which share of negatives the case-control sample may keep: sampled vs full-frame model.

On a warehouse small enough for the full frame (every household-week) to be
fitted on, the last rolling-origin fold is fitted once on the full frame
(share 1) and once per share in ``--shares`` on the case-control sample
(every positive, that share of negatives, weights ``1 / share``). Each model
scores every household of the same test weeks. Reported per model: test
precision@1 % and @5 % (per as-of date, averaged) and the calibration slope
(the coefficient of a logistic regression of the label on the logit of the
calibrated probability; 1 is perfect), the full-frame model's with 95 %
household-cluster bootstrap intervals, and whether each sampled model's value
falls inside them. The default ``negative_share`` is the smallest share whose
three figures all fall inside.

Usage: ``python -m benchmarks.bench_sampling --home DIR [--shares 0.05,0.1,0.2]
[--n-boot 200]`` (the home holds an ingested warehouse, e.g. of ``make demo``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.linear_model import LogisticRegression


def calibration_slope(y: np.ndarray, prob: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Slope of the logistic recalibration ``logit P(y) = a + b logit(p)``; 1 is perfect."""
    x = logit(np.clip(prob, 1e-6, 1 - 1e-6)).reshape(-1, 1)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(x, y, sample_weight=weight)
    return float(fit.coef_[0, 0])


def precision_at(scored: pd.DataFrame, share: float, weight: np.ndarray | None = None) -> float:
    """Mean over as-of dates of the label share among each date's top ``ceil(share * n)``."""
    frame = scored.assign(w=1.0 if weight is None else weight)
    frame = frame.sort_values(["score", "household_id"], ascending=[False, True], kind="stable")
    values = []
    for _, rows in frame.groupby("as_of", sort=True):
        top = rows.head(max(1, int(np.ceil(share * len(rows)))))
        if top["w"].sum() > 0:
            values.append(float(np.average(top["label"], weights=top["w"])))
    return float(np.mean(values))


def figures(scored: pd.DataFrame, weight: np.ndarray | None = None) -> dict[str, float]:
    """precision@1 %, precision@5 % and calibration slope of one scored test frame."""
    return {
        "precision_at_1pct": precision_at(scored, 0.01, weight),
        "precision_at_5pct": precision_at(scored, 0.05, weight),
        "calibration_slope": calibration_slope(
            scored["label"].to_numpy(), scored["score"].to_numpy(), weight
        ),
    }


def bootstrap(scored: pd.DataFrame, n_boot: int, seed: int) -> dict[str, tuple[float, float]]:
    """95 % household-cluster bootstrap intervals of :func:`figures`."""
    rng = np.random.default_rng(seed)
    codes, uniques = pd.factorize(scored["household_id"])
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, len(uniques), len(uniques)), minlength=len(uniques))
        for name, value in figures(scored, counts[codes].astype(float)).items():
            draws.setdefault(name, []).append(value)
    return {
        k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in draws.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from training.config import TrainConfig
    from training.frame import build_frame_pieces
    from training.scoring import fit_model
    from training.train import _labelled_dates, plan_folds, read_warehouse, training_as_of_dates

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--shares", default="0.05,0.1,0.2")
    parser.add_argument("--n-boot", type=int, default=200)
    args = parser.parse_args(argv)
    config = TrainConfig.model_validate({"splits": {"n_folds": 1}})
    visits, incidents, _ = read_warehouse(args.home)
    dates = training_as_of_dates(visits, incidents, config)
    plan = plan_folds(dates, _labelled_dates(visits, incidents, dates, config), config)
    fold = plan.folds[-1]
    results: dict[float, dict[str, float]] = {}
    full_scored: pd.DataFrame | None = None
    for share in [1.0, *(float(s) for s in args.shares.split(","))]:
        started = time.perf_counter()
        pieces = build_frame_pieces(
            visits, incidents, dates, plan.test_dates, args.home / f"sampling_frame_{share:g}",
            horizon_days=config.horizon_days, escalation_categories=config.escalation_categories,
            negative_share=share, random_state=config.seed,
        )  # fmt: skip
        model = fit_model(pieces, fold, pieces.feature_names, config)
        test = pieces.read(fold.test, sampled=False)
        scored = test[["household_id", "as_of", "label"]].assign(
            score=model.predict_proba(test)[:, 1]
        )
        results[share] = {
            **figures(scored),
            "train_rows": float(pieces.read(fold.train, sampled=True, columns=["label"]).shape[0]),
            "seconds": time.perf_counter() - started,
        }
        if share == 1.0:
            full_scored = scored
        print(f"share {share:g}: {results[share]}", flush=True)
    assert full_scored is not None
    intervals = bootstrap(full_scored, args.n_boot, config.seed)
    print(f"\nlast fold test weeks {fold.describe()['test_start']}..{fold.describe()['test_end']}")
    print(f"{'share':>6} {'train rows':>11} {'p@1%':>7} {'p@5%':>7} {'slope':>7} {'s':>6}  inside")
    for share, r in results.items():
        inside = all(
            intervals[k][0] <= r[k] <= intervals[k][1]
            for k in ("precision_at_1pct", "precision_at_5pct", "calibration_slope")
        )
        print(
            f"{share:>6g} {int(r['train_rows']):>11} {r['precision_at_1pct']:>7.3f} "
            f"{r['precision_at_5pct']:>7.3f} {r['calibration_slope']:>7.3f} {r['seconds']:>6.0f}  "
            f"{'-' if share == 1.0 else inside}"
        )
    print(
        "full-frame 95 % intervals: "
        + ", ".join(f"{k} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in intervals.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
