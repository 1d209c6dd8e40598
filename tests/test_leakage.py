"""Leakage canaries that can see a leaked feature: a feature copied from the label window is
caught by the point-in-time invariant and by the single-feature canary, and a run trained with
it is refused; a model beating the simulator's own probability is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import features.build
from features.build import build_features
from tests.warehouse_factory import random_warehouse
from training.leakage import LeakageError, check_against_oracle, check_features, single_feature_aucs
from warehouse.contract import TIMEZONE

NS_PER_DAY = 86_400 * 10**9


def _leaky_episode_features(real):
    """features.episodes plus a planted feature copied from the label window [t, t + 30 d)."""

    def leaky(v, inc, n, t, known, **kw):
        out = real(v, inc, n, t, known, **kw)
        future = (inc.hh >= 0) & inc.esc & (inc.rep >= t) & (inc.rep < t + 30 * NS_PER_DAY)
        out["incidents_30d_escalations"] = np.bincount(inc.hh[future], minlength=n).astype(float)
        return out

    return leaky


def _features_unchanged_by_future_records(visits, incidents, t) -> bool:
    """The point-in-time invariant: deleting records known at or after t changes nothing."""
    before = build_features(visits, incidents, [t], with_labels=False)
    after = build_features(
        visits[visits["recorded_at"] < t], incidents[incidents["recorded_at"] < t], [t],
        with_labels=False,
    )  # fmt: skip
    return before.equals(after)


@pytest.mark.parametrize("seed", [0, 1])
def test_point_in_time_invariant_catches_a_feature_copied_from_the_label_window(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    visits, incidents = random_warehouse(seed, n_households=40, days=400, incidents_per_household=3)
    t = pd.Timestamp("2024-08-05", tz=TIMEZONE)
    assert _features_unchanged_by_future_records(visits, incidents, t)
    monkeypatch.setattr(
        features.build, "episode_features", _leaky_episode_features(features.build.episode_features)
    )
    assert not _features_unchanged_by_future_records(visits, incidents, t)


def _frame(seed: int, n: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.gamma(0.4, 0.03, n)
    y = (rng.random(n) < risk).astype(int)
    return pd.DataFrame(
        {
            "label": y,
            "honest": risk + rng.normal(0, 0.02, n),
            "count": rng.poisson(risk * 20),
            "leak": y + rng.normal(0, 0.05, n),
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_feature_that_alone_separates_the_label_is_refused_by_name(seed: int) -> None:
    frame = _frame(seed)
    aucs = check_features(frame, ["honest", "count"], "label")
    assert 0.5 < aucs["honest"] < 0.97
    with pytest.raises(LeakageError, match=r"leak \(AUC 1\.000\)"):
        check_features(frame, ["honest", "count", "leak"], "label")
    frame["inverse_leak"] = -frame["leak"]  # a mirrored leak is a leak
    with pytest.raises(LeakageError, match="inverse_leak"):
        check_features(frame, ["honest", "inverse_leak"], "label")


def test_single_feature_auc_matches_sklearn_with_ties_and_missing_values() -> None:
    from sklearn.metrics import roc_auc_score

    frame = _frame(3, n=2000)
    frame.loc[::7, "honest"] = np.nan
    got = single_feature_aucs(frame, ["honest", "count"], "label")
    x = frame["honest"].fillna(-1e9)
    assert got["honest"] == pytest.approx(roc_auc_score(frame["label"], x))
    assert got["count"] == pytest.approx(roc_auc_score(frame["label"], frame["count"]))


def test_too_few_events_are_not_judged() -> None:
    frame = _frame(4, n=300)
    frame["label"] = 0
    frame.loc[:4, "label"] = 1
    frame["lucky"] = frame["label"].astype(float)
    check_features(frame, ["lucky"], "label")  # 5 events: chance, not judged


def test_a_model_that_beats_the_oracle_is_refused() -> None:
    check_against_oracle(0.80, 0.82)
    check_against_oracle(0.83, 0.82)  # within the margin
    with pytest.raises(LeakageError, match="exceeds the simulator's own"):
        check_against_oracle(0.95, 0.82)
