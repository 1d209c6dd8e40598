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
