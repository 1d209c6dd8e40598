"""Parsing of field-export values: dates, booleans, hazards, encodings (unit + property tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.contract import RISK_HAZARDS, TIMEZONE
from warehouse.parsing import (
    detect_csv_encoding,
    parse_bools,
    parse_datetimes,
    parse_hazard_sets,
    parse_ints,
)

moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


def _fmt(d: dt.datetime, style: int) -> str:
    return [
        f"{d:%Y-%m-%d %H:%M}",
        f"{d.year}/{d.month}/{d.day} {d.hour}:{d.minute:02d}",
        f"{d.year}年{d.month}月{d.day}日 {d.hour}:{d.minute:02d}",
        f"{d:%Y-%m-%dT%H:%M:%S}",
    ][style]


@settings(max_examples=60, deadline=None)
@given(moments, st.integers(0, 3))
def test_every_accepted_date_format_parses_to_the_same_local_time(
    d: dt.datetime, style: int
) -> None:
    parsed, bad = parse_datetimes(pd.Series([_fmt(d, style)], dtype="str"))
    assert not bad.any()
    assert parsed.iloc[0] == pd.Timestamp(d).tz_localize(TIMEZONE)


@settings(max_examples=60, deadline=None)
@given(moments)
def test_excel_serial_numbers_count_days_from_1899_12_30(d: dt.datetime) -> None:
    serial = (d - dt.datetime(1899, 12, 30)).total_seconds() / 86400
    parsed, bad = parse_datetimes(pd.Series([serial, str(serial)], dtype=object))
    assert not bad.any()
    expected = pd.Timestamp(d).tz_localize(TIMEZONE)
    assert (abs(parsed - expected) <= pd.Timedelta(milliseconds=1)).all()


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcxyz年月日:/- ", min_size=1, max_size=12))
def test_unparseable_text_is_flagged_never_silently_dropped(text: str) -> None:
    parsed, bad = parse_datetimes(pd.Series([text], dtype="str"))
    missing = not text.strip()
    assert bool(bad[0]) == (not missing and pd.isna(parsed.iloc[0]))
    if not missing:
        assert bad[0] or not pd.isna(parsed.iloc[0])


def test_parsed_timestamps_are_aware_asia_shanghai_and_naive_means_local() -> None:
    parsed, _ = parse_datetimes(
        pd.Series(["2024-01-05 09:30", "2024-01-05T01:30:00+00:00"], dtype="str")
    )
    assert str(parsed.dtype) == f"datetime64[ns, {TIMEZONE}]"
    assert (parsed == pd.Timestamp("2024-01-05 09:30", tz=TIMEZONE)).all()


def test_invalid_calendar_dates_are_bad() -> None:
    _, bad = parse_datetimes(
        pd.Series(["2024-02-30", "2024年13月1日", "2024/1/5 25:00"], dtype="str")
    )
    assert bad.all()


TRUE_SPELLINGS = ["是", "Y", "y", "yes", "YES", "true", "True", "T", "1", "1.0", "有"]
FALSE_SPELLINGS = ["否", "N", "n", "no", "false", "FALSE", "F", "0", "0.0", "无"]


@given(st.lists(st.sampled_from(TRUE_SPELLINGS + FALSE_SPELLINGS), min_size=1, max_size=30))
def test_boolean_spellings_parse_to_their_truth_value(values: list[str]) -> None:
    padded = [f" {v} " for v in values]
    parsed, bad = parse_bools(pd.Series(padded, dtype="str"))
    assert not bad.any()
    assert parsed.tolist() == [v in TRUE_SPELLINGS for v in values]


@given(st.text(min_size=1, max_size=6))
def test_other_boolean_text_is_flagged(text: str) -> None:
    parsed, bad = parse_bools(pd.Series([text], dtype="str"))
    key = text.strip().lower()
    if not key:
        assert not bad[0] and pd.isna(parsed.iloc[0])
    elif parsed.notna().iloc[0]:
        assert not bad[0]
    else:
        assert bad[0]


def test_hazard_sets_accept_every_separator_and_sort_codes() -> None:
    parsed, bad = parse_hazard_sets(
        pd.Series(
            ["吸毒、刑满释放", "吸毒;刑满释放", "吸毒；刑滿釋放", "drug_use,released_prisoner", ""],
            dtype="str",
        ),
        RISK_HAZARDS,
    )
    assert not bad.any()
    assert parsed.tolist()[:4] == ["drug_use|released_prisoner"] * 4
    assert parsed.iloc[4] == ""


def test_negative_counts_are_kept_for_the_schema_and_fractions_are_bad() -> None:
    parsed, bad = parse_ints(pd.Series(["-2", "3", "2.5", ""], dtype="str"))
    assert parsed.iloc[0] == -2 and parsed.iloc[1] == 3
    assert bad.tolist() == [False, False, True, False]


def test_utf8_bytes_are_never_decoded_as_gbk(tmp_path: Path) -> None:
    text = "走访编号,村（社区）\nV1,坪东社区\n"
    (tmp_path / "u.csv").write_bytes(text.encode("utf-8"))
    (tmp_path / "b.csv").write_bytes(text.encode("utf-8-sig"))
    (tmp_path / "g.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "g18030.csv").write_bytes((text + "V2,䶮村\n").encode("gb18030"))
    assert detect_csv_encoding(tmp_path / "u.csv") == "utf-8"
    assert detect_csv_encoding(tmp_path / "b.csv") == "utf-8-sig"
    assert detect_csv_encoding(tmp_path / "g.csv") == "gb18030"
    assert detect_csv_encoding(tmp_path / "g18030.csv") == "gb18030"
    assert "䶮" in (tmp_path / "g18030.csv").read_bytes().decode("gb18030")


def test_parsing_is_vectorised_over_distinct_values() -> None:
    values = pd.Series(np.repeat(["2024-01-05", "2024/1/6 9:30"], 50_000), dtype="str")
    parsed, bad = parse_datetimes(values)
    assert not bad.any() and parsed.nunique() == 2
