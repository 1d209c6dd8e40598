"""The records ceiling on a trained prefecture: how much of the oracle the features can show.

``benchmarks.model_quality`` measures the records ceiling on small fresh
worlds, where its intervals are wide. This benchmark measures it where they
are narrow: on the home of a ``benchmarks.bench_scale`` run (1 000 000
households: 4 M test rows and 22 000 positive household-weeks in the last
fold), reading the weekly frame that ``revisit train`` left under
``<home>/training_frame/`` and the simulator's oracle.

For each fold asked for, it fits the run's LightGBM model exactly as
``revisit train`` does (:func:`training.scoring.score_fold`: model, officer
rules and oracle on every test row), fits the records-ceiling diagnostic
(:func:`benchmarks.model_quality.records_ceiling`: LightGBM with the
cross-entropy objective on the oracle probability as a soft label, from the
same features and sample) and prints the paired household-bootstrap lift of
each over the strongest officer rule (:func:`training.evidence.compare_with_rules`).

When the model's lift equals the ceiling's, the model has learned what these
features can show; what the oracle has beyond the ceiling is latent state no
feature reads (conflict propensity, disputes nobody recorded, the true
severity today).

Usage, from the repository's root::

    python -m benchmarks.bench_scale --households 1000000 --home H   # once, about 40 min
    python -m benchmarks.records_ceiling --home H [--folds last|all] [--n-boot 50]
    # any trained home of a simulated world:
    python -m benchmarks.records_ceiling --home H --ground-truth EXPORTS --folds all

The folds are those of the default training configuration (``TrainConfig()``:
horizon, split scheme); a run trained with another ``--config`` needs the same
split scheme for the folds to be its own. Test rows the oracle does not cover
(households added to the exports by hand) are left out, and counted.

Measured 2026-12-05 at 1 000 000 households (seed 0), last fold: 6 min 22 s,
peak 4.3 GB.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

#: Columns of a frame piece that are not features.
NOT_FEATURES = frozenset(
    {"household_id", "as_of", "county", "township", "village", "label", "in_sample", "weight"}
)


def reopen_pieces(folder: Path, config: Any) -> tuple[Any, list[Any]]:
    """The frame pieces a training run left on disk, and the run's rolling-origin folds.

    Parameters
    ----------
    folder : Path
        ``<home>/training_frame``: one ``as_of=YYYY-MM-DD.parquet`` per labelled date.
    config : training.config.TrainConfig
        Split scheme and horizon of the run (the defaults unless the run changed them).

    Returns
    -------
    pieces : training.frame.FramePieces
        Dates, sampled rows and positives per date read from the files; the
        negative share from the negatives' weight (``1 / share``).
    folds : list of training.splits.Fold

    Raises
    ------
    SystemExit
        When the folder holds no piece.
    """
    from training.frame import IN_SAMPLE, WEIGHT, FramePieces
    from training.splits import rolling_origin_splits

    files = sorted(Path(folder).glob("as_of=*.parquet"))
    if not files:
        raise SystemExit(f"expected the weekly frame's pieces in {folder}, found none")
    dates = [pd.Timestamp(f.stem.split("=", 1)[1]).tz_localize("Asia/Shanghai") for f in files]
    folds = rolling_origin_splits(
        dates, horizon_days=config.horizon_days, n_folds=config.splits.n_folds,
        test_weeks=config.splits.test_weeks, val_weeks=config.splits.val_weeks,
        min_train_weeks=config.splits.min_train_weeks,
    )  # fmt: skip
    sampled, positives, rows, max_weight = {}, {}, {}, 1.0
    for as_of, path in zip(dates, files, strict=True):
        t = pq.read_table(path, columns=[IN_SAMPLE, "label", WEIGHT]).to_pandas()
        kept = t[t[IN_SAMPLE]]
        rows[as_of] = len(t)
        sampled[as_of] = len(kept)
        positives[as_of] = int((kept["label"] == 1).sum())
        max_weight = max(max_weight, float(kept[WEIGHT].max()) if len(kept) else 1.0)
    names = [n for n in pq.ParquetFile(files[0]).schema_arrow.names if n not in NOT_FEATURES]
    pieces = FramePieces(
        folder=Path(folder), dates=dates, full_dates=frozenset(d for f in folds for d in f.test),
        negative_share=1.0 / max_weight, rows=rows, sampled_rows=sampled, positives=positives,
        feature_names=names,
    )  # fmt: skip
    return pieces, folds


def main(argv: list[str] | None = None) -> int:
    """Print the lift of the model, the records ceiling and the oracle over the strongest rule."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="home of a bench_scale run")
    parser.add_argument(
        "--ground-truth", type=Path, default=None,
        help="the simulation's output folder or its ground_truth/ folder (default: <home>/exports)",
    )  # fmt: skip
    parser.add_argument("--folds", choices=("last", "all"), default="last")
    parser.add_argument("--n-boot", type=int, default=50)
    args = parser.parse_args(argv)
    if args.n_boot < 1:
        parser.error(f"--n-boot: expected at least 1 resample, got {args.n_boot}")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.WARNING)

    from benchmarks.model_quality import records_ceiling
    from training.baselines import BaselineError, resolve_ground_truth_dir
    from training.config import TrainConfig
    from training.evidence import compare_with_rules
    from training.scoring import score_fold
    from training.splits import SplitError

    start = time.perf_counter()
    try:  # the ground_truth folder or the simulation output that holds it, as revisit train
        gt = resolve_ground_truth_dir(args.home, args.ground_truth or args.home / "exports")
    except BaselineError as err:
        raise SystemExit(f"--ground-truth: {err}") from err
    assert gt is not None
    config = TrainConfig(seed=0)
    try:
        pieces, folds = reopen_pieces(args.home / "training_frame", config)
    except SplitError as err:
        raise SystemExit(
            f"the frame in {args.home / 'training_frame'} is too short: {err}"
        ) from err
    chosen = folds[-1:] if args.folds == "last" else folds
    print(
        f"{len(pieces.feature_names)} features, {len(pieces.dates)} weeks, negative share "
        f"{pieces.negative_share:.3f}; folds {', '.join(f.name for f in chosen)}",
        flush=True,
    )
    parts = []
    for fold in chosen:
        models: dict[str, Any] = {}
        scored = score_fold(pieces, fold, pieces.feature_names, config, gt, models=models)
        ceiling = records_ceiling(pieces, [fold], models, gt, seed=0)
        parts.append(scored.merge(ceiling, on=["household_id", "as_of"], validate="1:1"))
        print(f"  {fold.name}: {len(scored):,} test rows scored", flush=True)
    scored = pd.concat(parts, ignore_index=True)
    covered = scored["oracle"].notna()
    if not covered.all():  # as revisit train: rows the simulator never made are left out
        print(f"  {int((~covered).sum()):,} test rows have no oracle probability: left out")
        scored = scored[covered].reset_index(drop=True)
    print(
        f"test: {len(scored):,} rows, {scored['household_id'].nunique():,} households, "
        f"{int(scored['label'].sum()):,} positive rows",
        flush=True,
    )
    table = compare_with_rules(
        scored, ["lightgbm", "records_ceiling", "oracle"], ks=[0.01, 0.05], group_ks=[20],
        n_boot=args.n_boot, random_state=0,
    ).table  # fmt: skip
    for r in table.to_dict("records"):
        print(
            f"  {r['model']:<15} {r['segment']:<20} {r['metric']:<29} vs "
            f"{r['strongest_rule']:<17} {r['value']:.3f} / {r['rule_value']:.3f} = lift "
            f"{r['lift']:.2f} [{r['lift_low']:.2f}, {r['lift_high']:.2f}]"
        )
    print(f"took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
