"""The one-date snapshot of a large warehouse, built one partition of whole townships at a time.

Invariant: for a warehouse whose households never move between townships the
partitioned snapshot (:mod:`features.snapshot`) equals the one-piece feature job,
with and without the suspect visits left out (judged on the whole table: the
officer review scores officers across townships).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_table
from features.distributed import township_partitions
from features.snapshot import partitions_for
from tests.test_suspect_features import DATES, _incidents, _visits
from tests.warehouse_factory import random_warehouse, write_warehouse

ONE_PIECE = 10**9


def test_partitions_follow_the_visit_count() -> None:
    assert partitions_for(0) == 1 and partitions_for(1_500_000) == 1
    assert partitions_for(10_000_000) == 7  # the reference prefecture
    assert partitions_for(1001, 250) == 5


@pytest.mark.parametrize("with_labels", [True, False])
def test_partitioned_snapshot_equals_the_one_piece_job(tmp_path: Path, with_labels: bool) -> None:
    visits, incidents = random_warehouse(
        7, n_households=900, days=400, visits_per_household=8, n_villages=6, planted_signal=True
    )
    write_warehouse(tmp_path, visits, incidents)
    kw = {"with_labels": with_labels}
    want = build_feature_table(tmp_path, "2024-09-02", visits_per_partition=ONE_PIECE, **kw)
    got = build_feature_table(tmp_path, "2024-09-02", visits_per_partition=len(visits) // 3, **kw)
    assert len(want) > 500 and len(township_partitions(tmp_path, 3)) == 2  # two townships
    pd.testing.assert_frame_equal(got, want)
    # the default as-of date (the serving snapshot's) is found the same way
    default = build_feature_table(tmp_path, visits_per_partition=len(visits) // 3, **kw)
    assert default["as_of"].iloc[0] == build_feature_table(tmp_path, **kw)["as_of"].iloc[0]


@pytest.mark.parametrize("day", [0, -2])  # B's burst the week before, and 12 weeks on
def test_suspect_visits_are_judged_on_the_whole_table_and_left_out_in_every_partition(
    tmp_path: Path, day: int
) -> None:
    visits = _visits()
    # three townships: officer B's suspect visits fall in all of them
    codes = visits["household_id"].map(lambda h: sum(map(ord, h)) % 3).to_numpy()
    visits["township"] = np.array(["T1", "T2", "T3"])[codes]
    visits["village"] = np.array(["V1", "V2", "V3"])[codes]
    write_warehouse(tmp_path, visits, _incidents())
    assert len(township_partitions(tmp_path, 3)) == 3
    kw = {"with_labels": False, "exclude_suspect_visits": True}
    want = build_feature_table(tmp_path, DATES[day], visits_per_partition=ONE_PIECE, **kw)
    got = build_feature_table(tmp_path, DATES[day], visits_per_partition=len(visits) // 3, **kw)
    pd.testing.assert_frame_equal(got, want)
    kept = build_feature_table(tmp_path, DATES[day], visits_per_partition=len(visits) // 3)
    b = want["household_id"].str.startswith("HB")
    assert (
        kept.loc[b.to_numpy(), "visits_all_count"].to_numpy()
        > want.loc[b, "visits_all_count"].to_numpy()
    ).all()


@pytest.mark.parametrize("day", [0, -2])
def test_serving_marks_the_households_the_whole_table_review_marks(
    tmp_path: Path, day: int
) -> None:
    import datetime as dt

    from campaign.officer_review import households_with_suspect_visits
    from features.visit_review import suspect_visit_ids
    from serving.config import ServingSettings
    from serving.loading import load_suspect_households

    visits = _visits()
    write_warehouse(tmp_path, visits, _incidents())
    as_of = DATES[day]
    settings = ServingSettings().with_overrides(home=tmp_path, as_of=dt.date(2025, 2, 10))
    got = load_suspect_households(settings, as_of)
    want = households_with_suspect_visits(visits, suspect_visit_ids(visits, as_of))
    assert got == frozenset(want["household_id"]) and len(got) == 20  # B's twenty


def test_serving_reviews_the_window_once_and_the_snapshot_reuses_its_suspects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving read and reviewed the window twice (marks, then snapshot): about 5 s at 1M."""
    import features.snapshot as snapshot
    from features.snapshot import suspect_visit_rows

    visits = _visits()
    codes = visits["household_id"].map(lambda h: sum(map(ord, h)) % 3).to_numpy()
    visits["township"] = np.array(["T1", "T2", "T3"])[codes]
    write_warehouse(tmp_path, visits, _incidents())
    as_of = DATES[0]
    parts = len(visits) // 3
    want = build_feature_table(
        tmp_path, as_of, visits_per_partition=parts, exclude_suspect_visits=True
    )
    positions, suspect = suspect_visit_rows(tmp_path, as_of)
    assert len(positions) == suspect["visit_id"].nunique() > 0
    reads: list[pd.Timestamp] = []
    real = snapshot.review_window_rows
    monkeypatch.setattr(
        snapshot, "review_window_rows", lambda home, t: reads.append(t) or real(home, t)
    )
    got = build_feature_table(
        tmp_path, as_of, visits_per_partition=parts, exclude_suspect_visits=True,
        known_suspects=(as_of, positions),
    )  # fmt: skip
    pd.testing.assert_frame_equal(got, want)
    assert reads == []  # the window was not read again
    # suspects found for another date are not used for this one
    other = build_feature_table(
        tmp_path, as_of, visits_per_partition=parts, exclude_suspect_visits=True,
        known_suspects=(DATES[-2], np.zeros(0, dtype=np.int64)),
    )  # fmt: skip
    pd.testing.assert_frame_equal(other, want)
    assert reads == [as_of]
