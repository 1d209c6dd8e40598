"""The model card of a training run, in Markdown (Mitchell et al. 2019, "Model Cards
for Model Reporting", FAT* '19): intended use, data, metrics against baselines and
the oracle, limits, and the bias audit. It carries no personal data: dates,
counts, jurisdictions (county and township names) and metrics only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from training.audit import DEFAULT_MIN_SUPPORT
from training.config import TrainConfig

_HEADLINE_METRICS = ("roc_auc", "average_precision", "brier", "ece")
#: Metrics printed with 4 significant figures: small values that models must be compared on.
_SIGNIFICANT_METRICS = frozenset({"brier", "ece"})
#: Rates whose disparity can be a flag; the base rate is a property of the data, not the model.
_JUDGED_RATES = ("selection_rate", "precision", "fpr", "fnr")


def _fmt(
    value: float | None,
    low: float | None = None,
    high: float | None = None,
    *,
    significant: bool = False,
) -> str:
    """``value`` with 3 decimals (or 4 significant figures), and ``[low, high]`` when finite."""
    if value is None or not np.isfinite(value):
        return "–"

    def one(v: float) -> str:
        return f"{v:.4g}" if significant else f"{v:.3f}"

    text = one(value)
    if low is not None and high is not None and np.isfinite(low) and np.isfinite(high):
        text += f" [{one(low)}, {one(high)}]"
    return text


def _count(value: int) -> str:
    """A count with thousands separators: 1645983 -> "1,645,983"."""
    return f"{int(value):,}"


def _group_name(group: object) -> str:
    """A group name with its pinyin when it holds Chinese: "屯智街道 (Tunzhi Jiedao)"."""
    from training.plots import romanize

    text = str(group)
    roman = romanize(text)
    return text if roman == text else f"{text} ({roman})"


def _metrics_table(metrics: pd.DataFrame, models: Sequence[str], names: Sequence[str]) -> str:
    lookup = {(str(r["model"]), str(r["metric"])): r for r in metrics.to_dict("records")}
    lines = ["| metric | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for name in names:
        cells = []
        for model in models:
            row = lookup.get((model, name))
            cells.append(
                "–"
                if row is None
                else _fmt(
                    row["value"],
                    row["ci_low"],
                    row["ci_high"],
                    significant=name in _SIGNIFICANT_METRICS,
                )
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _audit_section(attribute: str, table: pd.DataFrame) -> str:
    flag_cols = [f"{r}_flag" for r in _JUDGED_RATES if f"{r}_flag" in table.columns]
    flags = table[flag_cols].astype("boolean") if flag_cols else table.head(0)
    flagged = table[flags.fillna(False).astype(bool).any(axis=1)] if flag_cols else table.head(0)
    not_judged = int(flags.isna().to_numpy().sum()) if flag_cols else 0
    ref = table.loc[table["is_reference"], "group"]
    reference = _group_name(ref.iloc[0]) if len(ref) else "–"
    head = (
        f"### By {attribute}\n\n{_count(len(table))} groups, reference group **{reference}**; "
        f"{_count(len(flagged))} group(s) with a disparity outside [0.8, 1.25] on enough "
        f"support; {_count(not_judged)} group-rate pair(s) not judged (too few rows, "
        f"positives, negatives or selected, or an undefined ratio: see "
        f"`bias_audit_{attribute}.csv`, columns `*_flag_reason`)."
    )
    if flagged.empty:
        return head
    rate_cols = [c for c in _JUDGED_RATES if c in table.columns]
    lines = [
        "| group | size | positives | base rate | " + " | ".join(rate_cols) + " | flagged |",
        "|---" * (len(rate_cols) + 5) + "|",
    ]
    for data in flagged.head(15).to_dict("records"):
        names = [c.removesuffix("_flag") for c in flag_cols if bool(pd.notna(data[c]) and data[c])]
        rates = " | ".join(_fmt(float(data[c])) for c in rate_cols)
        base = _fmt(float(data["base_rate"])) if "base_rate" in data else "–"
        positives = _count(data["n_positive"]) if "n_positive" in data else "–"
        lines.append(
            f"| {_group_name(data['group'])} | {_count(data['group_size'])} | {positives} | "
            f"{base} | {rates} | {', '.join(names)} |"
        )
    if len(flagged) > 15:
        lines.append(f"\n{_count(len(flagged) - 15)} more flagged group(s) in the csv.")
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
        Pooled test metrics (long format of :func:`training.bootstrap.evaluate`).
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
            f"- {fold} (fold model): ROC AUC {_fmt(float(auc.iloc[0]) if len(auc) else np.nan)}, "
            f"precision@5 % {_fmt(float(pk.iloc[0]) if len(pk) else np.nan)}"
        )
    audit_text = "\n\n".join(_audit_section(a, t) for a, t in audit.items()) or "No audit table."
    ms = DEFAULT_MIN_SUPPORT
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
  {window.get("as_of_last_labelled", "–")}; {_count(n_rows)} labelled household-weeks of
  {_count(n_households)} households.
- Features: {len(feature_names)} point-in-time aggregates of approved visit records
  and police incidents known before each as-of date (visits, disputes, hazards,
  incidents, context). No names, ID numbers, phones, addresses, notes, ethnicity or
  religion; county, township and village are used for audit and lists only.
- Final model trained on {window.get("final_train_start", "–")} to
  {window.get("final_train_end", "–")}, early-stopped and calibrated on
  {window.get("final_validation_start", "–")} to {window.get("final_validation_end", "–")}.

## Evaluation
**The test metrics below come from the fold models, not from the registered
model.** Each fold model is trained only on weeks before its test weeks
(rolling-origin out-of-time evaluation). The registered final model is
retrained on all labelled data up to the last split
({window.get("final_train_start", "–")} to {window.get("final_validation_end", "–")})
and has no held-out test of its own: its figures are expected to be like the
folds', which is checked only when its own weeks' labels arrive.

Rolling-origin out-of-time folds with a {config.horizon_days}-day gap between
training, validation and test (no label window crosses a split); test rows
{window.get("test_first", "–")} to {window.get("test_last", "–")}, pooled. All
scorers are evaluated on the same test rows. 95 % intervals: paired household
bootstrap, {_count(config.n_bootstrap)} resamples, seed {config.seed}. Capacities: top
{capacities} of households per as-of date and the top {config.capacity_per_township}
per township.

Scorers: `lightgbm` (this model), `logistic` (logistic regression on the same
features), `hand_rule` (most open disputes, most recent first: what an officer
could do by hand){", `oracle` (the simulator's true risk: the ceiling)" if has_oracle else ""}.

{_metrics_table(metrics, models, [m for m in _HEADLINE_METRICS if m in set(metrics["metric"])])}

Brier score and ECE (expected calibration error) in 4 significant figures;
lower is better.

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
Selection: the fold models' top {config.headline_share:.0%} per as-of date on the
test rows. Rates per group and their ratio to a reference group, flagged
outside [0.8, 1.25] (Aequitas convention). The reference group is the largest
group whose every rate is above 0 with enough support; a ratio is judged only
when both groups have at least {ms["rows"]} rows (selection rate), {ms["selected"]} selected
(precision), {ms["negatives"]} negatives (FPR) and {ms["positives"]} positives (FNR), else it
is left unflagged with the reason in the csv. The base rate (share of households with
an escalation) is shown for context: it is a property of the data, not of the
model, and is never a flag.

{audit_text}
"""
