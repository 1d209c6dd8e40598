"""Baselines: the officers' hand rule, logistic regression, the simulator's oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.baselines import (
    BaselineError,
    LogisticBaseline,
    hand_rule_scores,
    oracle_scores,
    resolve_ground_truth_dir,
)


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    open_ = rng.poisson(0.5, n).astype("float64")
    days = rng.uniform(0, 300, n)
    days[rng.random(n) < 0.2] = np.nan
    kind = pd.Categorical(
        np.array(["ordinary", "living_alone", None], dtype=object)[rng.integers(0, 3, n)]
    )
    logit = -2.5 + 1.2 * open_ + 0.8 * (kind == "living_alone")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "household_id": [f"h{i}" for i in range(n)],
            "as_of": pd.Timestamp("2025-03-03", tz="Asia/Shanghai"),
            "disputes_all_open": open_,
            "disputes_all_days_since_last": days,
            "context_all_household_type": kind,
            "label": pd.array(y, dtype="Int8"),
        }
    )


def test_hand_rule_ranks_more_open_disputes_first_then_most_recent() -> None:
    frame = pd.DataFrame(
        {
            "disputes_all_open": [0.0, 2.0, 2.0, 1.0, np.nan],
            "disputes_all_days_since_last": [1.0, 40.0, 3.0, 0.0, np.nan],
        }
    )
    order = np.argsort(-hand_rule_scores(frame), kind="stable")
    assert order.tolist() == [2, 1, 3, 0, 4]


def test_hand_rule_tie_break_never_outranks_an_extra_open_dispute() -> None:
    frame = pd.DataFrame(
        {"disputes_all_open": [1.0, 2.0], "disputes_all_days_since_last": [0.0, 10_000.0]}
    )
    score = hand_rule_scores(frame)
    assert score[1] > score[0]


def test_hand_rule_without_open_disputes_column_says_what_it_expected() -> None:
    with pytest.raises(BaselineError, match="disputes_all_open"):
        hand_rule_scores(pd.DataFrame({"x": [1]}))


def test_logistic_baseline_learns_the_risk_factor_and_ignores_extra_columns() -> None:
    frame = _frame()
    features = ["disputes_all_open", "disputes_all_days_since_last", "context_all_household_type"]
    model = LogisticBaseline(features, random_state=0).fit(frame, frame["label"])
    probe = frame.head(2).copy()
    probe["disputes_all_open"] = [0.0, 3.0]
    proba = model.predict_proba(probe)
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[1, 1] > proba[0, 1]
    # unseen category level and all-missing rows still score
    probe["context_all_household_type"] = pd.Categorical(["never_seen", None])
    assert np.isfinite(model.predict_proba(probe)).all()


def test_logistic_baseline_is_deterministic_for_a_seed() -> None:
    frame = _frame(seed=3)
    features = ["disputes_all_open", "disputes_all_days_since_last", "context_all_household_type"]
    a = LogisticBaseline(features, random_state=5).fit(frame, frame["label"]).predict_proba(frame)
    b = LogisticBaseline(features, random_state=5).fit(frame, frame["label"]).predict_proba(frame)
    np.testing.assert_array_equal(a, b)


def test_logistic_baseline_refuses_single_class_and_unfitted_use() -> None:
    frame = _frame()
    with pytest.raises(BaselineError, match="both classes"):
        LogisticBaseline(["disputes_all_open"]).fit(frame, np.zeros(len(frame)))
    with pytest.raises(BaselineError, match="fit was not called"):
        LogisticBaseline(["disputes_all_open"]).predict_proba(frame)


def test_oracle_scores_join_on_household_and_as_of(tmp_path) -> None:
    frame = _frame(5)
    gt = tmp_path / "sim" / "ground_truth"
    gt.mkdir(parents=True)
    oracle = pd.DataFrame(
        {
            "household_id": ["h3", "h0", "h1"],
            "as_of": [pd.Timestamp("2025-03-03", tz="Asia/Shanghai")] * 2
            + [pd.Timestamp("2025-03-10", tz="Asia/Shanghai")],
            "oracle_prob": [0.3, 0.1, 0.9],
        }
    )
    oracle.to_parquet(gt / "oracle.parquet")
    values = oracle_scores(frame, gt)
    # h1 exists only at another as-of date: no value, never a neighbour's
    np.testing.assert_array_equal(np.isnan(values), [False, True, True, False, True])
    assert values[0] == 0.1 and values[3] == 0.3
    assert resolve_ground_truth_dir(tmp_path, tmp_path / "sim") == gt
    assert resolve_ground_truth_dir(tmp_path, None) is None
    with pytest.raises(BaselineError, match="oracle.parquet"):
        resolve_ground_truth_dir(tmp_path, tmp_path / "nowhere")
