"""Real-data check: Revisit's risk model against COMPAS on ProPublica's two-year recidivism file.

Trains ``models.risk_model.EscalationModel`` on ``compas-two-years.csv`` with
the features age, priors_count, juv_fel_count, juv_misd_count,
juv_other_count and c_charge_degree (never race or sex), label
``two_year_recid``, and prints side by side, on the same held-out rows:

* ROC AUC (with a 95 % percentile-bootstrap interval) of the model's
  calibrated probability and of COMPAS's own ``decile_score``;
* the bias audit by race and by sex of both selections: COMPAS's Medium/High
  ``score_text`` and the model's top share equal to COMPAS's Medium/High share
  on those rows (same list length, so the comparison is fair).

Split (documented): the file's construction rules out a naive out-of-time
split. Screenings from 2014-04 on are almost all recidivists (99-100 % against
35-38 % before: people without two full years of follow-up were dropped
unless they reoffended), so the latest rows are not a fair test set. Two
splits are offered:

* ``--split random`` (default): all 7 214 rows, 60/20/20 train / validation /
  test, stratified by the label, seeded (``--seed``).
* ``--split time``: rows screened before 2014-04-01 only (complete
  follow-up, 6 207 rows), ordered by ``compas_screening_date`` then ``id``:
  earliest 60 % train, next 20 % validation, latest 20 % test. No gap is kept
  (COMPAS has no as-of structure; outcome windows overlapping in calendar
  time do not leak an individual's label).

Validation rows drive early stopping and the calibration choice only.

Run: ``.venv/bin/python -m benchmarks.compas_check [--csv PATH] [--seed S]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [
    "age",
    "priors_count",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "c_charge_degree",
]
LABEL = "two_year_recid"
AUDIT_ATTRIBUTES = ["race", "sex"]
REFERENCE = {"race": "Caucasian", "sex": "Male"}


def default_csv() -> Path:
    """``$REVISIT_SHARED_DIR/data/compas/compas-two-years.csv``, else ``shared/`` beside the repo."""
    shared = os.environ.get("REVISIT_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "data" / "compas" / "compas-two-years.csv"


#: First screening date whose two-year follow-up is incomplete in the file.
FOLLOW_UP_CUTOFF = "2014-04-01"


def split_rows(
    frame: pd.DataFrame, how: str, seed: int, shares: tuple[float, float] = (0.6, 0.2)
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / validation / test rows (see the module notes for ``how``: random or time)."""
    if how == "time":
        dates = pd.to_datetime(frame["compas_screening_date"])
        kept = frame[dates < pd.Timestamp(FOLLOW_UP_CUTOFF)]
        ordered = kept.sort_values(["compas_screening_date", "id"], kind="stable")
    elif how == "random":
        rng = np.random.default_rng(seed)
        # stratified: shuffle within each label, then interleave by a uniform key
        key = pd.Series(rng.random(len(frame)), index=frame.index)
        rank = key.groupby(frame[LABEL]).rank(pct=True)
        ordered = frame.assign(_r=rank).sort_values(["_r", "id"], kind="stable").drop(columns="_r")
    else:
        raise ValueError(f"split must be 'random' or 'time', got {how!r}")
    n = len(ordered)
    a, b = int(n * shares[0]), int(n * (shares[0] + shares[1]))
    return ordered.iloc[:a], ordered.iloc[a:b], ordered.iloc[b:]


