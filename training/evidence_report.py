"""How a run's evidence is shown: text table, files, reliability figure, model-card section.

The figures themselves are computed by :mod:`training.evidence`; this module only
renders them (aggregates only: no household id).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from training.evidence import RuleComparison, RunEvidence

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def lift_table_text(comparison: RuleComparison, models: Sequence[str] | None = None) -> str:
    """Plain-text table of lifts over the strongest rule (for the CLI, README and model card).

    Returns
    -------
    str
        One line per (segment, capacity, model): the rule, its precision, the
        model's precision and the lift with its 95 % interval.
    """
    t = comparison.table
    if models is not None:
        t = t[t["model"].isin(list(models))]
    lines = [
        f"{'segment':<20} {'capacity':<30} {'strongest rule':<18} {'rule':>6} "
        f"{'model':<10} {'prec.':>6} {'lift [95% CI]':>20}"
    ]
    for r in t.to_dict("records"):
        interval = (
            f"{r['lift']:.2f} [{r['lift_low']:.2f}, {r['lift_high']:.2f}]"
            if np.isfinite(r["lift"])
            else "–"
        )
        lines.append(
            f"{r['segment']:<20} {r['metric']:<30} {r['strongest_rule']:<18} "
            f"{r['rule_value']:>6.3f} {r['model']:<10} {r['value']:>6.3f} {interval:>20}"
        )
    return "\n".join(lines)


def write_evidence(evidence: RunEvidence, out: Path) -> list[Path]:
    """Write the evidence's tables and the top-decile reliability figure into ``out``.

    Files: ``lift_vs_strongest_rule.csv`` / ``.txt``, ``officer_rules.csv``,
    ``test_size.csv``, ``calibration_top.csv``, ``reliability_top_decile.csv`` / ``.png``.

    Returns
    -------
    list of Path
        The files written.
    """
    from training.plots import save_figure

    out = Path(out)
    written = []
    for name, table in (
        ("lift_vs_strongest_rule.csv", evidence.comparison.table),
        ("officer_rules.csv", evidence.comparison.rules),
        ("test_size.csv", evidence.sizes),
        ("reliability_top_decile.csv", evidence.reliability),
    ):
        table.to_csv(out / name, index=False)
        written.append(out / name)
    calib = pd.DataFrame([{"model": m, **figures} for m, figures in evidence.calibration.items()])
    calib.to_csv(out / "calibration_top.csv", index=False)
    (out / "lift_vs_strongest_rule.txt").write_text(
        lift_table_text(evidence.comparison) + "\n", encoding="utf-8"
    )
    written += [out / "calibration_top.csv", out / "lift_vs_strongest_rule.txt"]
    save_figure(plot_reliability(evidence.reliability), out / "reliability_top_decile.png")
    written.append(out / "reliability_top_decile.png")
    return written


def plot_reliability(table: pd.DataFrame) -> Figure:
    """Reliability of the top decile: mean predicted vs observed rate with Wilson intervals.

    Parameters
    ----------
    table : DataFrame
        :func:`top_decile_reliability`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as _Figure

    fig = _Figure(figsize=(5.5, 5.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if not table.empty:
        x = table["mean_predicted"].to_numpy()
        obs = table["observed_rate"].to_numpy()
        err = np.vstack(
            [obs - table["observed_low"].to_numpy(), table["observed_high"].to_numpy() - obs]
        )
        ax.errorbar(x, obs, yerr=err, fmt="o", capsize=3, label="observed (Wilson 95 %)")
        top = float(max(x.max(), table["observed_high"].max(), 1e-3)) * 1.1
        ax.plot([0, top], [0, top], "--", color="grey", label="perfect calibration")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted probability (bin of the top decile)")
    ax.set_ylabel("observed escalation rate")
    ax.set_title("Reliability of the top 10 % of scores")
    ax.legend(loc="upper left")
    return fig


def card_section(evidence: RunEvidence) -> str:
    """Markdown section of the model card: test size, the strongest rule and the lifts, calibration.

    Returns
    -------
    str
        Starts with ``## Against the officers' rules``; aggregates only.
    """
    lines = ["## Against the officers' rules", ""]
    lines.append("Test size (pooled out-of-time test weeks):")
    lines.append("")
    lines.append("| segment | rows | households | positive rows | households with an event |")
    lines.append("|---|---:|---:|---:|---:|")
    for r in evidence.sizes.to_dict("records"):
        lines.append(
            f"| {r['segment']} | {r['rows']:,} | {r['households']:,} | {r['positives']:,} | "
            f"{r['positive_households']:,} |"
        )
    lines += [
        "",
        "Lift over the strongest officer rule at each capacity (paired household bootstrap, "
        "95 %); `no_prior_escalation` ranks only households with no escalation before the "
        "as-of date:",
        "",
        "| segment | capacity | strongest rule | rule | model | precision | lift [95 %] |",
        "|---|---|---|---:|---|---:|---|",
    ]
    for r in evidence.comparison.table.to_dict("records"):
        lift = (
            f"{r['lift']:.2f} [{r['lift_low']:.2f}, {r['lift_high']:.2f}]"
            if np.isfinite(r["lift"])
            else "–"
        )
        lines.append(
            f"| {r['segment']} | {r['metric']} | {r['strongest_rule']} | {r['rule_value']:.3f} | "
            f"{r['model']} | {r['value']:.3f} | {lift} |"
        )
    lines += ["", "Calibration where it matters (top bands of each as-of date):", ""]
    lines.append(
        "| model | slope | intercept | top 1 %: observed / expected | top 5 %: observed / expected |"
    )
    lines.append("|---|---:|---:|---:|---:|")
    for model, f in evidence.calibration.items():
        lines.append(
            f"| {model} | {f.get('calibration_slope', math.nan):.2f} | "
            f"{f.get('calibration_intercept', math.nan):.2f} | "
            f"{f.get('observed_top_1pct', math.nan):.0f} / {f.get('expected_top_1pct', math.nan):.1f} | "
            f"{f.get('observed_top_5pct', math.nan):.0f} / {f.get('expected_top_5pct', math.nan):.1f} |"
        )
    return "\n".join(lines) + "\n"
