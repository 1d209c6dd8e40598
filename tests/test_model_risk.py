"""Tests of models.risk_model.EscalationModel: estimator contract, data handling,
determinism, forbidden features, calibration and behaviour (a planted risk
factor raises the score).

Synthetic frames with known escalation probabilities keep every fit well under
a second.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from models.errors import FeatureFrameError, ForbiddenFeatureError
from models.risk_model import EscalationModel, choose_calibration
from warehouse import contract

FEATURES = [
    "disputes_90d_unresolved",
    "visits_all_days_since_last",
    "noise",
    "context_all_household_type",
]
HOUSEHOLD_TYPES = ["ordinary", "living_alone", "migrant_worker"]
SMALL: dict[str, Any] = {"n_estimators": 150, "learning_rate": 0.1, "early_stopping_rounds": 20}


def synthetic_frame(
    n: int, seed: int, *, start: str = "2025-01-06"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature-table-shaped frame with a planted effect and known probabilities.

    P(escalation) = sigmoid(-3 + 1.0 * disputes_90d_unresolved + 0.5 * [living_alone]);
    ``visits_all_days_since_last`` and ``noise`` carry no signal. Returns the
    frame (with key, jurisdiction and label columns like the real feature
    table) and the true probabilities, float64 of shape (n,).
    """
    rng = np.random.default_rng(seed)
    disputes = rng.poisson(0.6, n).astype("float64")
    household_type = rng.choice(HOUSEHOLD_TYPES, n, p=[0.6, 0.2, 0.2])
    days = rng.uniform(0, 300, n)
    days[rng.uniform(size=n) < 0.05] = np.nan
    logit = -3.0 + 1.0 * disputes + 0.5 * (household_type == "living_alone")
    prob = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.uniform(size=n) < prob).astype("int8")
    frame = pd.DataFrame(
        {
            "household_id": pd.Series([f"H{seed}-{i:06d}" for i in range(n)], dtype="str"),
            "as_of": pd.Timestamp(start, tz=contract.TIMEZONE),
            "county": pd.Series(rng.choice(["Xingyi", "Anlong"], n), dtype="str"),
            "township": pd.Series(rng.choice(["T1", "T2", "T3"], n), dtype="str"),
            "village": pd.Series(rng.choice(["V1", "V2"], n), dtype="str"),
            "disputes_90d_unresolved": disputes,
            "visits_all_days_since_last": days,
            "noise": rng.normal(size=n),
            "context_all_household_type": pd.Series(household_type, dtype="category"),
            "label": pd.array(label, dtype="Int8"),
        }
    )
    return frame, prob


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    return {
        "train": synthetic_frame(4000, 1),
        "val": synthetic_frame(3000, 2, start="2025-03-03"),
        "test": synthetic_frame(3000, 3, start="2025-05-05"),
    }


def fit(data: dict, **params) -> EscalationModel:
    X, _ = data["train"]
    X_val, _ = data["val"]
    return EscalationModel(**{**SMALL, **params}).fit(X, X["label"], X_val, X_val["label"])


@pytest.fixture(scope="module")
def model(data) -> EscalationModel:
    return fit(data)


# ----------------------------------------------------------------- contract


def test_init_only_stores_params_and_clone_round_trips() -> None:
    names = ["a", "b"]
    est = EscalationModel(calibration="bogus", n_estimators=-1, feature_names=names)
    params = est.get_params()
    assert params["calibration"] == "bogus" and params["n_estimators"] == -1
    assert params["feature_names"] is names  # stored untouched, not copied or validated
    assert not hasattr(est, "booster_")
    assert clone(est).get_params()["calibration"] == "bogus"


def test_invalid_params_are_refused_in_fit_not_init(data) -> None:
    X, _ = data["train"]
    with pytest.raises(ValueError, match="calibration.*'bogus'"):
        EscalationModel(calibration="bogus").fit(X, X["label"], X, X["label"])
    with pytest.raises(ValueError, match="n_estimators.*-1"):
        EscalationModel(n_estimators=-1).fit(X, X["label"], X, X["label"])


