"""Tests of reasons: pred_contrib on the rows asked for only, the planted risk
factor as top reason, texts in English and Chinese, unreadable values skipped."""

from __future__ import annotations

import re

import numpy as np
import pytest

from features.spec import FeatureSpec
from models.reasons import Reason, load_catalogue, make_reason, reads_badly, top_reasons
from models.risk_model import EscalationModel
from tests.test_model_risk import SMALL, synthetic_frame

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def model_and_test():
    X, _ = synthetic_frame(4000, 21)
    X_val, _ = synthetic_frame(3000, 22)
    X_test, _ = synthetic_frame(2000, 23)
    model = EscalationModel(**SMALL).fit(X, X["label"], X_val, X_val["label"])
    return model, X_test


def spec(name: str, en: str, zh: str, **kw) -> FeatureSpec:
    return FeatureSpec(name, "disputes", "visits", "90d", "count", "float", "test", en, zh, **kw)


def test_explain_computes_contributions_only_for_the_rows_given(
    model_and_test, monkeypatch
) -> None:
    model, X = model_and_test
    calls: list[tuple[int, bool]] = []
    original = model.booster_.predict

    def spy(data, *args, **kwargs):
        calls.append((len(data), bool(kwargs.get("pred_contrib"))))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(model.booster_, "predict", spy)
    reasons = model.explain(X.iloc[[5, 17, 400]])
    assert len(reasons) == 3
    assert calls == [(3, True)]


def test_explain_of_a_subset_equals_the_same_rows_of_a_full_explain(model_and_test) -> None:
    model, X = model_and_test
    full = model.explain(X.head(60))
    subset = model.explain(X.iloc[[10, 50]])
    assert subset == [full[10], full[50]]


def test_top_reason_is_the_planted_risk_factor(model_and_test) -> None:
    model, X = model_and_test
    high = X[X["disputes_90d_unresolved"] >= 3]
    assert len(high) >= 20
    reasons = model.explain(high, top_k=3)
    top = [r[0].feature if r else None for r in reasons]
    share = np.mean([t == "disputes_90d_unresolved" for t in top])
    assert share >= 0.9, top
    first = reasons[0][0]
    assert first.code == "DISPUTES_90D_UNRESOLVED"
    assert first.value == high["disputes_90d_unresolved"].iloc[0]
    assert first.contribution > 0


def test_reasons_are_sorted_positive_and_at_most_top_k(model_and_test) -> None:
    model, X = model_and_test
    for row in model.explain(X.head(200), top_k=2):
        assert len(row) <= 2
        contributions = [r.contribution for r in row]
        assert all(c > 0 for c in contributions)
        assert contributions == sorted(contributions, reverse=True)


def test_every_reason_has_english_and_chinese_text(model_and_test) -> None:
    model, X = model_and_test
    reasons = [r for row in model.explain(X.head(200)) for r in row]
    assert reasons
    catalogue = load_catalogue()
    for reason in reasons:
        assert reason.text_en and reason.text_zh
        if reason.feature in catalogue:
            assert CJK.search(reason.text_zh), reason
            assert reason.text_en != reason.text_zh
        else:
            assert reason.text_en.startswith(f"{reason.feature} = "), reason


def test_top_k_zero_and_empty_frames_give_nothing(model_and_test) -> None:
    model, X = model_and_test
    assert model.explain(X.head(3), top_k=0) == [[], [], []]
    assert model.explain(X.head(0)) == []
    with pytest.raises(ValueError, match="top_k.*-1"):
        model.explain(X.head(3), top_k=-1)


def test_catalogue_templates_format_value_in_both_languages() -> None:
    catalogue = {
        "disputes_90d_unresolved": spec(
            "disputes_90d_unresolved",
            "{value:g} unresolved marriage/family disputes in the last 90 days",
            "近90天未化解婚恋家庭纠纷{value:g}起",
        )
    }
    reason = make_reason("disputes_90d_unresolved", 2.0, 0.7, catalogue)
    assert reason.text_en == "2 unresolved marriage/family disputes in the last 90 days"
    assert reason.text_zh == "近90天未化解婚恋家庭纠纷2起"
    assert reason.code == "DISPUTES_90D_UNRESOLVED"


def test_features_missing_from_the_catalogue_get_generic_text() -> None:
    reason = make_reason("some_new_feature", 4.5, 0.2, {})
    assert reason.text_en == "some_new_feature = 4.5"
    assert reason.text_zh == "some_new_feature = 4.5"


def test_category_reason_shows_the_label_in_each_language() -> None:
    catalogue = {
        "context_all_household_type": spec(
            "context_all_household_type", "household type: {value}", "户类型：{value}"
        )
    }
    reason = make_reason("context_all_household_type", "living_alone", 0.3, catalogue)
    assert reason.text_en == "household type: living alone"
    assert reason.text_zh == "户类型：独居户"
    assert CJK.search(reason.text_zh)


def test_template_that_cannot_take_the_value_falls_back_instead_of_failing() -> None:
    catalogue = {"x": spec("x", "{value:g} things", "{value:g}件")}
    reason = make_reason("x", "a_label", 0.1, catalogue)
    assert reason.text_en == "x = a_label"


