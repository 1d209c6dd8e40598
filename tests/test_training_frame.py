"""The training frame in pieces: one Parquet file per as-of date, case-control sampled.

Invariants: with share 1 the pieces hold exactly the feature job's labelled rows; with
a share below 1 every positive is kept, the weighted sample restores the population's
negatives, evaluation weeks are written in full, and the draw is seeded per date; the
stage memory probe resets and reads the high-water mark.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.asof import weekly_as_of_dates
from features.build import build_features
from tests.warehouse_factory import random_warehouse
from training.frame import IN_SAMPLE, WEIGHT, FrameError, build_frame_pieces, sample_mask
from warehouse.contract import DEFAULT_ESCALATION_CATEGORIES
from warehouse.memory import format_bytes, peak_rss, reset_peak

KW = {"horizon_days": 30, "escalation_categories": DEFAULT_ESCALATION_CATEGORIES}


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame, list[pd.Timestamp]]:
    visits, incidents = random_warehouse(3, n_households=300, days=300, planted_signal=True)
    dates = list(weekly_as_of_dates("2024-03-04", "2024-10-28"))
    return visits, incidents, dates


def _pieces(tables, tmp_path: Path, share: float, full=(), seed: int = 0):
    visits, incidents, dates = tables
    return build_frame_pieces(
        visits, incidents, dates, full, tmp_path / "frame",
        negative_share=share, random_state=seed, **KW,
    )  # fmt: skip


def test_share_one_pieces_hold_exactly_the_feature_jobs_labelled_rows(tables, tmp_path) -> None:
    visits, incidents, dates = tables
    pieces = _pieces(tables, tmp_path, 1.0)
    expected = build_features(visits, incidents, dates, **KW)
    expected = expected[expected["label"].notna()].reset_index(drop=True)
    got = pieces.read(pieces.dates, sampled=True)
    assert got[IN_SAMPLE].all() and (got[WEIGHT] == 1).all()
    assert pieces.n_rows == len(expected) == len(got)
    features = [c for c in expected.columns if c not in ("label",)]
    for col in features:
        if expected[col].dtype == "float64":
            np.testing.assert_allclose(
                got[col].to_numpy(dtype=float), expected[col].to_numpy(dtype=float),
                rtol=1e-6, equal_nan=True, err_msg=col,
            )  # fmt: skip
            assert got[col].dtype == np.float32
        else:
            assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col
    assert got["label"].tolist() == expected["label"].astype(int).tolist()


def test_sample_keeps_every_positive_and_weights_restore_the_negatives(tables, tmp_path) -> None:
    share = 0.25
    last = tables[2][-8:]
    pieces = _pieces(tables, tmp_path, share, full=last)
    population = pieces.n_rows
    positives = sum(pieces.positives.values())
    sample = pieces.read(pieces.dates, sampled=True)
    assert int(sample["label"].sum()) == positives > 0
    negatives = sample[sample["label"] == 0]
    assert set(negatives[WEIGHT].unique()) == {np.float32(1 / share)}
    # the weighted count of sampled negatives estimates the population's negatives
    estimate = float(negatives[WEIGHT].sum())
    truth = population - positives
    assert abs(estimate - truth) < 4 * np.sqrt(truth * (1 - share) / share)
    # evaluation weeks are written in full; other weeks hold the sample only
    for as_of in pieces.dates:
        full = pieces.read_one(as_of, sampled=False)
        expected = pieces.rows[as_of] if as_of in set(last) else pieces.sampled_rows[as_of]
        assert len(full) == expected


def test_sample_is_seeded_per_date_and_depends_on_no_other_date() -> None:
    labels = (np.arange(1000) % 50 == 0).astype(np.int8)
    day = pd.Timestamp("2025-01-06", tz="Asia/Shanghai")
    a = sample_mask(labels, day, 0.1, random_state=4)
    assert np.array_equal(a, sample_mask(labels, day, 0.1, random_state=4))
    assert not np.array_equal(a, sample_mask(labels, day + pd.Timedelta(days=7), 0.1, 4))
    assert a[labels == 1].all() and 0.05 < a[labels == 0].mean() < 0.15
    assert sample_mask(labels, day, 1.0, 4).all()


def test_share_outside_unit_interval_is_refused(tables, tmp_path) -> None:
    with pytest.raises(FrameError, match=r"negative_share must be in \(0, 1\], got 0"):
        _pieces(tables, tmp_path, 0.0)


def test_stage_peak_memory_resets_and_sees_a_large_allocation() -> None:
    reset_peak()
    before = peak_rss()
    block = np.ones(50_000_000 // 8)  # 50 MB touched
    assert peak_rss() >= before + 40_000_000
    del block
    assert format_bytes(2.5e9) == "2.5 GB" and format_bytes(3.4e8) == "340 MB"


def test_read_at_most_thins_each_piece_to_the_cap_and_reads_all_under_it(tables, tmp_path) -> None:
    pieces = _pieces(tables, tmp_path, share=1.0)
    every = pieces.read(pieces.dates, sampled=True)
    assert len(pieces.read_at_most(pieces.dates, len(every))) == len(every)
    cap = len(every) // 4
    thinned = pieces.read_at_most(pieces.dates, cap, random_state=3)
    assert 0.5 * cap < len(thinned) < 1.5 * cap
    again = pieces.read_at_most(pieces.dates, cap, random_state=3)
    pd.testing.assert_frame_equal(thinned, again)


def test_a_large_warehouse_lowers_the_share_to_the_cap_and_weights_follow(tables, tmp_path) -> None:
    from training.frame import capped_share

    assert capped_share(0.1, 1_000_000 * 83, 2_000_000) == pytest.approx(2_000_000 / 83e6)
    assert capped_share(0.1, 16_000_000, 2_000_000) == 0.1  # 200 000 households: unchanged
    assert capped_share(0.1, 10**9, None) == 0.1
    visits, incidents, dates = tables
    pieces = build_frame_pieces(
        visits, incidents, dates, (), tmp_path / "frame", negative_share=0.5,
        random_state=0, max_negative_rows=1000, **KW,
    )  # fmt: skip
    assert pieces.negative_share < 0.5
    negatives = pieces.read(pieces.dates, sampled=True).query("label == 0")
    assert set(negatives[WEIGHT].unique()) == {np.float32(1 / pieces.negative_share)}
    assert len(negatives) < 1400  # about 1000 kept (the cap counts every household x date)
