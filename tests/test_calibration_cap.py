"""No score reads higher than the evidence allows: the isotonic top step holds enough positives
and predictions never exceed the highest probability validation rows received."""

from __future__ import annotations

import numpy as np
import pytest

from models.risk_model import MIN_TOP_STEP_POSITIVES, ScoreCalibrator


def _validation(seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Rare events whose few highest raw scores are all positive (isotonic would read 100 %)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-4.0, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-raw))).astype(float)
    top = np.argsort(raw)[-3:]
    y[top] = 1.0
    return raw, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isotonic_top_step_holds_enough_positives_and_never_reads_one(seed: int) -> None:
    raw, y = _validation(seed)
    cal = ScoreCalibrator("isotonic").fit(raw, y)
    top_value = cal.y_[-1]
    top_rows = raw >= cal.x_[np.flatnonzero(cal.y_ == top_value)[0]]
    assert y[top_rows].sum() >= MIN_TOP_STEP_POSITIVES
    assert top_value == pytest.approx(y[top_rows].mean())
    far = cal.predict(np.array([raw.max() + 10.0]))[0]
    assert far < 0.99 and far <= cal.max_prob_ + 1e-9
    assert np.all(np.diff(cal.y_) >= 0)  # still monotone


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_predictions_never_exceed_the_highest_validation_probability(method: str) -> None:
    raw, y = _validation(3)
    cal = ScoreCalibrator(method).fit(raw, y)
    beyond = cal.predict(np.linspace(raw.max(), raw.max() + 20, 50))
    assert beyond.max() <= cal.max_prob_ + 1e-9
    assert cal.max_prob_ == pytest.approx(cal.predict(raw).max(), abs=1e-8)


def test_fitted_state_is_plain_arrays_and_floats() -> None:
    raw, y = _validation(4)
    iso = ScoreCalibrator("isotonic").fit(raw, y)
    assert isinstance(iso.x_, np.ndarray) and isinstance(iso.y_, np.ndarray)
    sig = ScoreCalibrator("sigmoid").fit(raw, y)
    assert all(isinstance(v, float) for v in (sig.coef_, sig.intercept_, sig.max_prob_))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_top_step_is_the_weighted_rate_and_holds_a_negative(seed: int) -> None:
    """Case-control sample (negatives kept at 10 %, weight 10): the top step pools to a
    weighted rate over rows holding enough positives and at least one kept negative."""
    raw, y = _validation(seed)
    rng = np.random.default_rng(seed + 100)
    keep = (y == 1) | (rng.random(len(y)) < 0.1)
    raw, y = raw[keep], y[keep]
    w = np.where(y == 1, 1.0, 10.0)
    cal = ScoreCalibrator("isotonic").fit(raw, y, sample_weight=w)
    top_rows = raw >= cal.x_[np.flatnonzero(cal.y_ == cal.y_[-1])[0]]
    assert y[top_rows].sum() >= MIN_TOP_STEP_POSITIVES and (y[top_rows] == 0).any()
    assert cal.y_[-1] == pytest.approx(np.average(y[top_rows], weights=w[top_rows]))
    assert cal.max_prob_ < 1.0 and np.all(np.diff(cal.y_) >= 0)
