"""Regressions of the fast ingestion paths: same results as the reference readers and parsers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from warehouse.contract import TIMEZONE
from warehouse.ingest import _read_csv_arrow, _read_xlsx_calamine, ingest_paths
from warehouse.parsing import parse_datetimes

NOW = pd.Timestamp("2026-11-30 12:00", tz=TIMEZONE)
HEADER = "走访编号,户编号,走访时间,县（市、新区）,乡镇（街道）,村（社区）,是否存在矛盾纠纷"


def _pandas_csv(path: Path) -> list[pd.DataFrame]:
    reader = pd.read_csv(
        path,
        encoding="utf-8",
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=False,
        chunksize=250_000,
    )
    with reader:
        return list(reader)


@pytest.mark.parametrize(
    "text",
    [
        'a,b,c\n"x,1","line\nbreak",\n"",  ,"say ""hi"""\nNA,中文,x"y\n',
        "a,b\r\nx,y\r\n\r\nz,w",  # blank line (a row of NaN), CRLF, no final newline
    ],
)
def test_arrow_csv_reader_gives_the_pandas_chunks(tmp_path: Path, text: str) -> None:
    path = tmp_path / "v.csv"
    path.write_bytes(text.encode("utf-8"))
    fast = _read_csv_arrow(path, "utf-8")
    assert fast is not None
    ref = _pandas_csv(path)
    assert len(fast) == len(ref)
    for got, want in zip(fast, ref, strict=True):
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize(
    "text",
    [
        "a,b\nx,y\nz\n",  # short line: padded by pandas
        'a,b\nx,"open\n',  # quoted field left open: pandas rejects the file
        "a,a\nx,y\n",  # duplicate headers: renamed by pandas
    ],
)
def test_arrow_csv_reader_steps_aside_for_irregular_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "v.csv"
    path.write_text(text, encoding="utf-8")
    assert _read_csv_arrow(path, "utf-8") is None


def test_calamine_reader_gives_read_excel_cells(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["a", "b", "c"])
    ws.append([1.0, dt.date(2024, 1, 5), "NA"])
    ws.append([2.5, dt.datetime(2024, 1, 5, 9, 30), True])
    ws.append([None, "", 1])
    path = tmp_path / "v.xlsx"
    wb.save(path)
    fast = _read_xlsx_calamine(path)
    ref = pd.read_excel(path, engine="calamine", sheet_name=0, dtype=object)
    assert fast is not None
    assert list(fast.columns) == list(ref.columns)
    assert list(fast.dtypes) == list(ref.dtypes)
    for col in ref.columns:
        got, want = fast[col].tolist(), ref[col].tolist()
        assert [type(v) for v in got] == [type(v) for v in want]
        assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in want]


def test_text_timestamps_parse_like_the_per_distinct_value_path() -> None:
    texts = [
        "2024-01-05 14:20",
        " 2024/1/5 9:30 ",
        "2024年1月5日 14时20分",
        "45292.5",
        "2024-01-05T01:30:00+00:00",
        "2024-02-30",
        "abc",
        "",
        "  ",
        "1988-04-10 02:30",  # nonexistent local time (DST in Shanghai then)
    ] * 3
    fast, fast_bad = parse_datetimes(pd.Series(texts, dtype="str"))
    # One non-text cell sends the column down the per-distinct-value path.
    slow, slow_bad = parse_datetimes(pd.Series([*texts, 45292.0], dtype=object))
    pd.testing.assert_series_equal(fast, slow.iloc[: len(texts)])
    np.testing.assert_array_equal(fast_bad, slow_bad[: len(texts)])


def test_out_of_range_years_are_quarantined_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text(
        f"{HEADER}\nV1,h1,0001-01-01,兴义市,桔山街道,村1,否\nV2,h2,-1,兴义市,桔山街道,村1,否\n"
        "V3,h3,2024-01-05 09:30,兴义市,桔山街道,村1,否\n",
        encoding="utf-8",
    )
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert (report.read, report.accepted, report.quarantined) == (3, 1, 2)
    assert report.quarantine_file is not None
    q = pd.read_csv(report.quarantine_file, encoding="utf-8-sig", dtype=str)
    assert q["source_row"].astype(int).tolist() == [2, 3]
    assert q["column"].tolist() == ["visited_at", "visited_at"]
    assert q["reason"].str.contains("cannot read this date and time").all()
