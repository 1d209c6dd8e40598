"""Figures of a policy simulation: tables, intervals across seeds, plots, one MLflow run.

``averted`` of a policy on a seed is ``escalations(none) - escalations(policy)`` on that
seed (same world, common random numbers). Intervals are t intervals across seeds
(95 %, ``mean ± t(n-1) s / sqrt(n)``): with three seeds they are wide on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from simulation.policy.estimate import estimate_effect
from simulation.policy.loop import (
    ALL_POLICIES,
    OUTCOME_DAYS,
    REVISITS_PER_OFFICER_DAY,
    RULES,
    PolicyResult,
)
from simulation.policy.select import ARM_LOTTERY_WIN, ARM_RANKED

SUMMARY_COLUMNS = ("policy", "seed", "escalations", "averted", "revisits")


def interval(values: Any, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t interval across seeds; (mean, nan, nan) for fewer than two values.

    Parameters
    ----------
    values : array-like of float, shape (n_seeds,)
    level : float, default 0.95

    Returns
    -------
    (mean, low, high) : tuple of float
    """
    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def _none_by_seed(results: Sequence[PolicyResult]) -> dict[int, PolicyResult]:
    return {r.config.seed: r for r in results if r.config.policy == "none"}


def summary_frame(results: Sequence[PolicyResult]) -> pd.DataFrame:
    """One row per policy and seed (``DIR/summary.csv``).

    Returns
    -------
    DataFrame
        ``policy, seed, escalations, averted, revisits`` then
        ``averted_per_1000_revisits, officer_days, found_dispute_share,
        active_dispute_share, seconds``.
    """
    base = _none_by_seed(results)
    rows = []
    for r in results:
        none = base[r.config.seed]
        averted = none.escalations - r.escalations
        rows.append(
            {
                "policy": r.config.policy,
                "seed": r.config.seed,
                "escalations": r.escalations,
                "averted": averted,
                "revisits": r.revisits,
                "averted_per_1000_revisits": 1000 * averted / r.revisits if r.revisits else 0.0,
                "officer_days": r.revisits / REVISITS_PER_OFFICER_DAY,
                "found_dispute_share": r.revisits_found_dispute / r.revisits if r.revisits else 0.0,
                "active_dispute_share": r.revisits_active / r.revisits if r.revisits else 0.0,
                "seconds": round(r.seconds, 1),
            }
        )
    order = {p: k for k, p in enumerate(ALL_POLICIES)}
    frame = pd.DataFrame(rows)
    return frame.sort_values(["policy", "seed"], key=lambda s: s.map(order).fillna(s)).reset_index(
        drop=True
    )


