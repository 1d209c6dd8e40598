"""Point-in-time feature job: invariants of features, labels and cohort."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.asof import AsOfError, weekly_as_of_dates
from features.build import (
    MissingColumnsError,
    build_features,
    default_snapshot_as_of,
)
from features.catalogue import FEATURES, feature_names
from tests.reference_features import reference_features
from tests.warehouse_factory import incidents_frame, random_warehouse, visits_frame
from warehouse.contract import (
    FEATURE_DAYS_SINCE_LAST_VISIT,
    FEATURE_OPEN_DISPUTES,
    FORBIDDEN_FEATURE_SUBSTRINGS,
    TIMEZONE,
)

TZ = pd.DatetimeTZDtype("ns", TIMEZONE)


def _at(frame: pd.DataFrame, household: str) -> pd.Series:
    rows = frame[frame["household_id"] == household]
    assert len(rows) == 1, f"expected one row for {household!r}, got {len(rows)}"
    return rows.iloc[0]


# --- catalogue -------------------------------------------------------------


def test_feature_names_are_ascii_and_follow_family_window_metric() -> None:
    names = feature_names()
    assert len(names) == len(set(names)) > 100
    for name, spec in FEATURES.items():
        assert name.isascii() and re.fullmatch(r"[a-z0-9_]+", name), name
        assert name == f"{spec.family}_{spec.window}_{spec.metric}"
        assert spec.window in {"30d", "90d", "365d", "all"}
        assert not any(s in name for s in FORBIDDEN_FEATURE_SUBSTRINGS), name
    assert FEATURE_DAYS_SINCE_LAST_VISIT in names and FEATURE_OPEN_DISPUTES in names
    assert {s.family for s in FEATURES.values()} == {
        "visits", "disputes", "hazards", "incidents", "context", "quality",
    }  # fmt: skip


def test_every_reason_template_formats_with_a_value() -> None:
    for spec in FEATURES.values():
        value: object = "ordinary" if spec.dtype == "category" else 3.0
        en, zh = spec.reason_en.format(value=value), spec.reason_zh.format(value=value)
        assert en and zh and "{" not in en + zh, spec.name
        assert spec.description.endswith(")."), spec.name  # the unit closes every description


def test_weekly_as_of_dates_are_local_mondays_within_bounds() -> None:
    dates = weekly_as_of_dates("2024-01-01", "2024-03-04")
    assert dates[0] == pd.Timestamp("2024-01-01", tz=TIMEZONE)
    assert dates[-1] == pd.Timestamp("2024-03-04", tz=TIMEZONE)
    assert len(dates) == 10
    assert all(d.weekday() == 0 and d == d.normalize() and str(d.tz) == TIMEZONE for d in dates)
    assert weekly_as_of_dates("2024-01-02", "2024-01-07") == []
    with pytest.raises(AsOfError, match="expected a date"):
        weekly_as_of_dates("not a date", "2024-01-07")


# --- brute-force reference ------------------------------------------------


def _compare(built: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(built.columns) == list(ref.columns)
    b = built.copy()
    r = ref.copy()
    b["context_all_household_type"] = b["context_all_household_type"].astype(object)
    r["context_all_household_type"] = r["context_all_household_type"].astype(object)
    b["label"] = b["label"].astype("Float64")
    r["label"] = r["label"].astype("Float64")
    b["as_of"] = b["as_of"].astype(TZ)
    r["as_of"] = r["as_of"].astype(TZ)
    for c in ("household_id", "county", "township", "village"):
        b[c] = b[c].astype(object)
        r[c] = r[c].astype(object)
    b["context_all_household_type"] = b["context_all_household_type"].where(
        b["context_all_household_type"].notna(), None
    )
    r["context_all_household_type"] = r["context_all_household_type"].where(
        r["context_all_household_type"].notna(), None
    )
    pd.testing.assert_frame_equal(b, r, check_dtype=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_features_equal_bruteforce_reference_on_random_unsorted_warehouses(seed: int) -> None:
    visits, incidents = random_warehouse(seed, n_households=15, days=420)
    # weekly midnights plus an as-of date at an odd local time, in random order
    dates = weekly_as_of_dates("2024-01-20", "2025-02-20")[::5]
    dates.append(pd.Timestamp("2024-07-09 13:37:11", tz=TIMEZONE))
    dates = list(np.random.default_rng(seed).permutation(np.array(dates, dtype=object)))
    built = build_features(visits, incidents, dates)
    ref = reference_features(visits, incidents, dates)
    assert len(built) > 50
    _compare(built, ref)


def test_features_equal_reference_with_custom_escalation_set_and_horizon() -> None:
    visits, incidents = random_warehouse(7, n_households=12)
    dates = weekly_as_of_dates("2024-03-01", "2025-02-01")[::6]
    cats = ("theft", "fight")
    built = build_features(visits, incidents, dates, horizon_days=10, escalation_categories=cats)
    _compare(built, reference_features(visits, incidents, dates, 10, cats))


def test_input_time_zone_does_not_change_features() -> None:
    visits, incidents = random_warehouse(11, n_households=10)
    dates = weekly_as_of_dates("2024-04-01", "2024-12-01")[::4]
    shifted_v = visits.copy()
    for c in ("visited_at", "recorded_at", "reviewed_at"):
        shifted_v[c] = shifted_v[c].dt.tz_convert("UTC")
    shifted_i = incidents.copy()
    for c in ("reported_at", "recorded_at"):
        shifted_i[c] = shifted_i[c].dt.tz_convert("America/New_York")
    pd.testing.assert_frame_equal(
        build_features(visits, incidents, dates), build_features(shifted_v, shifted_i, dates)
    )


# --- point-in-time rules --------------------------------------------------

T = pd.Timestamp("2024-06-03", tz=TIMEZONE)


def test_only_records_with_recorded_at_before_as_of_count() -> None:
    visits = visits_frame(
        [
            {"household_id": "h1", "visited_at": "2024-05-01"},
            # happened before t but recorded exactly at t: not known yet
            {"household_id": "h1", "visited_at": "2024-05-20", "recorded_at": T, "has_dispute": True,
             "dispute_type": "neighbour", "resolution_status": "unresolved"},
        ]
    )  # fmt: skip
    incidents = incidents_frame(
        [
            {"household_id": "h1", "reported_at": "2024-05-10", "category": "fight"},
            {"household_id": "h1", "reported_at": "2024-05-11", "category": "fight",
             "recorded_at": "2024-06-03 00:00:01"},
        ]
    )  # fmt: skip
    row = _at(build_features(visits, incidents, [T]), "h1")
    assert row["visits_all_count"] == 1
    assert row["disputes_all_count"] == 0 and row[FEATURE_OPEN_DISPUTES] == 0
    assert row["incidents_all_count"] == 1 and row["incidents_all_escalations"] == 1
    assert row[FEATURE_DAYS_SINCE_LAST_VISIT] == pytest.approx(33.0)


def test_visit_approved_after_as_of_is_not_yet_a_visit() -> None:
    visits = visits_frame(
        [
            {"household_id": "h1", "visited_at": "2024-05-01", "reviewed_at": "2024-05-02"},
            {"household_id": "h1", "visited_at": "2024-05-30", "reviewed_at": "2024-06-03 08:00"},
            {"household_id": "h2", "visited_at": "2024-05-30", "reviewed_at": "2024-06-04"},
        ]
    )
    out = build_features(visits, incidents_frame([]), [T, T + pd.Timedelta(days=2)])
    at_t = out[out["as_of"] == T]
    assert list(at_t["household_id"]) == ["h1"]  # h2 is not in the cohort yet
    assert _at(at_t, "h1")["visits_all_count"] == 1
    later = out[out["as_of"] == T + pd.Timedelta(days=2)]
    assert _at(later, "h1")["visits_all_count"] == 2


def test_rejected_and_pending_visits_never_count_as_visits() -> None:
    visits = visits_frame(
        [
            {"household_id": "h1", "visited_at": "2024-05-01"},
            {"household_id": "h1", "visited_at": "2024-05-10", "review_status": "rejected",
             "reviewed_at": "2024-05-11", "risk_hazards": "drug_use", "has_dispute": True,
             "dispute_type": "neighbour", "resolution_status": "unresolved"},
            {"household_id": "h1", "visited_at": "2024-05-12", "review_status": "pending"},
            {"household_id": "h2", "visited_at": "2024-05-12", "review_status": "rejected"},
        ]
    )  # fmt: skip
    out = build_features(visits, incidents_frame([]), [T])
    assert list(out["household_id"]) == ["h1"]
    row = _at(out, "h1")
    assert row["visits_all_count"] == 1
    assert row["hazards_all_ever_drug_use"] == 0 and row["disputes_all_count"] == 0
    assert row["quality_all_share_rejected"] == pytest.approx(1 / 3)


def test_windows_are_half_open_on_event_time() -> None:
    visits = visits_frame(
        [
            {"household_id": "h1", "visited_at": T - pd.Timedelta(days=30)},  # in [t-30, t)
            {"household_id": "h1", "visited_at": T - pd.Timedelta(days=30, seconds=1)},  # not
            {"household_id": "h1", "visited_at": T - pd.Timedelta(days=365)},
        ]
    )
    row = _at(build_features(visits, incidents_frame([]), [T]), "h1")
    assert row["visits_30d_count"] == 1
    assert row["visits_90d_count"] == 2
    assert row["visits_365d_count"] == 3


def test_open_dispute_is_latest_status_per_type_and_ages_from_episode_start() -> None:
    d = {"has_dispute": True, "dispute_type": "marriage_family"}
    visits = visits_frame(
        [
            {"household_id": "h1", "visited_at": "2024-01-01", **d, "resolution_status": "unresolved"},
            {"household_id": "h1", "visited_at": "2024-02-01", **d, "resolution_status": "resolved"},
            {"household_id": "h1", "visited_at": "2024-04-04", **d, "resolution_status": "mediating"},
            {"household_id": "h1", "visited_at": "2024-05-04", **d, "resolution_status": "unresolved"},
            {"household_id": "h1", "visited_at": "2024-03-01", "has_dispute": True,
             "dispute_type": "neighbour", "resolution_status": "resolved"},
        ]
    )  # fmt: skip
    row = _at(build_features(visits, incidents_frame([]), [T]), "h1")
    assert row[FEATURE_OPEN_DISPUTES] == 1
    assert row["disputes_all_open_marriage_family"] == 1 and row["disputes_all_open_neighbour"] == 0
    assert row["disputes_all_open_max_age_days"] == pytest.approx(
        (T - pd.Timestamp("2024-04-04", tz=TIMEZONE)).days
    )
    assert row["disputes_all_days_since_last"] == pytest.approx(30.0)


# --- property-based: the future never changes the past ---------------------

_FUTURE_OFFSET_S = st.integers(min_value=0, max_value=200 * 86_400)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    cut_day=st.integers(60, 380),
    offsets=st.lists(_FUTURE_OFFSET_S, min_size=1, max_size=6),
    action=st.sampled_from(["append", "delete", "alter"]),
)
def test_records_known_at_or_after_as_of_never_change_features(
    seed: int, cut_day: int, offsets: list[int], action: str
) -> None:
    visits, incidents = random_warehouse(seed, n_households=8, days=400)
    t = pd.Timestamp("2024-01-01", tz=TIMEZONE) + pd.Timedelta(days=cut_day)
    before = build_features(visits, incidents, [t], with_labels=False)
    rng = np.random.default_rng(seed)
    v2, i2 = visits.copy(), incidents.copy()
    fut_v = (v2["recorded_at"] >= t).to_numpy()
    fut_i = (i2["recorded_at"] >= t).to_numpy()
    if action == "delete":
        v2, i2 = v2[~fut_v], i2[~fut_i]
    elif action == "alter":
        # anything may change in a record known at or after t, except that it stays unknown at t
        v2.loc[fut_v, "visited_at"] = t - pd.Timedelta(days=3)
        v2.loc[fut_v, "has_dispute"] = True
        v2.loc[fut_v, "risk_hazards"] = "drug_use|self_harm_signs"
        v2.loc[fut_v, "review_status"] = "approved"
        v2.loc[fut_v, "village"] = "V9"
        v2.loc[fut_v, "recorded_at"] = t
        i2.loc[fut_i, "reported_at"] = t - pd.Timedelta(days=1)
        i2.loc[fut_i, "category"] = "homicide"
    else:
        # new records, known at or after t, many of them claiming to be about the past
        hh = visits["household_id"].unique()
        extra_v, extra_i = [], []
        for k, off in enumerate(offsets):
            known_at = t + pd.Timedelta(seconds=off)
            h = str(rng.choice(hh)) if k % 2 else "NEWHOUSE"
            extra_v.append(
                {
                    "household_id": h,
                    "visited_at": t - pd.Timedelta(days=k + 1),
                    "recorded_at": known_at,
                    "has_dispute": True,
                    "dispute_type": "neighbour",
                    "resolution_status": "unresolved",
                    "risk_hazards": "drug_use",
                    "village": "V0",
                    "township": "T0",
                    "county": "C1",
                }
            )
            extra_i.append(
                {
                    "household_id": h,
                    "reported_at": t - pd.Timedelta(days=k),
                    "recorded_at": known_at,
                    "category": "fight",
                }
            )
        ev = visits_frame(extra_v)
        ev["visit_id"] = [f"extra{k}" for k in range(len(ev))]
        ei = incidents_frame(extra_i)
        ei["incident_id"] = [f"extra{k}" for k in range(len(ei))]
        v2 = pd.concat([v2, ev[v2.columns]], ignore_index=True)
        i2 = pd.concat([i2, ei[i2.columns]], ignore_index=True)
    after = build_features(v2, i2, [t], with_labels=False)
    pd.testing.assert_frame_equal(before, after)


# --- labels ----------------------------------------------------------------


def _label_case(
    category: str, reported_at: pd.Timestamp, last: str = "2024-12-31"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    visits = visits_frame(
        [
            {"household_id": "h1", "visited_at": "2024-05-01"},
            {"household_id": "h0", "visited_at": last},  # fixes the warehouse's last date
        ]
    )
    incidents = incidents_frame(
        [{"household_id": "h1", "reported_at": reported_at, "category": category}]
    )
    return visits, incidents


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (pd.Timedelta(0), 1),  # reported exactly at t: inside [t, t + H)
        (pd.Timedelta(days=30) - pd.Timedelta(seconds=1), 1),
        (pd.Timedelta(days=30), 0),  # at t + H: outside
        (-pd.Timedelta(seconds=1), 0),  # before t: a feature, not a label
    ],
)
def test_label_is_one_iff_escalation_reported_in_t_to_t_plus_horizon(
    offset: pd.Timedelta, expected: int
) -> None:
    visits, incidents = _label_case("domestic_violence", T + offset)
    assert _at(build_features(visits, incidents, [T]), "h1")["label"] == expected


def test_non_escalation_incident_gives_label_zero_and_categories_are_configurable() -> None:
    visits, incidents = _label_case("theft", T + pd.Timedelta(days=2))
    assert _at(build_features(visits, incidents, [T]), "h1")["label"] == 0
    out = build_features(visits, incidents, [T], escalation_categories=("theft",))
    assert _at(out, "h1")["label"] == 1
    with pytest.raises(ValueError, match="escalation categories"):
        build_features(visits, incidents, [T], escalation_categories=("not_a_category",))


def test_unobserved_horizon_gives_missing_label() -> None:
    # warehouse ends 20 days after t: horizon of 30 days not observed
    visits, incidents = _label_case(
        "fight", T + pd.Timedelta(days=2), last=str((T + pd.Timedelta(days=20)).date())
    )
    out = build_features(visits, incidents, [T])
    assert out["label"].isna().all()
    assert str(out["label"].dtype) == "Int8"
    out = build_features(visits, incidents, [T], horizon_days=7)
    assert _at(out, "h1")["label"] == 1


def test_label_of_late_recorded_incident_still_counts() -> None:
    # labels may use incidents recorded after t (that is their purpose)
    visits, _ = _label_case("fight", T)
    incidents = incidents_frame(
        [{"household_id": "h1", "reported_at": T + pd.Timedelta(days=3), "recorded_at": T + pd.Timedelta(days=60),
          "category": "fight"}]
    )  # fmt: skip
    assert _at(build_features(visits, incidents, [T]), "h1")["label"] == 1


# --- cohort, frame layout ---------------------------------------------------


def test_cohort_is_households_with_an_approved_visit_known_before_as_of() -> None:
    visits = visits_frame(
        [
            {"household_id": "a", "visited_at": "2024-05-01"},
            {"household_id": "b", "visited_at": "2024-05-01", "review_status": "pending"},
            {"household_id": "c", "visited_at": "2024-06-03"},  # at t: not before
            {"household_id": "d", "visited_at": "2024-05-01", "recorded_at": "2024-06-10"},
        ]
    )
    incidents = incidents_frame(
        [{"household_id": "e", "reported_at": "2024-05-01", "category": "fight"}]
    )
    out = build_features(visits, incidents, [T])
    assert list(out["household_id"]) == ["a"]


def test_feature_frame_has_interface_columns_and_dtypes() -> None:
    visits, incidents = random_warehouse(5, n_households=10)
    out = build_features(visits, incidents, weekly_as_of_dates("2024-05-01", "2024-07-01"))
    assert list(out.columns) == [
        "household_id",
        "as_of",
        "county",
        "township",
        "village",
        *feature_names(),
        "label",
    ]
    assert out["as_of"].dtype == TZ
    assert out["household_id"].dtype == "str" and out["village"].dtype == "str"
    assert isinstance(out["context_all_household_type"].dtype, pd.CategoricalDtype)
    floats = [c for c in feature_names() if c != "context_all_household_type"]
    assert (out[floats].dtypes == np.float64).all()
    assert str(out["label"].dtype) == "Int8"
    assert not out.duplicated(["household_id", "as_of"]).any()
    assert out.equals(out.sort_values(["as_of", "household_id"]))


def test_same_data_gives_same_features_regardless_of_row_order() -> None:
    visits, incidents = random_warehouse(9, n_households=10)
    dates = weekly_as_of_dates("2024-05-01", "2024-09-01")
    a = build_features(visits, incidents, dates)
    b = build_features(visits.iloc[::-1], incidents.iloc[::-1], dates)
    pd.testing.assert_frame_equal(a, b)


def test_missing_canonical_column_is_a_clear_error() -> None:
    visits, incidents = random_warehouse(1, n_households=3)
    with pytest.raises(MissingColumnsError, match="review_status"):
        build_features(visits.drop(columns=["review_status"]), incidents, [T])


def test_default_snapshot_is_local_midnight_after_last_recorded_at() -> None:
    visits = visits_frame([{"household_id": "a", "visited_at": "2024-05-01 23:30"}])
    incidents = incidents_frame([{"household_id": "a", "reported_at": "2024-05-01", "category": "fight",
                                  "recorded_at": "2024-05-02 01:00"}])  # fmt: skip
    assert default_snapshot_as_of(visits, incidents) == pd.Timestamp("2024-05-03", tz=TIMEZONE)
