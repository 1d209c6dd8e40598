"""``benchmarks.records_ceiling`` reopens the weekly frame a training run left on disk.

The records-ceiling benchmark measures on a trained prefecture's frame; it must
see the same dates, samples, positives, negative share and evaluation weeks the
run wrote, or its figures would be of other rows.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmarks.records_ceiling import reopen_pieces
from features.asof import weekly_as_of_dates
from features.build import last_recorded_at
from tests.warehouse_factory import random_warehouse
from training.frame import build_frame_pieces
from training.splits import rolling_origin_splits
from warehouse.contract import DEFAULT_ESCALATION_CATEGORIES

CONFIG = SimpleNamespace(
    horizon_days=30,
    splits=SimpleNamespace(n_folds=2, test_weeks=2, val_weeks=2, min_train_weeks=8),
)


def test_reopened_pieces_are_the_pieces_the_run_wrote(tmp_path: Path) -> None:
    visits, incidents = random_warehouse(5, n_households=200, days=300, planted_signal=True)
    dates = list(weekly_as_of_dates("2024-03-04", "2024-10-28"))
    last = last_recorded_at(visits, incidents)
    labelled = [d for d in dates if d + pd.Timedelta(days=30) <= last]  # as revisit train plans
    folds = rolling_origin_splits(
        labelled, horizon_days=30, n_folds=2, test_weeks=2, val_weeks=2, min_train_weeks=8
    )
    full = [d for f in folds for d in f.test]
    written = build_frame_pieces(
        visits, incidents, dates, full, tmp_path / "training_frame", horizon_days=30,
        escalation_categories=DEFAULT_ESCALATION_CATEGORIES, negative_share=0.25, random_state=0,
    )  # fmt: skip
    pieces, reopened_folds = reopen_pieces(tmp_path / "training_frame", CONFIG)
    assert pieces.dates == written.dates == labelled
    assert [f.test for f in reopened_folds] == [f.test for f in folds]
    assert pieces.full_dates == frozenset(full)
    assert pieces.sampled_rows == written.sampled_rows
    assert pieces.positives == written.positives
    assert {d: pieces.rows[d] for d in full} == {d: written.rows[d] for d in full}
    assert pieces.negative_share == pytest.approx(0.25)
    assert pieces.feature_names == written.feature_names
    first = pieces.read(folds[0].train[:2], sampled=True)
    pd.testing.assert_frame_equal(first, written.read(folds[0].train[:2], sampled=True))


def test_a_folder_without_pieces_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="expected the weekly frame's pieces"):
        reopen_pieces(tmp_path, CONFIG)