def test_fit_returns_self_with_fitted_attributes(data) -> None:
    est = EscalationModel(**SMALL)
    X, _ = data["train"]
    X_val, _ = data["val"]
    assert est.fit(X, X["label"], X_val, X_val["label"]) is est
    assert est.feature_names_ == FEATURES
    assert est.categories_ == {"context_all_household_type": sorted(HOUSEHOLD_TYPES)}
    assert 1 <= est.best_iteration_ <= SMALL["n_estimators"]
    assert est.calibration_method_ in ("isotonic", "sigmoid")
    assert est.unseen_counts_ == {}
    assert list(est.classes_) == [0, 1]


@pytest.mark.parametrize("method", ["predict_proba", "explain"])
def test_using_an_unfitted_model_raises_not_fitted(data, method: str) -> None:
    X, _ = data["test"]
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(EscalationModel(), method)(X)


def test_predict_proba_is_a_probability_pair(model, data) -> None:
    X, _ = data["test"]
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2) and proba.dtype == np.float64
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_early_stopping_stops_before_the_round_limit(data) -> None:
    est = fit(data, n_estimators=400, learning_rate=0.3, early_stopping_rounds=10)
    assert est.best_iteration_ < 400
    assert est.booster_.current_iteration() <= est.best_iteration_ + 10


# ------------------------------------------------------------- determinism


def test_same_data_and_seed_give_identical_booster(data) -> None:
    first = fit(data, random_state=7)
    second = fit(data, random_state=7)
    assert first.booster_.model_to_string() == second.booster_.model_to_string()
    X, _ = data["test"]
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


# ------------------------------------------------------------ data handling


def test_column_order_does_not_change_scores(model, data) -> None:
    X, _ = data["test"]
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(shuffled))


def test_caller_frame_is_never_modified(data) -> None:
    X, _ = data["train"]
    X_val, _ = data["val"]
    X_test, _ = data["test"]
    before = {
        name: f.copy(deep=True) for name, f in (("X", X), ("X_val", X_val), ("X_test", X_test))
    }
    est = EscalationModel(**SMALL).fit(X, X["label"], X_val, X_val["label"])
    est.predict_proba(X_test)
    est.explain(X_test.head(20))
    for name, frame in (("X", X), ("X_val", X_val), ("X_test", X_test)):
        pd.testing.assert_frame_equal(frame, before[name], check_exact=True, obj=name)


def test_unseen_category_is_counted_and_scored_as_missing(model, data, caplog) -> None:
    X, _ = data["test"]
    rows = X.head(4).copy()
    rows["context_all_household_type"] = rows["context_all_household_type"].astype("str")
    unseen = rows.copy()
    unseen.loc[unseen.index[:2], "context_all_household_type"] = "never_seen_type"
    as_missing = rows.copy()
    as_missing.loc[as_missing.index[:2], "context_all_household_type"] = None
    with caplog.at_level(logging.WARNING, logger="models.risk_model"):
        scores_unseen = model.predict_proba(unseen)[:, 1]
    assert model.unseen_counts_ == {"context_all_household_type": 2}
    assert "context_all_household_type: 2" in caplog.text
    assert "never_seen_type" not in caplog.text  # counts only, never values
    np.testing.assert_array_equal(scores_unseen, model.predict_proba(as_missing)[:, 1])
    assert model.unseen_counts_ == {}  # the latest call had no unseen values


def test_text_category_and_nullable_numeric_inputs_score_like_canonical_dtypes(model, data) -> None:
    X, _ = data["test"]
    canonical = X.head(50)
    variant = canonical.copy()
    variant["context_all_household_type"] = variant["context_all_household_type"].astype(object)
    counts = variant["disputes_90d_unresolved"].astype("Int64")
    counts.iloc[0] = pd.NA
    variant["disputes_90d_unresolved"] = counts
    expected_input = canonical.copy()
    expected_input.loc[expected_input.index[0], "disputes_90d_unresolved"] = np.nan
    np.testing.assert_array_equal(model.predict_proba(variant), model.predict_proba(expected_input))