def policy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per policy: means and intervals across seeds."""
    rows = []
    for policy, part in summary.groupby("policy", sort=False):
        a, a_lo, a_hi = interval(part["averted"])
        p, p_lo, p_hi = interval(part["averted_per_1000_revisits"])
        rows.append(
            {
                "policy": policy,
                "seeds": len(part),
                "escalations": part["escalations"].mean(),
                "averted": a,
                "averted_low": a_lo,
                "averted_high": a_hi,
                "per_1000_revisits": p,
                "per_1000_low": p_lo,
                "per_1000_high": p_hi,
                "revisits": part["revisits"].mean(),
                "officer_days": part["officer_days"].mean(),
                "found_dispute_share": part["found_dispute_share"].mean(),
                "seconds_per_run": part["seconds"].mean(),
            }
        )
    return pd.DataFrame(rows)


def county_table(results: Sequence[PolicyResult]) -> pd.DataFrame:
    """Per policy and county: escalations and averted (mean, interval across seeds)."""
    base = _none_by_seed(results)
    rows = []
    for r in results:
        none = base[r.config.seed]
        for k, name in enumerate(r.county_names):
            rows.append(
                {
                    "policy": r.config.policy,
                    "seed": r.config.seed,
                    "county": name,
                    "households": int(r.county_households[k]),
                    "escalations": int(r.county_escalations[k]),
                    "averted": int(none.county_escalations[k] - r.county_escalations[k]),
                }
            )
    per_seed = pd.DataFrame(rows)
    out = []
    for (policy, county), part in per_seed.groupby(["policy", "county"], sort=False):
        a, lo, hi = interval(part["averted"])
        hh = part["households"].mean()
        out.append(
            {
                "policy": policy,
                "county": county,
                "households": hh,
                "escalations": part["escalations"].mean(),
                "averted": a,
                "averted_low": lo,
                "averted_high": hi,
                "averted_per_1000_households": 1000 * a / hh if hh else math.nan,
            }
        )
    return pd.DataFrame(out)


def comparisons(summary: pd.DataFrame) -> dict[str, Any]:
    """The goals' figures: model vs the strongest rule (paired by seed) and vs the oracle.

    Also the model's benefit ranking vs its plain risk ranking (``model:risk``), paired
    by seed, when both ran.
    """
    out: dict[str, Any] = {}
    wide = summary.pivot(index="seed", columns="policy", values="averted")
    rules = [r for r in RULES if r in wide.columns]
    if rules:
        best = max(rules, key=lambda r: float(wide[r].to_numpy().mean()))
        out["strongest_rule"] = best
        if "model" in wide.columns:
            diff = (wide["model"] - wide[best]).dropna()
            m, lo, hi = interval(diff.to_numpy())
            out.update(model_minus_rule=m, model_minus_rule_low=lo, model_minus_rule_high=hi)
    if "model" in wide.columns and "model:risk" in wide.columns:
        m, lo, hi = interval((wide["model"] - wide["model:risk"]).dropna().to_numpy())
        out.update(model_minus_risk=m, model_minus_risk_low=lo, model_minus_risk_high=hi)
    if "model" in wide.columns and "oracle" in wide.columns:
        oracle = float(wide["oracle"].mean())
        out["model_share_of_oracle"] = float(wide["model"].mean()) / oracle if oracle else math.nan
    return out


def feedback_table(results: Sequence[PolicyResult]) -> pd.DataFrame:
    """Model policy, per (re)training round: list precision, averted and county spread.

    Precision is the share of listed (ranked) households with an escalation in the
    ``OUTCOME_DAYS`` after the list, from the records: revisits that work lower it.
    The spread is max - min over counties of averted per 1 000 households.
    """
    base = _none_by_seed(results)
    rows = []
    for r in results:
        if not r.config.policy.startswith("model") or not r.rounds:
            continue
        none = base[r.config.seed]
        starts = [int(x["week"]) for x in r.rounds] + [r.config.weeks]
        for k, (lo, hi) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
            listed = r.log[(r.log["week"] >= lo) & (r.log["week"] < hi)]
            listed = listed[listed["arm"].isin([ARM_RANKED, ARM_LOTTERY_WIN])]
            averted_c = (none.weekly_county[lo:hi] - r.weekly_county[lo:hi]).sum(axis=0)
            per_1000 = 1000 * averted_c / np.maximum(r.county_households, 1)
            rows.append(
                {
                    "policy": r.config.policy,
                    "seed": r.config.seed,
                    "round": k,
                    "weeks": f"{lo}-{hi - 1}",
                    "training_rows": r.rounds[k]["rows"],
                    "precision": float((listed["outcome"] > 0).mean()) if len(listed) else math.nan,
                    "averted": int(averted_c.sum()),
                    "county_spread_per_1000": float(per_1000.max() - per_1000.min()),
                }
            )
    return pd.DataFrame(rows)


def estimates_frame(results: Sequence[PolicyResult], random_state: int = 0) -> pd.DataFrame:
    """Revisit-effect estimates per policy, pooled over seeds (households kept apart by seed).

    ``latent_difference`` is the arms' difference in the simulator's expected
    escalations: for ``lottery`` the planted effect on these households; for ``naive``
    the effect plus the arms' difference in risk (under ``--effect zero`` the true
    effect is 0 for both).
    """
    rows = []
    by_policy: dict[str, list[pd.DataFrame]] = {}
    for r in results:
        if len(r.log):
            by_policy.setdefault(r.config.policy, []).append(
                r.log.assign(hh=r.log["hh"] + 10_000_000 * r.config.seed)
            )
    for policy, logs in by_policy.items():
        log = pd.concat(logs, ignore_index=True)
        for name in ("lottery", "naive"):
            est = estimate_effect(log, name, random_state=random_state)
            if est is None:
                continue
            rows.append(
                {
                    "policy": policy,
                    "estimator": name,
                    "estimate": est.estimate,
                    "low": est.low,
                    "high": est.high,
                    "latent_difference": est.truth,
                    "latent_in_interval": est.covers(est.truth),
                    "zero_in_interval": est.covers(0.0),
                    "n_treated": est.n_treated,
                    "n_control": est.n_control,
                    "outcome_days": OUTCOME_DAYS,
                }
            )
    return pd.DataFrame(rows)


def plots(
    results: Sequence[PolicyResult], table: pd.DataFrame, counties: pd.DataFrame
) -> dict[str, Any]:
    """Figures: averted by policy, cumulative averted by week, averted per county.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Keyed by file name (``*.png``).
    """
    from training.plots import LabelFont, _figure

    figs: dict[str, Any] = {}
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    t = table[table["policy"] != "none"]
    err = np.vstack([t["averted"] - t["averted_low"], t["averted_high"] - t["averted"]])
    ax.bar(t["policy"], t["averted"], yerr=np.nan_to_num(err), capsize=4, color="#4C72B0")
    ax.set_ylabel("escalations averted vs none (95% interval across seeds)")
    ax.tick_params(axis="x", rotation=30)
    ax.set_title("Escalations averted by policy")
    figs["averted_by_policy.png"] = fig

    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    base = _none_by_seed(results)
    for policy in table["policy"]:
        if policy == "none":
            continue
        runs = [r for r in results if r.config.policy == policy]
        curves = [
            np.cumsum((base[r.config.seed].weekly_county - r.weekly_county).sum(axis=1))
            for r in runs
        ]
        ax.plot(np.mean(curves, axis=0), label=policy)
    ax.set_xlabel("policy week")
    ax.set_ylabel("cumulative escalations averted")
    ax.legend(fontsize=7)
    figs["averted_by_week.png"] = fig

    font = LabelFont.for_texts(counties["county"].unique())
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    pivot = counties.pivot(index="county", columns="policy", values="averted_per_1000_households")
    pivot = pivot.drop(columns=[c for c in ("none",) if c in pivot.columns])
    width = 0.8 / max(1, pivot.shape[1])
    x = np.arange(pivot.shape[0])
    for k, policy in enumerate(pivot.columns):
        ax.bar(x + k * width, pivot[policy].to_numpy(), width, label=policy)
    ax.set_xticks(x + 0.4 - width / 2, [font.text(c) for c in pivot.index], rotation=30)
    for label in ax.get_xticklabels():
        label.set_fontfamily(font.family)
    ax.set_ylabel("averted per 1 000 households")
    ax.legend(fontsize=7)
    ax.set_title("Averted by county")
    figs["averted_by_county.png"] = fig
    return figs


def log_run(
    tracking_uri: str,
    artifact_location: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    out_dir: Path,
    figures: dict[str, Any],
) -> str:
    """Log one MLflow run (experiment ``policy-simulation``) and return its id.

    Parameters
    ----------
    tracking_uri : str
        MLflow tracking URI.
    artifact_location : str
        Artifact root of the experiment when it is created.
    params, metrics : dict
        Run parameters and numeric metrics (NaN metrics are skipped).
    out_dir : Path
        Its csv files are logged as artifacts.
    figures : dict of str to Figure
        Logged under ``plots/``.
    """
    import mlflow

    from models.pyfunc import mlflow_uris

    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("policy-simulation")
    exp_id = (
        exp.experiment_id
        if exp is not None
        else client.create_experiment("policy-simulation", artifact_location=artifact_location)
    )
    with mlflow_uris(tracking_uri), mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        for path in sorted(out_dir.glob("*.csv")):
            mlflow.log_artifact(str(path))
        for name, fig in figures.items():
            mlflow.log_figure(fig, f"plots/{name}")
        return str(run.info.run_id)
