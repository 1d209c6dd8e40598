"""Evidence of a training run: the officers' rules as the yardstick, honest sizes and calibration.

Every run scores, on the same out-of-time test rows, the LightGBM model, the
logistic regression, the three officers' rules of :mod:`training.baselines`
(prior escalations; open disputes; the combined rule) and, on simulated data,
the oracle (DESIGN.md, "Evaluation"; issue #13). This module turns those scores
into the figures a sceptical reviewer asks for:

* **The strongest rule at each capacity** (top 1 %, top 5 % of each as-of date,
  top 20 per township): the rule with the highest precision@k on the test rows.
  It is chosen on the point estimates, then held fixed in every bootstrap
  resample (choosing it again per resample would be a different, optimistic
  yardstick).
* **Paired lift over it**: ``precision@k(model) / precision@k(strongest rule)``
  with a household-clustered paired bootstrap interval (all scorers are
  evaluated on the same resampled households: :func:`training.bootstrap.bootstrap_draws`),
  overall and within households with no prior escalation (the first-time
  escalations a list of "who escalated before" cannot find). The capacity of
  the segment is the same share of the segment's rows of each as-of date.
* **Test size** as rows, distinct households and positive events (rows whose
  label is 1), overall and per segment.
* **Calibration where it matters**: the calibration slope and intercept
  (logistic regression of the label on the logit of the score: Cox 1958; a
  slope of 1 and an intercept of 0 are perfect), observed vs expected events
  in the top 1 % and 5 % of each as-of date, and the top decile's reliability.

Nothing here holds household ids after it returns: tables are aggregates. Their
text, files, figure and model-card section are in ``training.evidence_report``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.baselines import OFFICER_RULES, officer_rule_scores
from training.bootstrap import bootstrap_draws
from training.metrics import KValue, k_label
from warehouse.contract import LABEL_COLUMN

logger = logging.getLogger(__name__)

#: Scorer (column) name of each officer rule in the scored test frame. The open-disputes
#: rule keeps the historical name ``hand_rule`` (run metrics ``test.hand_rule.*``).
RULE_SCORERS: dict[str, str] = {
    "prior-escalations": "rule_prior_escalations",
    "open-disputes": "hand_rule",
    "combined": "rule_combined",
}
#: Boolean column of the scored test frame: the household had no escalation before t.
NO_PRIOR = "no_prior_escalation"
#: Feature that counts a household's escalations before t (``features.catalogue``).
PRIOR_ESCALATIONS_FEATURE = "incidents_all_escalations"
SEGMENTS: tuple[str, ...] = ("all", NO_PRIOR)
#: Top bands whose observed vs expected events are reported (shares of each as-of date).
CALIBRATION_BANDS: tuple[float, ...] = (0.01, 0.05)


class EvidenceError(ValueError):
    """The scored test frame lacks what the evidence needs."""


def add_officer_rules(out: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Add the three officer rules' scores and the no-prior-escalation flag to scored test rows.

    Parameters
    ----------
    out : DataFrame of shape (n_rows, ...)
        Scored test rows (keys, label, model scores), row-aligned with ``test``.
    test : DataFrame of shape (n_rows, n_features)
        The same rows' point-in-time features.

    Returns
    -------
    DataFrame
        ``out`` with one float64 column per ``RULE_SCORERS`` value (a ranking score,
        not a probability) and the bool column ``NO_PRIOR``.

    Raises
    ------
    EvidenceError
        The frames differ in length, or a feature a rule needs is missing.
    """
    if len(out) != len(test):
        raise EvidenceError(f"expected row-aligned frames, got {len(out)} and {len(test)} rows")
    from training.baselines import BaselineError

    result = out.copy()
    try:
        for rule in OFFICER_RULES:
            result[RULE_SCORERS[rule]] = officer_rule_scores(test, rule)
    except BaselineError as err:
        raise EvidenceError(f"cannot score the officers' rules on the test rows: {err}") from err
    prior = pd.to_numeric(test[PRIOR_ESCALATIONS_FEATURE], errors="coerce").fillna(0.0)
    result[NO_PRIOR] = prior.to_numpy(dtype="float64") == 0.0
    return result