def test_missing_feature_column_error_names_it(model, data) -> None:
    X, _ = data["test"]
    with pytest.raises(FeatureFrameError, match="visits_all_days_since_last"):
        model.predict_proba(X.drop(columns=["visits_all_days_since_last"]))


def test_numeric_feature_holding_text_is_a_clear_error(model, data) -> None:
    X, _ = data["test"]
    bad = X.head(3).copy()
    bad["noise"] = pd.Series(["x", "y", "z"], dtype="str", index=bad.index)
    with pytest.raises(FeatureFrameError, match="'noise' was numeric in training"):
        model.predict_proba(bad)


def test_key_jurisdiction_and_label_columns_are_never_features(model, data) -> None:
    assert not set(model.feature_names_) & {
        *contract.KEY_COLUMNS,
        *contract.JURISDICTION_COLUMNS,
        contract.LABEL_COLUMN,
    }
    X, _ = data["train"]
    with pytest.raises(ForbiddenFeatureError, match="'county'"):
        EscalationModel(feature_names=["noise", "county"], **SMALL).fit(
            X, X["label"], X, X["label"]
        )


def test_explicit_feature_names_are_used_in_their_order(data) -> None:
    est = fit(data, feature_names=["noise", "disputes_90d_unresolved"])
    assert est.feature_names_ == ["noise", "disputes_90d_unresolved"]
    assert est.categories_ == {}


def test_labels_with_missing_values_are_refused(data) -> None:
    X, _ = data["train"]
    labels = X["label"].copy()
    labels.iloc[0] = pd.NA
    with pytest.raises(FeatureFrameError, match="missing"):
        EscalationModel(**SMALL).fit(X, labels, X, X["label"])
    with pytest.raises(FeatureFrameError, match=r"labels in \{0, 1\}"):
        EscalationModel(**SMALL).fit(X, X["label"].astype("float64") * 2, X, X["label"])


# ---------------------------------------------------------- forbidden features


@pytest.mark.parametrize(
    "column", ["ethnicity", "民族", "head_name", "religion_code", "phone_count", "sex"]
)
def test_protected_or_personal_feature_names_are_refused(data, column: str) -> None:
    X, _ = data["train"]
    X = X.assign(**{column: np.arange(len(X), dtype="float64") % 3})
    with pytest.raises(ForbiddenFeatureError, match=f"feature '{column}' refused"):
        EscalationModel(**SMALL).fit(X, X["label"], X, X["label"])


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("11010519491231002X", "ID numbers"),
        ("13812345678", "phone numbers"),
        ("tel +86 139-0000 0000", "phone numbers"),
        ("1381234567", None),
    ],
)
def test_id_number_or_phone_contents_are_refused(data, value: str, what: str | None) -> None:
    X, _ = data["train"]
    contact = pd.Series(["none"] * len(X), dtype="str", index=X.index)
    contact.iloc[5] = value
    X = X.assign(contact_info=contact)
    est = EscalationModel(**SMALL)
    if what is None:
        # Ten digits are neither an ID nor a mobile number: accepted.
        est.fit(X, X["label"], X, X["label"])
        assert "contact_info" in est.feature_names_
        return
    with pytest.raises(ForbiddenFeatureError, match=f"'contact_info' refused.*{what}") as info:
        est.fit(X, X["label"], X, X["label"])
    assert value not in str(info.value)  # the error never echoes personal data


# --------------------------------------------------------------- calibration


def test_calibrated_scores_match_observed_rates() -> None:
    """On data with known probabilities, mean score per decile matches the truth."""
    X, _ = synthetic_frame(6000, 11)
    X_val, _ = synthetic_frame(6000, 12)
    X_test, prob = synthetic_frame(20000, 13)
    est = EscalationModel(**SMALL).fit(X, X["label"], X_val, X_val["label"])
    score = est.predict_proba(X_test)[:, 1]
    observed = X_test["label"].to_numpy(dtype="float64")
    deciles = pd.qcut(pd.Series(score).rank(method="first"), 10, labels=False)
    by_bin = pd.DataFrame({"score": score, "truth": prob, "observed": observed, "bin": deciles})
    means = by_bin.groupby("bin").mean()
    # Expected calibration error against the true probabilities, probability units.
    ece = float(np.mean(np.abs(means["score"] - means["truth"])))
    assert ece < 0.02, means
    assert abs(score.mean() - observed.mean()) < 0.015
    assert np.abs(means["score"] - means["observed"]).max() < 0.06, means


