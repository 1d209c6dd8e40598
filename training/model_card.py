"""The model card of a training run, in Markdown (Mitchell et al. 2019, "Model Cards
for Model Reporting", FAT* '19): intended use, data, metrics against baselines and
the oracle, limits, and the bias audit. It carries no personal data: dates,
counts, jurisdictions (county and township names) and metrics only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from training.config import TrainConfig

_HEADLINE_METRICS = ("roc_auc", "average_precision", "brier", "ece")


def _fmt(value: float, low: float | None = None, high: float | None = None) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.3f}"
    if low is not None and high is not None and np.isfinite(low) and np.isfinite(high):
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def _metrics_table(metrics: pd.DataFrame, models: Sequence[str], names: Sequence[str]) -> str:
    lookup = {(str(r["model"]), str(r["metric"])): r for r in metrics.to_dict("records")}
    lines = ["| metric | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for name in names:
        cells = []
        for model in models:
            row = lookup.get((model, name))
            cells.append("–" if row is None else _fmt(row["value"], row["ci_low"], row["ci_high"]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _audit_section(attribute: str, table: pd.DataFrame) -> str:
    flag_cols = [c for c in table.columns if c.endswith("_flag")]
    flagged = (
        table[table[flag_cols].fillna(False).astype(bool).any(axis=1)]
        if flag_cols
        else table.head(0)
    )
    ref = table.loc[table["is_reference"], "group"]
    reference = str(ref.iloc[0]) if len(ref) else "–"
    head = (
        f"### By {attribute}\n\n{len(table)} groups, reference group **{reference}** (largest); "
        f"{len(flagged)} group(s) with a disparity outside [0.8, 1.25]."
    )
    if flagged.empty:
        return head
    rate_cols = [c for c in ("selection_rate", "precision", "fpr", "fnr") if c in table.columns]
    lines = [
        "| group | size | " + " | ".join(rate_cols) + " | flagged |",
        "|---" * (len(rate_cols) + 3) + "|",
    ]
    for data in flagged.head(15).to_dict("records"):
        flags = [c.removesuffix("_flag") for c in flag_cols if bool(pd.notna(data[c]) and data[c])]
        rates = " | ".join(_fmt(float(data[c])) for c in rate_cols)
        lines.append(f"| {data['group']} | {data['group_size']} | {rates} | {', '.join(flags)} |")
    return head + "\n\n" + "\n".join(lines)


def render_model_card(
    *,
    model_name: str,
    config: TrainConfig,
    window: Mapping[str, str],
    metrics: pd.DataFrame,
    per_fold: pd.DataFrame,
    audit: Mapping[str, pd.DataFrame],
    n_rows: int,
    n_households: int,
    feature_names: Sequence[str],
    has_oracle: bool,
    run_id: str,
) -> str:
    """Render the model card of one training run.

    Parameters
    ----------
    model_name : str
        Registered model name.
    config : TrainConfig
        The run's configuration (horizon in days, capacities, seed).
    window : mapping of str to str
        ISO dates of the data window and of the final model's blocks.
    metrics : DataFrame
        Pooled test metrics (long format of :func:`training.metrics.evaluate`).
    per_fold : DataFrame
        The same per fold, with a ``fold`` column.
    audit : mapping of str to DataFrame
        Bias-audit table per attribute (:func:`training.audit.bias_audit`).
    n_rows, n_households : int
        Labelled rows and distinct households of the weekly frame.
    feature_names : sequence of str
        Model features.
    has_oracle : bool
        Whether the simulator's oracle was evaluated (simulated data).
    run_id : str
        MLflow run id.

    Returns
    -------
    str
        Markdown text.
    """
    models = [
        m for m in ("lightgbm", "logistic", "hand_rule", "oracle") if m in set(metrics["model"])
    ]
    rank_names = [
        m for m in metrics["metric"].unique() if str(m).startswith(("precision_at", "recall_at"))
    ]
    lift_names = [
        m for m in metrics["metric"].unique() if str(m).startswith(("lift_", "oracle_share_"))
    ]
    fold_lines = []
    for fold, part in per_fold.groupby("fold", sort=True):
        auc = part[(part["model"] == "lightgbm") & (part["metric"] == "roc_auc")]["value"]
        pk = part[
            (part["model"] == "lightgbm") & (part["metric"].str.startswith("precision_at_5"))
        ]["value"]
        fold_lines.append(
            f"- {fold}: ROC AUC {_fmt(float(auc.iloc[0]) if len(auc) else np.nan)}, "
            f"precision@5 % {_fmt(float(pk.iloc[0]) if len(pk) else np.nan)}"
        )
    audit_text = "\n\n".join(_audit_section(a, t) for a, t in audit.items()) or "No audit table."
    capacities = ", ".join(f"{s:.0%}" for s in config.capacity_shares)
    categories = ", ".join(config.escalation_categories)
    return f"""# Model card: {model_name}