def top_share(score: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the ``round(share * n)`` highest scores (ties by position, stable)."""
    n_sel = int(round(share * score.size))
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(score.size, dtype=bool)
    mask[order[:n_sel]] = True
    return mask


def _fit_model(train: pd.DataFrame, val: pd.DataFrame, seed: int) -> tuple[object, str]:
    """Fit EscalationModel (or, if it is missing, a plain LGBMClassifier); return (model, kind)."""
    try:
        from models.risk_model import EscalationModel
    except ImportError:  # pragma: no cover - the model lands in parallel
        import lightgbm as lgb

        clf = lgb.LGBMClassifier(
            n_estimators=300, learning_rate=0.05, random_state=seed, verbose=-1
        )
        x = train[FEATURES].astype({"c_charge_degree": "category"})
        clf.fit(x, train[LABEL])
        return clf, "lightgbm.LGBMClassifier (EscalationModel not importable)"
    model = EscalationModel(
        feature_names=FEATURES, min_child_samples=20, random_state=seed, n_jobs=2
    )
    model.fit(train, train[LABEL].to_numpy(), val, val[LABEL].to_numpy())
    kind = (
        f"EscalationModel (calibration {model.calibration_method_}, {model.best_iteration_} trees)"
    )
    return model, kind


def _predict(model: object, frame: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "calibrator_"):
        return np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)  # type: ignore[attr-defined]
    x = frame[FEATURES].astype({"c_charge_degree": "category"})
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check and print the comparison; return the exit status (0 ok, 2 no data)."""
    from training.audit import bias_audit
    from training.bootstrap import bootstrap_ci
    from training.metrics import average_precision, brier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=default_csv(), help="compas-two-years.csv")
    parser.add_argument("--seed", type=int, default=0, help="model and bootstrap seed")
    parser.add_argument("--split", choices=["random", "time"], default="random", help="see notes")
    parser.add_argument("--n-boot", type=int, default=500, help="bootstrap resamples")
    args = parser.parse_args(argv)
    if not args.csv.exists():
        print(f"COMPAS file not found: {args.csv} (set REVISIT_SHARED_DIR)", file=sys.stderr)
        return 2

    started = time.perf_counter()
    data = pd.read_csv(args.csv)
    train, val, test = split_rows(data, args.split, args.seed)
    print(f"COMPAS two-year file: {len(data)} rows; features {', '.join(FEATURES)}")
    for name, part in (("train", train), ("validation", val), ("test", test)):
        dates = part["compas_screening_date"]
        print(
            f"  {name:<10} {len(part):>5} rows, screened {dates.min()} .. {dates.max()}, "
            f"recidivism rate {part[LABEL].mean():.3f}"
        )
    model, kind = _fit_model(train, val, args.seed)
    print(f"model: {kind}")

    y = test[LABEL].to_numpy()
    scores = {
        "model": _predict(model, test),
        "COMPAS decile_score": test["decile_score"].to_numpy(dtype=np.float64),
    }
    print(f"\nTest rows: {len(test)} ({args.split} split, seed {args.seed})")
    print(f"{'score':<22}{'ROC AUC':>9}{'95 % CI':>18}{'avg precision':>15}")
    for name, s in scores.items():
        auc = bootstrap_ci("roc_auc", y, s, n_boot=args.n_boot, random_state=args.seed)
        print(
            f"{name:<22}{auc.value:>9.4f}   [{auc.low:.4f}, {auc.high:.4f}]"
            f"{average_precision(y, s):>15.4f}"
        )
    print(f"model Brier score {brier(y, scores['model']):.4f} (probability of two-year recidivism)")

    compas_sel = test["score_text"].isin(["Medium", "High"]).to_numpy()
    share = float(compas_sel.mean())
    selections = {
        "COMPAS Medium/High": compas_sel,
        f"model top {100 * share:.1f} %": top_share(scores["model"], share),
    }
    cols = ["group", "group_size", "selection_rate", "precision", "fpr", "fnr", "fpr_disparity"]
    cols += ["fnr_disparity"]
    for name, selected in selections.items():
        table = bias_audit(
            test.assign(selected=selected),
            label_col=LABEL,
            selected_col="selected",
            attribute_cols=AUDIT_ATTRIBUTES,
            reference_groups=REFERENCE,
        )
        print(f"\nBias audit of {name} ({int(selected.sum())} of {len(test)} test rows selected)")
        for attribute, part in table.groupby("attribute", sort=False):
            print(f"  by {attribute} (reference {REFERENCE[str(attribute)]}):")
            shown = part[cols].copy()
            for c in ("selection_rate", "precision", "fpr", "fnr"):
                shown[c] = (100 * shown[c]).round(1)
            for c in ("fpr_disparity", "fnr_disparity"):
                shown[c] = shown[c].round(2)
            text = shown.rename(
                columns={c: f"{c} %" for c in ("selection_rate", "precision", "fpr", "fnr")}
            ).to_string(index=False)
            print("    " + text.replace("\n", "\n    "))
    print(f"\ndone in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