def test_auto_calibration_records_choice_and_cv_scores(model) -> None:
    scores = model.calibration_scores_
    assert set(scores) == {"isotonic", "sigmoid"}
    assert model.calibration_method_ == min(scores, key=lambda m: (scores[m], m != "sigmoid"))
    assert model.calibrator_.method == model.calibration_method_


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_fixed_calibration_is_used_as_given(data, method: str) -> None:
    est = fit(data, calibration=method)
    assert est.calibration_method_ == method
    assert est.calibration_scores_ == {}


def test_isotonic_scores_are_strict_in_the_raw_score_and_within_1e_6_of_isotonic(data) -> None:
    est = fit(data, calibration="isotonic")
    X, _ = data["test"]
    raw = est._raw_score(est._prepare(X))
    prob = est.predict_proba(X)[:, 1]
    cal = est.calibrator_
    pure = np.minimum(np.clip(np.interp(raw, cal.x_, cal.y_), 0.0, 1.0), cal.max_prob_)
    # The isotonic step function ties many rows; the tie-break must not.
    assert len(np.unique(pure)) < len(np.unique(raw))
    assert len(np.unique(prob)) == len(np.unique(raw))
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(prob[order]) >= 0)
    assert np.all((np.diff(prob[order]) > 0) == (np.diff(raw[order]) > 0))
    assert np.max(np.abs(prob - pure)) < 1e-6
    assert prob.min() >= 0.0 and prob.max() <= 1.0


def test_choice_prefers_isotonic_for_a_step_shaped_truth() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(-3, 3, 6000)
    y = (rng.uniform(size=raw.size) < np.where(raw < 1.0, 0.05, 0.6)).astype(int)
    method, scores = choose_calibration(raw, y, random_state=0)
    assert method == "isotonic", scores


def test_choice_prefers_sigmoid_when_the_truth_is_logistic_and_rows_are_few() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(-1.5, 1.0, 300)
    y = (rng.uniform(size=raw.size) < 1 / (1 + np.exp(-raw))).astype(int)
    method, scores = choose_calibration(raw, y, random_state=0)
    assert method == "sigmoid", scores


# ------------------------------------------------------------------ behaviour


def test_score_rises_with_unresolved_disputes(model, data) -> None:
    X, _ = data["test"]
    none = X.assign(disputes_90d_unresolved=0.0)
    three = X.assign(disputes_90d_unresolved=3.0)
    low, high = model.predict_proba(none)[:, 1], model.predict_proba(three)[:, 1]
    assert np.all(high >= low)
    assert high.mean() > low.mean() + 0.2


def test_model_beats_the_base_rate_on_out_of_time_rows(model, data) -> None:
    X, prob = data["test"]
    y = X["label"].to_numpy(dtype="float64")
    score = model.predict_proba(X)[:, 1]
    brier_model = np.mean((score - y) ** 2)
    brier_base_rate = np.mean((y.mean() - y) ** 2)
    assert brier_model < brier_base_rate
    assert np.corrcoef(score, prob)[0, 1] > 0.8


def test_served_maximum_stays_within_what_validation_saw_and_never_reads_100_percent(
    model, data
) -> None:
    X, _ = data["test"]
    extreme = X.copy()
    for name in model.feature_names_:
        if name not in model.categories_:
            values = pd.to_numeric(extreme[name], errors="coerce")
            extreme[name] = float(values.max()) * 10 + 10
    prob = model.predict_proba(pd.concat([X, extreme]))[:, 1]
    cap = model.calibrator_.max_prob_
    assert prob.max() <= cap + 1e-9
    assert cap < 1.0 and f"{prob.max():.2%}" != "100.00%"