MLflow run `{run_id}`.

## Intended use
Ranks households of a jurisdiction by the calibrated probability that an
escalation incident ({categories}) is reported within the next
{config.horizon_days} days, so that community police officers revisit the
riskiest households first. It supports, and never replaces, an officer's
judgement: the list says where to look, not what happened. It must not be used
to sanction, label or deny services to anyone, nor outside the prefecture and
period it was trained on.

## Data
- Weekly as-of dates (Mondays, Asia/Shanghai) from {window.get("as_of_first", "–")} to
  {window.get("as_of_last_labelled", "–")}; {n_rows} labelled household-weeks of
  {n_households} households.
- Features: {len(feature_names)} point-in-time aggregates of approved visit records
  and police incidents known before each as-of date (visits, disputes, hazards,
  incidents, context). No names, ID numbers, phones, addresses, notes, ethnicity or
  religion; county, township and village are used for audit and lists only.
- Final model trained on {window.get("final_train_start", "–")} to
  {window.get("final_train_end", "–")}, early-stopped and calibrated on
  {window.get("final_validation_start", "–")} to {window.get("final_validation_end", "–")}.

## Evaluation
Rolling-origin out-of-time folds with a {config.horizon_days}-day gap between
training, validation and test (no label window crosses a split); test rows
{window.get("test_first", "–")} to {window.get("test_last", "–")}, pooled. All
scorers are evaluated on the same test rows. 95 % intervals: paired household
bootstrap, {config.n_bootstrap} resamples, seed {config.seed}. Capacities: top
{capacities} of households per as-of date and the top {config.capacity_per_township}
per township.

Scorers: `lightgbm` (this model), `logistic` (logistic regression on the same
features), `hand_rule` (most open disputes, most recent first: what an officer
could do by hand){", `oracle` (the simulator's true risk: the ceiling)" if has_oracle else ""}.

{_metrics_table(metrics, models, [m for m in _HEADLINE_METRICS if m in set(metrics["metric"])])}

### Ranked lists at capacity
{_metrics_table(metrics, models, rank_names)}

### Lift over the hand rule{" and share of the oracle" if has_oracle else ""}
{_metrics_table(metrics, models, lift_names)}

### Per fold
{chr(10).join(fold_lines)}

## Limits
- Labels are police incidents: escalations nobody reported are invisible, and
  households that are visited or policed more are more likely to have one recorded.
- {"Figures come from simulated data; real performance must be measured on real exports." if has_oracle else "No ground truth beyond recorded incidents is available."}
- Scores are calibrated on the latest validation weeks; drift in visiting practice
  or incident recording degrades them: retrain and re-audit regularly.
- Households first seen after training get features from few records.

## Bias audit
Selection: the model's top {config.headline_share:.0%} per as-of date on the
test rows. Rates per group and disparity against the largest group, flagged
outside [0.8, 1.25] (Aequitas convention).

{audit_text}
"""
