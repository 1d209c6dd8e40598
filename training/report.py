"""Artifacts of a training run: importance, contributions, bias audit, figures.

Every artifact is computed from the final model and the scored test frame
(:mod:`training.scoring`) and written into a folder that
:mod:`training.record` logs to MLflow: ``feature_importance`` (gain),
``shap_summary`` (mean |contribution| on a sample of test rows, read back from
the training frame's pieces), ``bias_audit_<attribute>`` for counties,
townships and each declared audit-only attribute, and the PR, precision@k and
calibration figures. Nothing personal is written: tables carry jurisdictions,
rates and scores only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.frame import FramePieces
from training.scoring import HAND_RULE, MODEL
from warehouse.contract import KEY_COLUMNS, LABEL_COLUMN

logger = logging.getLogger(__name__)


class ReportError(ValueError):
    """An artifact cannot be made from what the run holds."""


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


def contribution_rows(pieces: FramePieces, keys: pd.DataFrame) -> pd.DataFrame:
    """The training-frame rows of some (household_id, as_of) keys, read piece by piece.

    Parameters
    ----------
    pieces : FramePieces
        The training frame (test weeks are written in full).
    keys : DataFrame
        ``household_id`` and ``as_of`` of rows of written dates.

    Returns
    -------
    DataFrame
        The matching rows, every column of the pieces.
    """
    parts = []
    for _, part in keys.groupby("as_of", sort=True):
        rows = pieces.read_one(pd.Timestamp(part["as_of"].iloc[0]), sampled=False)
        parts.append(rows.merge(part[list(KEY_COLUMNS)], on=list(KEY_COLUMNS), how="inner"))
    return pd.concat(parts, ignore_index=True)


def write_model_artifacts(
    final_model: Any, pieces: FramePieces, scored: pd.DataFrame, config: TrainConfig, out: Path
) -> None:
    """Feature importance (gain) and mean |contribution| on a sample of test rows (csv + png)."""
    from training.plots import plot_feature_importance, save_figure

    importance = pd.Series(
        final_model.booster_.feature_importance(importance_type="gain"),
        index=final_model.feature_names_,
        name="gain",
    )
    importance.sort_values(ascending=False).to_csv(out / "feature_importance.csv")
    save_figure(plot_feature_importance(importance), out / "feature_importance.png")
    sample = scored.sample(min(config.shap_sample, len(scored)), random_state=config.seed)
    sample_rows = contribution_rows(pieces, sample[list(KEY_COLUMNS)])
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


def audit_only_values(home: Path, audit_only: Sequence[str]) -> pd.DataFrame | None:
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


def audit_and_plots(
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
    from training.evidence import top_share_mask
    from training.plots import plot_disparities, save_figure

    frame = scored.copy()
    frame["selected"] = top_share_mask(frame, MODEL, config.headline_share)
    attributes = ["county", "township"]
    if audit_values is not None:
        extra = [c for c in audit_values.columns if c != "household_id"]
        clash = [c for c in extra if c in frame.columns]
        if clash:
            raise ReportError(f"audit-only attributes {clash!r} clash with test-frame columns")
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
        plot_precision_at_k(y, scores, as_of=frame["as_of"], tiebreak=frame["household_id"]),
        out / "precision_at_k.png",
    )
    save_figure(plot_calibration(y, probs), out / "calibration.png")
