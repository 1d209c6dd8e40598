"""Tests of EscalationModel.fit_blocks: the booster fed one float32 matrix filled block by block.

The training frame of ``revisit train`` lives on disk in one piece per as-of
date (``training.frame``); a fit must not hold every training row in a frame
(issue #12: at 200 000 households the frame-based fit needed about six times
the float32 matrix). These tests pin that the block-fed model is the model a
frame-fed fit gives, and that a booster fitted on a pandas ``category`` column
(models signed before this change) scores alike through the matrix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import FeatureFrameError
from models.risk_model import EscalationModel
from tests.test_model_risk import FEATURES, SMALL, synthetic_frame


class _Blocks:
    """Blocks of a frame (the protocol of models.risk_model.RowBlocks), counting reads."""

    def __init__(self, frame: pd.DataFrame, n_blocks: int) -> None:
        self.parts = np.array_split(np.arange(len(frame)), n_blocks) if n_blocks else []
        self.frame = frame
        self.reads = 0

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, i: int) -> pd.DataFrame:
        self.reads += 1
        return self.frame.iloc[self.parts[i]].reset_index(drop=True)


def _data() -> tuple[pd.DataFrame, pd.DataFrame]:
    train, _ = synthetic_frame(6000, seed=1)
    val, _ = synthetic_frame(2000, seed=2, start="2025-03-03")
    train["weight"] = np.where(train["label"] == 1, 1.0, 2.0)
    return train, val


def test_fit_blocks_gives_the_model_of_fit_on_the_whole_frame() -> None:
    train, val = _data()
    whole = EscalationModel(**SMALL, feature_names=FEATURES).fit(
        train, train["label"], val, val["label"], sample_weight=train["weight"]
    )
    blocks = _Blocks(train, 5)
    blocked = EscalationModel(**SMALL, feature_names=FEATURES).fit_blocks(
        blocks, val, val["label"], label_column="label", weight_column="weight"
    )
    assert blocks.reads == 10  # each block twice: schema and labels, then values
    assert blocked.booster_.model_to_string() == whole.booster_.model_to_string()
    assert blocked.categories_ == whole.categories_
    np.testing.assert_array_equal(blocked.predict_proba(val), whole.predict_proba(val))


def test_fit_blocks_learns_categories_seen_in_any_block() -> None:
    train, val = _data()
    train = train.sort_values("context_all_household_type", kind="stable").reset_index(drop=True)
    blocked = EscalationModel(**SMALL, feature_names=FEATURES).fit_blocks(
        _Blocks(train, 3), val, val["label"], label_column="label"
    )
    assert blocked.categories_["context_all_household_type"] == sorted(
        set(train["context_all_household_type"])
    )


def test_fit_blocks_refuses_one_class_and_no_block() -> None:
    train, val = _data()
    negatives = train[train["label"] == 0].reset_index(drop=True)
    with pytest.raises(FeatureFrameError, match="both classes"):
        EscalationModel(**SMALL, feature_names=FEATURES).fit_blocks(
            _Blocks(negatives, 2), val, val["label"], label_column="label"
        )
    with pytest.raises(FeatureFrameError, match="at least one block"):
        EscalationModel(**SMALL, feature_names=FEATURES).fit_blocks(
            _Blocks(train.iloc[:0], 0), val, val["label"], label_column="label"
        )


def test_a_booster_fitted_on_a_category_frame_scores_alike_through_the_matrix() -> None:
    train, val = _data()
    # the older path: the booster saw a pandas frame with a category column
    old = EscalationModel(**SMALL, feature_names=FEATURES).fit(
        train, train["label"], val, val["label"]
    )
    prepared = old._prepare(train, count_unseen=False)
    old.booster_ = __import__("lightgbm").LGBMClassifier(
        objective="binary", n_estimators=30, learning_rate=0.1, random_state=0,
        deterministic=True, force_row_wise=True, verbose=-1,
    ).fit(prepared, train["label"]).booster_  # fmt: skip
    old.best_iteration_ = 30
    via_frame = old.booster_.predict(old._prepare(val), raw_score=True, num_iteration=30)
    via_matrix = old._raw_score(old._matrix(val))
    np.testing.assert_allclose(via_matrix, via_frame, rtol=0, atol=1e-12)