def test_missing_zero_and_negative_contributions_are_never_reasons() -> None:
    names = ["zero", "missing", "negative", "good"]
    contributions = np.array([[0.9, 0.8, -0.5, 0.1, 0.0]])  # last column: LightGBM's bias
    values: list[list[float | str | None]] = [[0.0, None, 5.0, 2.0]]
    reasons = top_reasons(contributions, values, names, top_k=3, catalogue={})
    assert [r.feature for r in reasons[0]] == ["good"]
    assert isinstance(reasons[0][0], Reason)


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        (None, True),
        (float("nan"), True),
        (0.0, True),
        (1e-12, True),
        ("", True),
        (3.0, False),
        ("living_alone", False),
    ],
)
def test_reads_badly(value, bad: bool) -> None:
    assert reads_badly(value) is bad


def test_features_not_eligible_as_reasons_are_skipped_and_the_next_eligible_ones_taken() -> None:
    names = ["quality", "rate", "count_a", "count_b", "count_c"]
    catalogue = {
        "quality": spec("quality", "{value:g} late", "迟{value:g}天", reason=False),
        "rate": spec("rate", "{value:.0%} of neighbours", "邻居{value:.0%}", reason=False),
        "count_a": spec("count_a", "{value:g} a", "甲{value:g}次"),
        "count_b": spec("count_b", "{value:g} b", "乙{value:g}次"),
        "count_c": spec("count_c", "{value:g} c", "丙{value:g}次"),
    }
    contributions = np.array([[2.0, 1.5, 0.3, 0.2, 0.1, 0.0]])
    values: list[list[float | str | None]] = [[0.4, 0.6, 1.0, 2.0, 3.0]]
    reasons = top_reasons(contributions, values, names, top_k=2, catalogue=catalogue)
    assert [r.feature for r in reasons[0]] == ["count_a", "count_b"]


@pytest.mark.parametrize(
    ("value", "shown"), [(30.0, True), (90.0, True), (90.5, False), (400.0, False)]
)
def test_reason_max_hides_values_above_it(value: float, shown: bool) -> None:
    catalogue = {"d": spec("d", "last {value:.0f} days ago", "{value:.0f}天", reason_max=90.0)}
    reasons = top_reasons(np.array([[1.0]]), [[value]], ["d"], top_k=3, catalogue=catalogue)
    assert bool(reasons[0]) is shown


def test_zero_is_a_reason_only_where_the_catalogue_declares_a_lower_bound() -> None:
    bounded = {"s": spec("s", "{value:.0%} resolved", "化解率{value:.0%}", reason_min=0.0)}
    unbounded = {"s": spec("s", "{value:.0%} resolved", "化解率{value:.0%}")}
    for catalogue, expected in ((bounded, ["0% resolved"]), (unbounded, [])):
        reasons = top_reasons(np.array([[1.0]]), [[0.0]], ["s"], top_k=3, catalogue=catalogue)
        assert [r.text_en for r in reasons[0]] == expected


def test_singular_template_is_used_for_one_and_plural_otherwise() -> None:
    catalogue = {
        "e": spec(
            "e",
            "{value:g} prior escalations",
            "过激事件{value:g}起",
            reason_en_one="1 prior escalation",
        )
    }
    assert make_reason("e", 1.0, 0.5, catalogue).text_en == "1 prior escalation"
    assert make_reason("e", 2.0, 0.5, catalogue).text_en == "2 prior escalations"
    assert make_reason("e", 1.0, 0.5, catalogue).text_zh == "过激事件1起"


def test_whole_days_are_calendar_days_rounded_up_and_the_value_is_kept() -> None:
    catalogue = {
        "d": spec(
            "d",
            "last escalation {value:.0f} days ago",
            "距上次过激事件{value:.0f}天",
            reason_en_one="last escalation 1 day ago",
            whole_days=True,
        )
    }
    yesterday = make_reason("d", 0.3, 0.5, catalogue)
    assert yesterday.text_en == "last escalation 1 day ago"
    assert yesterday.text_zh == "距上次过激事件1天"
    assert yesterday.value == 0.3
    assert make_reason("d", 4.2, 0.5, catalogue).text_en == "last escalation 5 days ago"


def test_real_catalogue_never_explains_with_record_keeping_features() -> None:
    catalogue = load_catalogue()
    hidden = [n for n, s in catalogue.items() if not s.reason]
    assert {n for n in hidden if n.startswith("quality_")} == {
        n for n in catalogue if n.startswith("quality_")
    }
    assert "visits_90d_count" in hidden and "context_365d_village_dispute_rate" in hidden
    assert "visits_all_days_since_last" not in hidden
    names = hidden[:3] + ["disputes_all_open"]
    contributions = np.array([[3.0, 2.0, 1.0, 0.5, 0.0]])
    reasons = top_reasons(
        contributions, [[5.0, 5.0, 5.0, 2.0]], names, top_k=3, catalogue=catalogue
    )
    assert [r.feature for r in reasons[0]] == ["disputes_all_open"]
    assert reasons[0][0].text_en == "2 open (unresolved) disputes"
