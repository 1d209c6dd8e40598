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


def spec(name: str, en: str, zh: str) -> FeatureSpec:
    return FeatureSpec(name, "disputes", "visits", "90d", "count", "float", "test", en, zh)


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
    assert reason.text_en == "household type: living_alone"
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