def capacity_metrics(ks: Sequence[KValue], group_ks: Sequence[KValue], group_col: str) -> list[str]:
    """Names of the precision@k metrics judged: ``precision_at_1pct``, ``precision_at_20_per_township``."""
    return [f"precision_at_{k_label(k)}" for k in ks] + [
        f"precision_at_{k_label(k)}_per_{group_col}" for k in group_ks
    ]


def test_size(scored: pd.DataFrame) -> pd.DataFrame:
    """Test size per segment: rows, distinct households, positive events, as-of dates.

    Parameters
    ----------
    scored : DataFrame
        Scored test rows with ``household_id``, ``as_of``, the label and ``NO_PRIOR``.

    Returns
    -------
    DataFrame
        One row per segment (``all``, ``no_prior_escalation``) with int64 columns
        ``rows``, ``households``, ``positives`` (rows labelled 1: household-weeks
        followed by an escalation), ``positive_households`` and ``as_of_dates``.
    """
    rows = []
    for segment in SEGMENTS:
        part = scored if segment == "all" else scored[scored[NO_PRIOR].to_numpy(dtype=bool)]
        y = part[LABEL_COLUMN].astype("int64")
        rows.append(
            {
                "segment": segment,
                "rows": len(part),
                "households": int(part["household_id"].nunique()),
                "positives": int(y.sum()),
                "positive_households": int(part.loc[y.to_numpy() == 1, "household_id"].nunique()),
                "as_of_dates": int(part["as_of"].nunique()),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RuleComparison:
    """Every model's paired lift over the strongest officer rule, per segment and capacity.

    Attributes
    ----------
    table : DataFrame
        Long format, one row per (segment, metric, model): ``segment``, ``metric``
        (``precision_at_1pct``...), ``strongest_rule`` (rule name), ``rule_value``
        and ``value`` (precision, probability), ``lift`` (ratio) with ``lift_low``,
        ``lift_high`` (95 % paired household bootstrap), ``diff`` (precision
        difference) with ``diff_low``, ``diff_high``, and ``n_rows``.
    rules : DataFrame
        Every rule's precision@k per segment and metric (``segment``, ``metric``,
        ``rule``, ``value``), to show how the strongest was chosen.
    """

    table: pd.DataFrame
    rules: pd.DataFrame

    def lift(self, model: str, metric: str, segment: str = "all") -> pd.Series:
        """The row of one model, metric and segment (raises ``KeyError`` when absent)."""
        t = self.table
        hit = t[(t["model"] == model) & (t["metric"] == metric) & (t["segment"] == segment)]
        if hit.empty:
            raise KeyError(f"no lift for {model!r}, {metric!r}, {segment!r}")
        return hit.iloc[0]


def _percentile_pair(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(finite, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def compare_with_rules(
    scored: pd.DataFrame,
    models: Sequence[str],
    *,
    ks: Sequence[KValue],
    group_ks: Sequence[KValue],
    group_col: str = "township",
    n_boot: int = 200,
    random_state: int = 0,
) -> RuleComparison:
    """Name the strongest officer rule at each capacity and every model's paired lift over it.

    Parameters
    ----------
    scored : DataFrame of shape (n_rows, ...)
        Scored test rows: ``household_id``, ``as_of``, ``group_col``, the label,
        ``NO_PRIOR``, one column per model and per ``RULE_SCORERS`` value.
    models : sequence of str
        Score columns compared with the rules (e.g. ``lightgbm``, ``logistic``, ``oracle``).
    ks, group_ks : sequences of float or int
        Capacities per as-of date (shares) and per group and date (counts).
    group_col : str
        Group of the per-group capacity.
    n_boot : int
        Household-clustered bootstrap resamples (shared by every scorer: paired).
    random_state : int
        Seed of the resampling.

    Returns
    -------
    RuleComparison

    Raises
    ------
    EvidenceError
        A rule or model column is missing.
    """
    rule_cols = list(RULE_SCORERS.values())
    missing = [c for c in [*rule_cols, *models, NO_PRIOR] if c not in scored.columns]
    if missing:
        raise EvidenceError(f"expected score columns {missing!r} in the scored test rows")
    metrics = capacity_metrics(ks, group_ks, group_col)
    by_col = {col: rule for rule, col in RULE_SCORERS.items()}
    rows, rule_rows = [], []
    for segment in SEGMENTS:
        part = scored if segment == "all" else scored[scored[NO_PRIOR].to_numpy(dtype=bool)]
        part = part.reset_index(drop=True)
        if part.empty or part[LABEL_COLUMN].sum() == 0:
            logger.warning("segment %s has no positive test row: no lift", segment)
            continue
        point, draws = bootstrap_draws(
            part,
            {c: c for c in [*models, *rule_cols]},
            LABEL_COLUMN,
            as_of_col="as_of",
            group_col=group_col,
            cluster_col="household_id",
            tiebreak_col="household_id",
            ks=ks,
            group_ks=group_ks,
            n_boot=n_boot,
            random_state=random_state,
            capacity_only=True,
        )
        for metric in metrics:
            values = {col: point[col][metric] for col in rule_cols}
            for col, v in values.items():
                rule_rows.append(
                    {"segment": segment, "metric": metric, "rule": by_col[col], "value": v}
                )
            best = max(rule_cols, key=lambda c: (np.nan_to_num(values[c], nan=-1.0), c))
            ref, ref_draws = values[best], draws[best][metric]
            for model in models:
                v, d = point[model][metric], draws[model][metric]
                with np.errstate(divide="ignore", invalid="ignore"):
                    lift_draws = np.where(ref_draws > 0, d / ref_draws, np.nan)
                lift_lo, lift_hi = _percentile_pair(lift_draws)
                diff_lo, diff_hi = _percentile_pair(d - ref_draws)
                rows.append(
                    {
                        "segment": segment,
                        "metric": metric,
                        "model": model,
                        "strongest_rule": by_col[best],
                        "rule_value": ref,
                        "value": v,
                        "lift": v / ref if ref > 0 else math.nan,
                        "lift_low": lift_lo,
                        "lift_high": lift_hi,
                        "diff": v - ref,
                        "diff_low": diff_lo,
                        "diff_high": diff_hi,
                        "n_rows": len(part),
                    }
                )
    return RuleComparison(pd.DataFrame(rows), pd.DataFrame(rule_rows))


def top_share_mask(scored: pd.DataFrame, score_col: str, share: float) -> np.ndarray:
    """Rows on the list: the top ``ceil(share * n)`` rows of each as-of date by score.

    Ties are broken by ``household_id`` ascending (as :mod:`training.metrics`).

    Returns
    -------
    ndarray of bool, shape (n_rows,)
    """
    ranked = scored.sort_values([score_col, "household_id"], ascending=[False, True], kind="stable")
    position = ranked.groupby("as_of", sort=False).cumcount()
    size = ranked.groupby("as_of", sort=False)["as_of"].transform("size")
    chosen = position < np.maximum(1, np.ceil(np.round(share * size, 9)))
    return chosen.reindex(scored.index).to_numpy(dtype=bool)


def calibration_summary(
    scored: pd.DataFrame, prob_col: str, bands: Sequence[float] = CALIBRATION_BANDS
) -> dict[str, float]:
    """Calibration slope and intercept, and observed vs expected events in the top bands.

    The slope and intercept are those of a logistic regression of the label on
    ``logit(p)`` (Cox 1958): 1 and 0 for a calibrated score; a slope below 1
    means the scores are too extreme. Expected events in a band are the sum of
    the probabilities of its rows; observed events the sum of their labels.

    Parameters
    ----------
    scored : DataFrame
        Test rows with ``as_of``, ``household_id``, the label and ``prob_col``.
    prob_col : str
        A calibrated probability in [0, 1].
    bands : sequence of float
        Top shares of each as-of date (0.01 = top 1 %).

    Returns
    -------
    dict of str to float
        ``calibration_slope``, ``calibration_intercept`` (log-odds), and for each band
        ``observed_top_{k}``, ``expected_top_{k}`` (events) and ``oe_ratio_top_{k}``.
    """
    from sklearn.linear_model import LogisticRegression

    y = scored[LABEL_COLUMN].to_numpy(dtype="float64")
    p = np.clip(scored[prob_col].to_numpy(dtype="float64"), 1e-6, 1 - 1e-6)
    out: dict[str, float] = {}
    if np.unique(y).size == 2:
        logit = np.log(p / (1 - p)).reshape(-1, 1)
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit, y.astype(int))
        out["calibration_slope"] = float(fit.coef_[0, 0])
        out["calibration_intercept"] = float(fit.intercept_[0])
    for share in bands:
        on = top_share_mask(scored, prob_col, share)
        observed, expected = float(y[on].sum()), float(p[on].sum())
        label = k_label(share)
        out[f"observed_top_{label}"] = observed
        out[f"expected_top_{label}"] = expected
        out[f"oe_ratio_top_{label}"] = observed / expected if expected > 0 else math.nan
    return out


def top_decile_reliability(scored: pd.DataFrame, prob_col: str, n_bins: int = 5) -> pd.DataFrame:
    """Reliability of the top decile of scores: mean predicted vs observed rate in equal-count bins.

    Parameters
    ----------
    scored : DataFrame
        Test rows with the label and ``prob_col`` (probability).
    prob_col : str
        Probability column.
    n_bins : int
        Equal-count bins of the top 10 % of rows (pooled over as-of dates).

    Returns
    -------
    DataFrame
        One row per bin, lowest first: ``bin``, ``rows``, ``positives`` (int64),
        ``mean_predicted``, ``observed_rate`` (probabilities), ``observed_low``,
        ``observed_high`` (Wilson 95 % interval of the observed rate).
    """
    p = scored[prob_col].to_numpy(dtype="float64")
    y = scored[LABEL_COLUMN].to_numpy(dtype="float64")
    order = np.argsort(-p, kind="stable")[: max(1, int(np.ceil(0.1 * len(p))))]
    chunks = np.array_split(order[::-1], n_bins)
    rows = []
    for i, idx in enumerate(chunks):
        if idx.size == 0:
            continue
        n, k = idx.size, float(y[idx].sum())
        lo, hi = wilson_interval(k, n)
        rows.append(
            {
                "bin": i + 1,
                "rows": n,
                "positives": int(k),
                "mean_predicted": float(p[idx].mean()),
                "observed_rate": k / n,
                "observed_low": lo,
                "observed_high": hi,
            }
        )
    return pd.DataFrame(rows)


def wilson_interval(k: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (Wilson 1927); ``(nan, nan)`` when n = 0."""
    if n <= 0:
        return math.nan, math.nan
    phat = k / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def evidence_metrics(
    comparison: RuleComparison, sizes: pd.DataFrame, calibration: Mapping[str, dict[str, float]]
) -> dict[str, float]:
    """Flat MLflow metrics of the evidence (no personal data).

    Keys: ``test.size.{segment}.{rows|households|positives}``,
    ``test.lift_vs_rule.{model}.{metric}[.ci_low|.ci_high]`` (segment ``all``),
    ``test.no_prior.lift_vs_rule.{model}.{metric}[...]``,
    ``test.strongest_rule.{metric}`` (the rule's precision), and
    ``test.{model}.{calibration figure}``.
    """
    out: dict[str, float] = {}
    for r in sizes.to_dict("records"):
        for key in ("rows", "households", "positives", "positive_households", "as_of_dates"):
            out[f"test.size.{r['segment']}.{key}"] = float(r[key])
    for r in comparison.table.to_dict("records"):
        prefix = "test" if r["segment"] == "all" else "test.no_prior"
        base = f"{prefix}.lift_vs_rule.{r['model']}.{r['metric']}"
        for suffix, col in (
            ("", "lift"),
            (".ci_low", "lift_low"),
            (".ci_high", "lift_high"),
            (".diff", "diff"),
            (".diff_ci_low", "diff_low"),
            (".diff_ci_high", "diff_high"),
        ):
            if np.isfinite(r[col]):
                out[base + suffix] = float(r[col])
        out[f"{prefix}.strongest_rule.{r['metric']}"] = float(r["rule_value"])
        out[f"{prefix}.{r['model']}.{r['metric']}"] = float(r["value"])
    for model, figures in calibration.items():
        for key, value in figures.items():
            if np.isfinite(value):
                out[f"test.{model}.{key}"] = float(value)
    return out


def strongest_rule_tags(comparison: RuleComparison) -> dict[str, str]:
    """MLflow tags naming the strongest rule per segment and capacity (``test.strongest_rule.<metric>``)."""
    out: dict[str, str] = {}
    t = comparison.table.drop_duplicates(["segment", "metric"])
    for r in t.to_dict("records"):
        prefix = "test" if r["segment"] == "all" else "test.no_prior"
        out[f"{prefix}.strongest_rule.{r['metric']}"] = str(r["strongest_rule"])
    return out


@dataclass(frozen=True)
class RunEvidence:
    """All evidence figures of one run's pooled test rows (aggregates only).

    Attributes
    ----------
    comparison : RuleComparison
        Strongest rule per capacity and each model's paired lift over it.
    sizes : DataFrame
        :func:`test_size`.
    calibration : dict of str to dict of str to float
        :func:`calibration_summary` per probability model.
    reliability : DataFrame
        :func:`top_decile_reliability` of the LightGBM model.
    """

    comparison: RuleComparison
    sizes: pd.DataFrame
    calibration: dict[str, dict[str, float]]
    reliability: pd.DataFrame

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics (:func:`evidence_metrics`)."""
        return evidence_metrics(self.comparison, self.sizes, self.calibration)

    def tags(self) -> dict[str, str]:
        """MLflow tags naming the strongest rule at each capacity."""
        return strongest_rule_tags(self.comparison)


def summarise(
    scored: pd.DataFrame,
    models: Sequence[str],
    probability_models: Sequence[str],
    *,
    ks: Sequence[KValue],
    group_ks: Sequence[KValue],
    n_boot: int,
    random_state: int,
    main_model: str = "lightgbm",
) -> RunEvidence:
    """Every evidence figure of a run's pooled test rows.

    Parameters
    ----------
    scored : DataFrame
        Pooled scored test rows (see :func:`compare_with_rules`).
    models : sequence of str
        Scorers compared with the rules (not the rules themselves).
    probability_models : sequence of str
        Scorers whose score is a calibrated probability (calibration figures).
    ks, group_ks, n_boot, random_state
        As :func:`compare_with_rules`.
    main_model : str
        The model whose top decile's reliability is reported.

    Returns
    -------
    RunEvidence
    """
    comparison = compare_with_rules(
        scored, models, ks=ks, group_ks=group_ks, n_boot=n_boot, random_state=random_state
    )
    calibration = {m: calibration_summary(scored, m) for m in probability_models}
    return RunEvidence(
        comparison=comparison,
        sizes=test_size(scored),
        calibration=calibration,
        reliability=top_decile_reliability(scored, main_model),
    )
