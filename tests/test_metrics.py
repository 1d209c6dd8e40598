"""Unit tests of training.metrics: definitions, top-k rules, bootstrap and the evaluation table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training import bootstrap as B
from training import metrics as M


def _tied_data(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(n), 1)  # many ties
    y = (rng.random(n) < 0.1 + 0.5 * score).astype(int)
    return y, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_ap_brier_agree_with_scikit_learn_with_ties(seed: int) -> None:
    y, score = _tied_data(seed)
    assert M.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert M.average_precision(y, score) == pytest.approx(
        average_precision_score(y, score), abs=1e-12
    )
    assert M.brier(y, score) == pytest.approx(brier_score_loss(y, score), abs=1e-12)


def test_ece_hand_computed_with_bin_edges_closed_on_the_right() -> None:
    # bins of width 0.1: 0.1 belongs to (0, 0.1], 0.15 and 0.2 to (0.1, 0.2], 0.95 to (0.9, 1]
    prob = np.array([0.1, 0.15, 0.2, 0.95])
    y = np.array([0, 1, 0, 1])
    # bin1: |0 - 0.1| * 1; bin2: |0.5 - 0.175| * 2; bin10: |1 - 0.95| * 1; divided by 4
    expected = (0.1 + 2 * 0.325 + 0.05) / 4
    assert M.expected_calibration_error(y, prob) == pytest.approx(expected, abs=1e-12)


def test_ece_is_zero_when_each_bin_frequency_equals_its_mean_probability() -> None:
    prob = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert M.expected_calibration_error(y, prob) == pytest.approx(0.0, abs=1e-12)
    assert M.expected_calibration_error(y, np.full(8, 0.9)) == pytest.approx(0.4, abs=1e-12)


def test_precision_and_recall_at_k_hand_computed_for_shares_and_counts() -> None:
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0, 1, 0])
    assert M.precision_at_k(y, score, 3) == pytest.approx(2 / 3)
    assert M.recall_at_k(y, score, 3) == pytest.approx(2 / 4)
    # a share selects ceil(k * n) rows: 0.25 * 10 -> 3 rows; 0.3 * 10 stays 3 rows
    assert M.precision_at_k(y, score, 0.25) == pytest.approx(2 / 3)
    assert M.precision_at_k(y, score, 0.3) == pytest.approx(2 / 3)
    # a count above the pool selects every row
    assert M.precision_at_k(y, score, 50) == pytest.approx(0.4)
    assert M.recall_at_k(y, score, 1.0) == pytest.approx(1.0)


def test_ties_are_broken_by_the_tiebreak_column_whatever_the_row_order() -> None:
    score = np.array([0.5, 0.5, 0.5, 0.1])
    y = np.array([0, 1, 0, 0])
    hh = np.array(["c", "a", "b", "d"])
    # tie-break ascending: "a" (positive) comes first
    assert M.precision_at_k(y, score, 1, tiebreak=hh) == 1.0
    perm = np.array([3, 2, 0, 1])
    assert M.precision_at_k(y[perm], score[perm], 1, tiebreak=hh[perm]) == 1.0
    # without a tie-break the first row in position wins (stable sort)
    assert M.precision_at_k(y, score, 1) == 0.0
    assert M.precision_at_k(y[[1, 0, 2, 3]], score[[1, 0, 2, 3]], 1) == 1.0


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 5), st.integers(0, 2), st.integers(0, 2)),
        min_size=1,
        max_size=40,
    ),
    k=st.one_of(st.integers(1, 10), st.floats(0.01, 1.0)),
    seed=st.integers(0, 2**16),
)
def test_top_k_metrics_do_not_depend_on_row_order_given_a_unique_tiebreak(
    data: list[tuple[int, int, int, int]], k: float, seed: int
) -> None:
    frame = pd.DataFrame(data, columns=["y", "score", "as_of", "group"])
    frame["hh"] = [f"h{i:03d}" for i in range(len(frame))]
    shuffled = frame.sample(frac=1.0, random_state=seed)
    kw = {"as_of_col": "as_of", "group_col": "group", "tiebreak_col": "hh", "ks": [k]}
    kw["group_ks"] = [k]
    a = M.evaluate_ranking(frame, "score", "y", **kw)  # type: ignore[arg-type]
    b = M.evaluate_ranking(shuffled, "score", "y", **kw)  # type: ignore[arg-type]
    assert a.keys() == b.keys()
    for name in a:
        assert (math.isnan(a[name]) and math.isnan(b[name])) or a[name] == pytest.approx(b[name])


def test_capacity_is_applied_per_as_of_date_and_averaged_over_dates() -> None:
    frame = pd.DataFrame(
        {
            "as_of": ["w1"] * 4 + ["w2"] * 4,
            "score": [0.9, 0.8, 0.2, 0.1, 0.3, 0.25, 0.2, 0.1],
            "y": [1, 1, 0, 1, 0, 1, 0, 0],
        }
    )
    out = M.evaluate_ranking(frame, "score", "y", as_of_col="as_of", ks=[2], group_ks=[])
    # w1 top 2: both positive (precision 1, recall 2/3); w2 top 2: one positive (0.5, 1)
    assert out["precision_at_2"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["recall_at_2"] == pytest.approx((2 / 3 + 1.0) / 2)
    # pooled over dates the top 2 would be the two w1 rows only
    assert M.precision_at_k(frame["y"], frame["score"], 2) == 1.0


def test_per_group_top_k_selects_within_each_group_then_pools() -> None:
    frame = pd.DataFrame(
        {
            "township": ["a"] * 3 + ["b"] * 3,
            "score": [0.9, 0.8, 0.7, 0.3, 0.2, 0.1],
            "y": [0, 0, 1, 1, 0, 1],
        }
    )
    out = M.evaluate_ranking(frame, "score", "y", group_col="township", ks=[2], group_ks=[1])
    # top 1 per township: a -> 0.9 (neg), b -> 0.3 (pos): 1 of 2
    assert out["precision_at_1_per_township"] == pytest.approx(0.5)
    assert out["recall_at_1_per_township"] == pytest.approx(1 / 3)
    assert out["precision_at_2"] == 0.0  # global top 2 are both in township a


@pytest.mark.parametrize("seed", [0, 7])
def test_weighted_kernels_equal_the_metrics_of_explicitly_duplicated_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, score = _tied_data(seed, n=300)
    dates = rng.integers(0, 3, y.size)
    groups = rng.integers(0, 4, y.size)
    w = rng.integers(0, 4, y.size).astype(float)
    idx = np.repeat(np.arange(y.size), w.astype(int))
    weighted = M._Pooled.build(y.astype(float), score, n_bins=10).metrics(w)
    assert weighted["roc_auc"] == pytest.approx(roc_auc_score(y[idx], score[idx]))
    assert weighted["average_precision"] == pytest.approx(
        average_precision_score(y[idx], score[idx])
    )
    assert weighted["brier"] == pytest.approx(brier_score_loss(y[idx], score[idx]))
    assert weighted["ece"] == pytest.approx(M.expected_calibration_error(y[idx], score[idx]))
    seg = M._Segmented.build(y.astype(float), score, dates, groups, None)
    for k in (0.05, 7):
        p, r = seg.at_k(k, w)
        assert p == pytest.approx(
            M.precision_at_k(y[idx], score[idx], k, as_of=dates[idx], group=groups[idx])
        )
        assert r == pytest.approx(
            M.recall_at_k(y[idx], score[idx], k, as_of=dates[idx], group=groups[idx])
        )


def test_bootstrap_fast_path_equals_the_generic_path_for_the_same_seed() -> None:
    y, score = _tied_data(3, n=400)
    fast = B.bootstrap_ci("roc_auc", y, score, n_boot=50, random_state=11)
    slow = B.bootstrap_ci(roc_auc_score, y, score, n_boot=50, random_state=11)
    assert fast.value == pytest.approx(roc_auc_score(y, score))
    assert fast.low == pytest.approx(slow.low)
    assert fast.high == pytest.approx(slow.high)
    assert fast.low < fast.value < fast.high


def test_bootstrap_is_reproducible_for_a_seed_and_resamples_whole_clusters() -> None:
    y, score = _tied_data(4, n=600)
    a = B.bootstrap_ci("average_precision", y, score, n_boot=40, random_state=5)
    assert a == B.bootstrap_ci("average_precision", y, score, n_boot=40, random_state=5)
    # clusters of identical rows: resampling clusters only ever gives whole copies
    clusters = np.arange(y.size) // 3
    yc, sc = np.repeat(y[::3], 3), np.repeat(score[::3], 3)
    c = B.bootstrap_ci("brier", yc, sc, n_boot=40, clusters=clusters, random_state=5)
    r = B.bootstrap_ci("brier", y[::3], score[::3], n_boot=40, random_state=5)
    assert (c.low, c.high) == pytest.approx((r.low, r.high))


def test_evaluate_gives_one_row_per_model_and_metric_with_paired_ratios() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "household_id": [f"h{i % 1000}" for i in range(n)],
            "as_of": np.repeat([1, 2, 3], n // 3),
            "township": rng.choice(["t1", "t2", "t3"], n),
            "oracle": rng.random(n) * 0.4,
        }
    )
    frame["label"] = (rng.random(n) < frame["oracle"]).astype("Int8")
    frame["model"] = np.clip(frame["oracle"] + rng.normal(0, 0.1, n), 0, 1)
    frame["rule"] = rng.integers(0, 3, n)
    out = B.evaluate(
        frame,
        {"lgbm": "model", "hand_rule": "rule", "oracle": "oracle"},
        "label",
        as_of_col="as_of",
        group_col="township",
        cluster_col="household_id",
        tiebreak_col="household_id",
        baseline="hand_rule",
        oracle="oracle",
        n_boot=30,
        random_state=1,
    )
    assert list(out.columns) == ["model", "metric", "value", "ci_low", "ci_high", "n_rows"]
    assert not out.duplicated(["model", "metric"]).any()
    value = {(m, k): float(v) for m, k, v in out[["model", "metric", "value"]].itertuples(False)}
    assert set(out["model"]) == {"lgbm", "hand_rule", "oracle"}
    assert math.isnan(value[("hand_rule", "brier")])  # not a probability
    assert value[("oracle", "ece")] < 0.05
    self_lift = out[(out["model"] == "hand_rule") & (out["metric"] == "lift_precision_at_5pct")]
    assert self_lift[["value", "ci_low", "ci_high"]].to_numpy().tolist() == [[1.0, 1.0, 1.0]]
    assert value[("lgbm", "lift_precision_at_5pct")] > 1.0
    assert value[("oracle", "oracle_share_precision_at_20_per_township")] == 1.0
    finite = out.dropna(subset=["value"])
    assert (finite["ci_low"] <= finite["value"] + 1e-12).all()
    assert (finite["value"] <= finite["ci_high"] + 1e-12).all()
    assert (out["n_rows"] == n).all()


def test_evaluate_is_identical_for_the_same_seed() -> None:
    y, score = _tied_data(5, n=500)
    frame = pd.DataFrame({"y": y, "s": score})
    a = B.evaluate(frame, {"m": "s"}, "y", n_boot=20, random_state=3)
    b = B.evaluate(frame, {"m": "s"}, "y", n_boot=20, random_state=3)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.roc_auc([0, 1, None], [0.1, 0.2, 0.3]), "missing"),
        (lambda: M.roc_auc([0, 2], [0.1, 0.2]), "0 or 1"),
        (lambda: M.roc_auc([0, 1], [0.1, float("nan")]), "finite"),
        (lambda: M.brier([0, 1], [0.1, 1.5]), r"\[0, 1\]"),
        (lambda: M.precision_at_k([0, 1], [0.1, 0.2], 0), "k must be >= 1"),
        (lambda: M.precision_at_k([0, 1], [0.1, 0.2], 1.5), r"\(0, 1\]"),
        (lambda: M.precision_at_k([0, 1], [0.1, 0.2], True), "share"),
        (lambda: B.bootstrap_ci("auc", [0, 1], [0.1, 0.2]), "one of"),
        (
            lambda: B.evaluate(
                pd.DataFrame({"y": [0, 1], "s": [0.1, 0.2]}), {"m": "s"}, "y", baseline="x"
            ),
            "baseline 'x'",
        ),
        (lambda: B.evaluate(pd.DataFrame({"y": [0, 1]}), {"m": "s"}, "y"), "score column 's'"),
    ],
)
def test_bad_inputs_raise_a_metric_input_error_naming_the_problem(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(M.MetricInputError, match=match):
        call()


def test_single_class_labels_give_nan_auc_not_an_error() -> None:
    assert math.isnan(M.roc_auc([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(M.average_precision([0, 0], [0.1, 0.2]))
    assert M.k_label(0.001) == "0.1pct" and M.k_label(0.05) == "5pct" and M.k_label(20) == "20"


def test_capacity_only_bootstrap_draws_equal_the_full_ones_without_the_pooled_metrics() -> None:
    """capacity_only (#12: the evidence bootstrap at 200 000 households took 644 s) changes no draw."""
    from training.bootstrap import bootstrap_draws

    rng = np.random.default_rng(5)
    n_h, weeks = 300, 3
    frame = pd.DataFrame(
        {
            "household_id": np.tile(np.arange(n_h), weeks).astype(str),
            "as_of": np.repeat(np.arange(weeks), n_h),
            "township": (np.tile(np.arange(n_h), weeks) % 7).astype(str),
            "label": (rng.random(n_h * weeks) < 0.05).astype(int),
            "a": rng.random(n_h * weeks),
            "b": rng.random(n_h * weeks),
        }
    )
    kw = dict(
        as_of_col="as_of", group_col="township", cluster_col="household_id",
        tiebreak_col="household_id", ks=[0.01, 0.05, 10], group_ks=[3], n_boot=25, random_state=2,
    )  # fmt: skip
    point, draws = bootstrap_draws(frame, {"a": "a", "b": "b"}, "label", **kw)  # type: ignore[arg-type]
    cpoint, cdraws = bootstrap_draws(
        frame,
        {"a": "a", "b": "b"},
        "label",
        capacity_only=True,
        **kw,  # type: ignore[arg-type]
    )
    assert "roc_auc" in point["a"] and "roc_auc" not in cpoint["a"]
    assert set(cpoint["a"]) == {m for m in point["a"] if "_at_" in m}
    for model in ("a", "b"):
        for metric in cpoint[model]:
            assert cpoint[model][metric] == point[model][metric]
            np.testing.assert_array_equal(cdraws[model][metric], draws[model][metric])


@pytest.mark.parametrize("seed", [0, 5])
def test_resampled_top_k_from_segment_prefixes_equals_the_full_pass(seed: int) -> None:
    # resamples read only the head of each segment (date, or township of a date);
    # the figures must be exactly those of the pass over every sorted row
    rng = np.random.default_rng(seed)
    n_h, n_d = 2000, 4
    hh = np.tile(np.arange(n_h), n_d)
    dates, groups = np.repeat(np.arange(n_d), n_h), hh // 90
    y = (rng.random(hh.size) < 0.05).astype(float)
    score = np.round(rng.random(hh.size), 2)  # many ties, broken by household
    for g, ks in ((None, [0.01, 0.05]), (groups, [20]), (groups, [0.5, 3])):
        seg = M._Segmented.build(y, score, dates, g, hh)
        for _ in range(4):
            w = B._resample_weights(rng, hh.size, hh, n_h)
            assert seg.at_ks(ks, w) == seg._at_ks_full(ks, w)
        assert seg._prefixes  # the prefix path was taken


def test_a_resample_that_empties_a_segments_head_falls_back_to_the_full_pass() -> None:
    y = np.array([1, 0, 1, 0] * 50, dtype=float)
    score = np.linspace(1, 0, y.size)
    seg = M._Segmented.build(y, score, np.zeros(y.size, np.int64), None, None)
    w = np.ones(y.size)
    w[:80] = 0.0  # the prefix (ceil(1.25 * 10) + 32 = 45 rows) holds no weight
    assert seg._at_ks_prefix([0.05], w) is None
    assert seg.at_ks([0.05], w) == seg._at_ks_full([0.05], w)
    kept = np.repeat(np.arange(y.size), w.astype(int))
    assert seg.at_ks([0.05], w)[0][0] == pytest.approx(M.precision_at_k(y[kept], score[kept], 0.05))
