"""Evidence figures: strongest officer rule per capacity, paired lifts, test size, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.evidence import (
    NO_PRIOR,
    add_officer_rules,
    calibration_summary,
    compare_with_rules,
    top_decile_reliability,
    wilson_interval,
)
from training.evidence import (
    test_size as size_table,
)


def _scored(seed: int, n_households: int = 600, weeks: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hh = np.repeat([f"h{i:04d}" for i in range(n_households)], weeks)
    as_of = np.tile(
        pd.date_range("2026-01-05", periods=weeks, freq="W-MON", tz="Asia/Shanghai"), n_households
    )
    risk = np.repeat(rng.gamma(0.5, 0.04, n_households), weeks)
    y = (rng.random(hh.size) < risk).astype(int)
    prior = np.repeat(rng.random(n_households) < 0.2, weeks)
    return pd.DataFrame(
        {
            "household_id": hh,
            "as_of": as_of,
            "township": np.repeat(rng.choice(["a", "b", "c"], n_households), weeks),
            "label": y,
            NO_PRIOR: ~prior,
            "lightgbm": np.clip(risk + rng.normal(0, 0.005, hh.size), 0, 1),  # knows the risk
            "rule_prior_escalations": prior.astype(float) + rng.random(hh.size) * 1e-3,
            "hand_rule": rng.random(hh.size),  # noise
            "rule_combined": risk * 0.5 + rng.normal(0, 0.02, hh.size),  # weaker signal
        }
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_strongest_rule_is_the_rule_with_highest_precision_and_lift_is_over_it(seed: int) -> None:
    scored = _scored(seed)
    cmp = compare_with_rules(scored, ["lightgbm"], ks=[0.05], group_ks=[20], n_boot=50)
    rules = cmp.rules[
        (cmp.rules["segment"] == "all") & (cmp.rules["metric"] == "precision_at_5pct")
    ]
    best = rules.sort_values("value").iloc[-1]
    row = cmp.lift("lightgbm", "precision_at_5pct")
    assert row["strongest_rule"] == best["rule"]
    assert row["lift"] == pytest.approx(row["value"] / best["value"])
    assert row["lift_low"] <= row["lift"] <= row["lift_high"]
    assert row["diff_low"] <= row["diff"] <= row["diff_high"]
    # both segments and the per-township capacity are judged
    assert set(cmp.table["segment"]) == {"all", NO_PRIOR}
    assert "precision_at_20_per_township" in set(cmp.table["metric"])


def test_a_model_identical_to_the_strongest_rule_has_lift_exactly_one_in_every_resample() -> None:
    scored = _scored(3)
    scored["copy"] = scored["rule_combined"]
    scored["hand_rule"] = -scored["rule_combined"]  # the worst possible: never the strongest
    cmp = compare_with_rules(scored, ["copy"], ks=[0.05], group_ks=[20], n_boot=30)
    row = cmp.lift("copy", "precision_at_5pct")
    if row["strongest_rule"] == "combined":
        assert (row["lift"], row["lift_low"], row["lift_high"]) == (1.0, 1.0, 1.0)


def test_test_size_counts_rows_households_and_positive_events_per_segment() -> None:
    scored = _scored(4, n_households=50, weeks=3)
    sizes = size_table(scored).set_index("segment")
    assert sizes.loc["all", "rows"] == 150 and sizes.loc["all", "households"] == 50
    assert sizes.loc["all", "positives"] == scored["label"].sum()
    seg = scored[scored[NO_PRIOR]]
    assert sizes.loc[NO_PRIOR, "households"] == seg["household_id"].nunique()
    assert sizes.loc[NO_PRIOR, "positives"] == seg["label"].sum()


def test_officer_rules_and_no_prior_flag_come_from_the_feature_rows() -> None:
    test = pd.DataFrame(
        {
            "incidents_all_escalations": [0, 2, 1],
            "incidents_all_days_since_last_escalation": [np.nan, 10, 3],
            "disputes_all_open": [3, 0, 1],
            "disputes_all_days_since_last": [1, np.nan, 5],
            "incidents_365d_escalations": [0, 0, 1],
            "incidents_90d_count": [2, 0, 0],
        }
    )
    out = add_officer_rules(pd.DataFrame({"k": [1, 2, 3]}), test)
    assert out[NO_PRIOR].tolist() == [True, False, False]
    assert np.argmax(out["rule_prior_escalations"]) == 1
    assert np.argmax(out["hand_rule"]) == 0
    assert np.argmax(out["rule_combined"]) == 2


def test_calibration_slope_is_one_for_calibrated_scores_and_below_one_for_overconfident() -> None:
    rng = np.random.default_rng(0)
    n = 40_000
    p = rng.beta(0.5, 10, n)
    frame = pd.DataFrame(
        {
            "household_id": [f"h{i}" for i in range(n)],
            "as_of": pd.Timestamp("2026-01-05", tz="Asia/Shanghai"),
            "label": (rng.random(n) < p).astype(int),
            "p": p,
        }
    )
    good = calibration_summary(frame, "p")
    assert good["calibration_slope"] == pytest.approx(1.0, abs=0.1)
    assert good["calibration_intercept"] == pytest.approx(0.0, abs=0.3)
    assert good["observed_top_1pct"] == frame.nlargest(400, "p")["label"].sum()
    assert good["expected_top_1pct"] == pytest.approx(frame.nlargest(400, "p")["p"].sum())
    logit = np.log(p / (1 - p))
    frame["extreme"] = 1 / (1 + np.exp(-2 * logit))
    assert calibration_summary(frame, "extreme")["calibration_slope"] < 0.7


def test_top_decile_reliability_bins_hold_only_top_decile_rows_with_wilson_bounds() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"label": rng.integers(0, 2, 1000), "p": rng.random(1000)})
    table = top_decile_reliability(frame, "p", n_bins=5)
    assert table["rows"].sum() == 100
    assert table["mean_predicted"].is_monotonic_increasing
    assert (table["observed_low"] <= table["observed_rate"]).all()
    assert (table["observed_rate"] <= table["observed_high"]).all()
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_report_files_table_and_card_section_name_the_strongest_rule(tmp_path) -> None:
    from training.evidence import summarise
    from training.evidence_report import card_section, lift_table_text, write_evidence

    evidence = summarise(
        _scored(6), ["lightgbm"], ["lightgbm"], ks=[0.05], group_ks=[20], n_boot=20,
        random_state=0,
    )  # fmt: skip
    written = {p.name for p in write_evidence(evidence, tmp_path)}
    assert {"lift_vs_strongest_rule.csv", "test_size.csv", "reliability_top_decile.png"} <= written
    text = lift_table_text(evidence.comparison)
    card = card_section(evidence)
    rule = evidence.comparison.lift("lightgbm", "precision_at_5pct")["strongest_rule"]
    assert rule in text and rule in card and "## Against the officers' rules" in card
    metrics = evidence.metrics()
    assert "test.lift_vs_rule.lightgbm.precision_at_5pct.ci_low" in metrics
    assert evidence.tags()["test.strongest_rule.precision_at_5pct"] == rule
