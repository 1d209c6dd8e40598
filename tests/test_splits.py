"""Out-of-time splits: no label window crosses a split, test blocks never overlap."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.config import ConfigError, TrainConfig, load_config
from training.splits import SplitError, final_split, rolling_origin_splits


def _mondays(n: int, start: str = "2025-01-06") -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="7D", tz="Asia/Shanghai"))


@pytest.mark.parametrize("horizon", [7, 30, 45])
@pytest.mark.parametrize("n_weeks", [30, 52, 80])
def test_no_label_window_crosses_a_split(horizon: int, n_weeks: int) -> None:
    folds = rolling_origin_splits(_mondays(n_weeks), horizon_days=horizon, n_folds=3)
    h = pd.Timedelta(days=horizon)
    for fold in folds:
        assert fold.train and fold.validation and fold.test
        assert max(fold.train) + h <= min(fold.validation), fold.name
        assert max(fold.validation) + h <= min(fold.test), fold.name


def test_blocks_are_ordered_disjoint_and_test_blocks_do_not_overlap() -> None:
    folds = rolling_origin_splits(_mondays(60), horizon_days=30, n_folds=3, test_weeks=4)
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3"]
    tests: list[pd.Timestamp] = []
    for fold in folds:
        assert set(fold.train).isdisjoint(fold.validation)
        assert set(fold.validation).isdisjoint(fold.test)
        assert len(fold.test) == 4 and len(fold.validation) == 4
        tests.extend(fold.test)
    assert len(tests) == len(set(tests))
    # the newest fold tests the newest weeks; older folds test strictly earlier weeks
    assert folds[-1].test[-1] == _mondays(60)[-1]
    assert all(a.test[-1] < b.test[0] for a, b in zip(folds, folds[1:], strict=False))


def test_masks_select_rows_of_each_block() -> None:
    dates = _mondays(40)
    frame = pd.DataFrame({"as_of": [d for d in dates for _ in range(3)]})
    fold = rolling_origin_splits(dates, horizon_days=30, n_folds=1)[0]
    train, val, test = fold.masks(frame["as_of"])
    assert train.sum() == 3 * len(fold.train)
    assert val.sum() == 3 * len(fold.validation)
    assert test.sum() == 3 * len(fold.test)
    assert not (train & val).any() and not (val & test).any()


def test_too_few_dates_raise_a_plain_split_error() -> None:
    with pytest.raises(SplitError, match="expected enough weekly as-of dates"):
        rolling_origin_splits(_mondays(8), horizon_days=30, n_folds=3)


def test_older_folds_that_do_not_fit_are_dropped_not_truncated() -> None:
    folds = rolling_origin_splits(_mondays(26), horizon_days=30, n_folds=5, min_train_weeks=4)
    assert 1 <= len(folds) < 5
    assert all(len(f.train) >= 4 for f in folds)


def test_final_split_uses_latest_weeks_as_validation_with_gap() -> None:
    dates = _mondays(30)
    final = final_split(dates, horizon_days=30, val_weeks=4)
    assert final.test == ()
    assert final.validation == tuple(dates[-4:])
    assert max(final.train) + pd.Timedelta(days=30) <= min(final.validation)
    # every date before the gap trains the final model
    assert final.train == tuple(d for d in dates if d + pd.Timedelta(days=30) <= dates[-4])


def test_config_loads_toml_overrides_and_rejects_unknown_keys(tmp_path) -> None:
    good = tmp_path / "train.toml"
    good.write_text(
        "seed = 7\nhorizon_days = 14\n[splits]\nn_folds = 2\n[lightgbm]\nnum_leaves = 15\n"
    )
    config = load_config(good)
    assert (
        config.seed,
        config.horizon_days,
        config.splits.n_folds,
        config.lightgbm.num_leaves,
    ) == (7, 14, 2, 15)
    assert config.flat_params()["splits.n_folds"] == "2"
    assert load_config(None) == TrainConfig()
    bad = tmp_path / "bad.toml"
    bad.write_text("sead = 7\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.sets(st.integers(min_value=0, max_value=120), min_size=1, max_size=90),
    horizon=st.integers(min_value=1, max_value=60),
    n_folds=st.integers(min_value=1, max_value=4),
    weeks=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
)
def test_no_crossing_holds_for_any_irregular_set_of_weeks(
    offsets: set[int], horizon: int, n_folds: int, weeks: tuple[int, int, int]
) -> None:
    dates = [
        pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.Timedelta(weeks=w) for w in offsets
    ]
    test_weeks, val_weeks, min_train = weeks
    h = pd.Timedelta(days=horizon)
    try:
        folds = rolling_origin_splits(
            dates, horizon_days=horizon, n_folds=n_folds, test_weeks=test_weeks,
            val_weeks=val_weeks, min_train_weeks=min_train,
        )  # fmt: skip
    except SplitError:
        return
    assert 1 <= len(folds) <= n_folds
    seen_test: set[pd.Timestamp] = set()
    for fold in folds:
        assert len(fold.train) >= min_train and len(fold.validation) == val_weeks
        assert max(fold.train) + h <= min(fold.validation)
        assert max(fold.validation) + h <= min(fold.test)
        assert seen_test.isdisjoint(fold.test)
        seen_test.update(fold.test)
        assert set(fold.train) | set(fold.validation) | set(fold.test) <= set(dates)
