"""The features treat suspect visits as missing evidence, in the real training frame.

A hand-made warehouse where officer B types 20 "nothing found" visits in a burst at
night, minutes after each claimed visit, among five honest peers: the officer review
lists B, and the training frame built with ``exclude_suspect_visits`` equals the frame of
the same warehouse without B's visits; with the switch off it keeps them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import FeatureJob, build_features
from features.visit_review import SuspectVisits, suspect_visit_ids
from serving.loading import trained_without_suspect_visits
from tests.test_campaign_reports import visit
from training.config import TrainConfig, load_config
from training.frame import build_frame_pieces
from warehouse.contract import DEFAULT_ESCALATION_CATEGORIES, TIMEZONE
from warehouse.store import conform, empty_incidents

HONEST = "ACDEF"
N = 20  # visits per officer: the review's default min_visits


def _visits(*, suspect_only: bool = False) -> pd.DataFrame:
    rows = []
    for name in HONEST:  # daily from December to April, typed the next day, disputes now and then
        for k in range(150):
            at = pd.Timestamp("2024-12-01 09:00") + pd.Timedelta(days=k, hours=k % 8)
            rows.append(
                visit(
                    f"{name.lower()}{k}",
                    f"H{name}{k % 40}",
                    name,
                    f"{at:%Y-%m-%d %H:%M}",
                    k % 3 + 1,
                    recorded=f"{at + pd.Timedelta(days=1):%Y-%m-%d %H:%M}",
                    dispute="neighbour" if k % 4 == 0 else None,
                    status="resolved" if k % 4 == 0 else None,
                )
            )
    for k in range(N):  # B's households had a real visit by A in December, as A visits
        rows.append(
            visit(
                f"r{k}",
                f"HB{k}",
                "A",
                f"2024-12-{k + 1:02d} 15:00",
                2,
                recorded=f"2024-12-{k + 2:02d} 10:00",
                dispute="neighbour" if k % 4 == 0 else None,
                status="resolved" if k % 4 == 0 else None,
            )
        )
    for k in range(N):  # B: one evening, three minutes apart, typed within minutes, no one met
        at = pd.Timestamp("2025-02-03 20:00") + pd.Timedelta(minutes=3 * k)
        hh = f"HX{k}" if suspect_only and k < 3 else f"HB{k}"
        rows.append(
            visit(
                f"b{k}",
                hh,
                "B",
                f"{at:%Y-%m-%d %H:%M}",
                0,
                recorded=f"{at + pd.Timedelta(minutes=4):%Y-%m-%d %H:%M}",
            )
        )
    return conform(pd.DataFrame(rows), "visits")


def _incidents() -> pd.DataFrame:
    rows = [
        ("i1", "HA1", "2025-03-20 20:00", "fight"),
        ("i2", "HB2", "2025-03-25 20:00", "fight"),
        ("i3", "HC3", "2025-06-30 20:00", "fraud"),  # the warehouse's last date
    ]
    frame = pd.DataFrame(
        [
            {
                "incident_id": iid,
                "household_id": hh,
                "reported_at": pd.Timestamp(at, tz=TIMEZONE),
                "recorded_at": pd.Timestamp(at, tz=TIMEZONE),
                "county": "兴义市",
                "township": "丰都街道",
                "village": "红星村",
                "category": cat,
                "source_file": "hand.csv",
                "source_row": 2,
            }
            for iid, hh, at, cat in rows
        ]
    )
    return conform(pd.concat([empty_incidents(), frame], ignore_index=True), "incidents")


DATES = list(pd.date_range("2025-02-10", "2025-05-05", freq="W-MON", tz=TIMEZONE))


def _frame(visits: pd.DataFrame, folder: Path, *, exclude: bool) -> pd.DataFrame:
    pieces = build_frame_pieces(
        visits, _incidents(), DATES, DATES, folder, horizon_days=30,
        escalation_categories=DEFAULT_ESCALATION_CATEGORIES, negative_share=1.0,
        random_state=0, exclude_suspect_visits=exclude,
    )  # fmt: skip
    return pieces.read(pieces.dates, sampled=False)


def test_the_review_finds_b_s_visits_suspect_while_they_are_in_its_window() -> None:
    visits = _visits()
    assert set(suspect_visit_ids(visits, DATES[0])) == {f"b{k}" for k in range(N)}
    assert suspect_visit_ids(visits, "2025-02-03").empty  # not known yet: point in time
    assert suspect_visit_ids(visits, "2025-06-02").empty  # out of the 90-day window
    rows = SuspectVisits(visits).rows_at(DATES[0])
    assert set(visits["visit_id"].iloc[rows]) == {f"b{k}" for k in range(N)}


def test_training_frame_without_suspect_visits_equals_the_warehouse_without_them(
    tmp_path: Path,
) -> None:
    visits = _visits()
    clean = visits[~visits["officer_id"].eq("B")].reset_index(drop=True)
    finder = SuspectVisits(visits)
    flagged = [t for t in DATES if len(finder.rows_at(t))]
    assert flagged == DATES[:-1]  # by May 5 the visits of February 3 left the 90-day review
    excluded = _frame(visits, tmp_path / "a", exclude=True)
    reference = _frame(clean, tmp_path / "b", exclude=False)
    at = excluded["as_of"].isin(flagged)
    assert at.sum() > 0 and reference["as_of"].isin(flagged).sum() == at.sum()
    pd.testing.assert_frame_equal(
        excluded[at].reset_index(drop=True),
        reference[reference["as_of"].isin(flagged)].reset_index(drop=True),
    )
    kept = _frame(visits, tmp_path / "c", exclude=False)
    hb0 = (kept["household_id"] == "HB0") & (kept["as_of"] == DATES[0])
    assert kept.loc[hb0, "visits_all_days_since_last"].item() == pytest.approx(6.5, abs=0.5)
    assert excluded.loc[hb0, "visits_all_days_since_last"].item() > 60  # December's visit
    # once B's visits leave the review window (May) they count again, as at any date
    late = (kept["as_of"] == DATES[-1]) & kept["household_id"].str.startswith("HB")
    assert (kept.loc[late, "visits_all_count"].to_numpy() == 2).all()


def test_the_switch_off_keeps_every_visit(tmp_path: Path) -> None:
    visits = _visits()
    kept = _frame(visits, tmp_path / "a", exclude=False)
    plain = build_features(visits, _incidents(), DATES)
    names = [c for c in plain.columns if c in kept.columns and c != "label"]
    pd.testing.assert_frame_equal(
        kept[names].reset_index(drop=True), plain[names].astype(kept[names].dtypes)
    )
    assert not kept.equals(_frame(visits, tmp_path / "b", exclude=True))


def test_households_whose_only_visits_are_suspect_keep_their_row_and_features() -> None:
    visits = _visits(suspect_only=True)
    job = FeatureJob(visits, _incidents())
    plain = job.assemble([job.rows_at(DATES[0])]).set_index("household_id")
    rows = SuspectVisits(visits).rows_at(DATES[0])
    assert len(rows) == N
    out = job.assemble([job.rows_at(DATES[0], exclude_rows=rows)]).set_index("household_id")
    assert set(out.index) == set(plain.index)  # nobody leaves the cohort
    only = [f"HX{k}" for k in range(3)]
    pd.testing.assert_frame_equal(
        out.loc[only, ["visits_all_count", "visits_all_days_since_last"]],
        plain.loc[only, ["visits_all_count", "visits_all_days_since_last"]],
    )
    assert (out.loc["HB5", "visits_all_count"], plain.loc["HB5", "visits_all_count"]) == (1, 2)


def test_build_features_excludes_per_date_like_the_training_frame(tmp_path: Path) -> None:
    visits = _visits()
    frame = build_features(visits, _incidents(), DATES, exclude_suspect_visits=True)
    pieces = _frame(visits, tmp_path, exclude=True)
    got = frame.set_index(["household_id", "as_of"])["visits_all_count"]
    want = pieces.set_index(["household_id", "as_of"])["visits_all_count"].astype("float64")
    pd.testing.assert_series_equal(got, want)
    assert np.isin(["HB0"], frame["household_id"]).all()


def test_the_switch_is_a_config_field_recorded_as_a_param(tmp_path: Path) -> None:
    assert TrainConfig().exclude_suspect_visits
    assert TrainConfig().flat_params()["exclude_suspect_visits"] == "True"
    path = tmp_path / "train.toml"
    path.write_text("exclude_suspect_visits = false\n")
    off = load_config(path)
    assert off.flat_params()["exclude_suspect_visits"] == "False"
    # serving builds the snapshot as the champion's run built its frame
    assert trained_without_suspect_visits(TrainConfig().flat_params())
    assert not trained_without_suspect_visits(off.flat_params())
    assert not trained_without_suspect_visits({})  # a run from before the switch kept them


def test_serving_snapshot_leaves_suspect_visits_out_when_the_champion_did(
    tmp_path: Path,
) -> None:
    import datetime as dt

    from serving.config import ServingSettings
    from serving.loading import load_snapshot
    from tests.warehouse_factory import write_warehouse

    visits = _visits()
    write_warehouse(tmp_path, visits, _incidents())
    settings = ServingSettings().with_overrides(home=tmp_path, as_of=dt.date(2025, 2, 10))
    out, as_of = load_snapshot(settings, 30, exclude_suspect_visits=True)
    kept, _ = load_snapshot(settings, 30)
    assert as_of == DATES[0]
    clean = visits[~visits["officer_id"].eq("B")].reset_index(drop=True)
    want = build_features(clean, _incidents(), [DATES[0]], with_labels=False)
    pd.testing.assert_frame_equal(out, want)
    assert not kept.equals(want)
