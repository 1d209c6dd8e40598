"""Regressions found by a newcomer running `revisit ingest` on a clean clone.

Each test feeds the failing input: silent same-id conflicts, a visits file without any
household column, an empty folder, implausible timestamps and counts, noisy warnings and
library internals in error messages, repeated quarantine lines.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revisit.cli import app
from tests.data.make_samples import REJECTED
from warehouse.contract import TIMEZONE
from warehouse.ingest import (
    CONFLICT_COLUMNS,
    FileRejectedError,
    NoInputFilesError,
    discover_files,
    ingest_paths,
    map_headers,
)
from warehouse.schemas import MAX_DISPUTE_PARTIES, MAX_PERSONS_MET
from warehouse.store import read_incidents, read_visits

NOW = pd.Timestamp("2026-11-30 12:00", tz=TIMEZONE)
INCIDENT_HEADER = (
    "警情编号,户编号,报警时间,录入时间,警情类别,县（市、新区）,乡镇（街道）,村（社区）,姓名"
)
VISIT_HEADER = (
    "走访编号,户编号,走访时间,录入时间,县（市、新区）,乡镇（街道）,村（社区）,"
    "是否存在矛盾纠纷,走访人数,涉及人数,审核状态,审核时间"
)


def _write(path: Path, header: str, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _quarantine(report) -> list[tuple[str, int, str, str]]:
    assert report.quarantine_file is not None
    q = pd.read_csv(report.quarantine_file, encoding="utf-8-sig", dtype=str)
    return list(
        zip(q["source_file"], q["source_row"].astype(int), q["column"], q["reason"], strict=True)
    )


# 1. conflicts are reported, with both versions' lineage and the differing columns ----------


def _conflicting_incidents(tmp_path: Path) -> list[Path]:
    a = _write(
        tmp_path / "in" / "a_incidents.csv",
        INCIDENT_HEADER,
        "JQ000001897,h1,2026-10-10 21:15,2026-10-10 21:40,家庭暴力,兴义市,桔山街道,坪东社区,张三丰",
        "JQ000001898,h2,2026-10-11 08:00,,盗窃,兴义市,桔山街道,坪东社区,张三丰",
    )
    b = _write(
        tmp_path / "in" / "b_incidents.csv",
        INCIDENT_HEADER,
        "JQ000001899,h3,2026-10-12 08:00,,诈骗,兴义市,桔山街道,坪东社区,李四光",
        "JQ000001897,h1,2026-10-10 21:15,2026-10-11 09:00,盗窃,兴义市,桔山街道,坪东社区,李四光",
    )
    return [a, b]


def test_conflicting_incident_is_written_to_the_conflicts_file_with_exact_content(
    tmp_path: Path,
) -> None:
    report = ingest_paths(_conflicting_incidents(tmp_path), tmp_path / "home", None, now=NOW)
    assert report.totals["conflicts"] == 1
    path = report.conflicts_file
    assert path == tmp_path / "home" / "quarantine" / f"{report.run_id}-conflicts.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    got = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert tuple(got.columns) == CONFLICT_COLUMNS
    assert got.to_dict("records") == [
        {
            "table": "incidents",
            "id": "JQ000001897",
            "kept_source_file": "b_incidents.csv",
            "kept_source_row": "3",
            "kept_recorded_at": "2026-10-11T09:00:00+08:00",
            "replaced_source_file": "a_incidents.csv",
            "replaced_source_row": "2",
            "replaced_recorded_at": "2026-10-10T21:40:00+08:00",
            "differing_columns": "recorded_at, category",
            "changes": "recorded_at: 2026-10-10T21:40:00+08:00 → 2026-10-11T09:00:00+08:00; "
            "category: domestic_violence → theft",
        }
    ]
    # both versions are kept; the later recorded_at is the current one
    stored = read_incidents(tmp_path / "home")
    versions = stored[stored["incident_id"] == "JQ000001897"]
    assert list(versions["category"]) == ["domestic_violence", "theft"]
    log = json.loads((tmp_path / "home" / "ingest_log.jsonl").read_text(encoding="utf-8"))
    assert log["totals"]["conflicts"] == 1
    assert log["conflicts_file"] == path.name
    assert [f["conflicts"] for f in log["files"]] == [0, 1]


def test_cli_prints_the_conflict_count_and_the_conflicts_file(tmp_path: Path) -> None:
    _conflicting_incidents(tmp_path)
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "in"), "--home", str(home), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    out = "".join(result.output.split())  # rich wraps long lines, even inside a file name
    (conflicts,) = (home / "quarantine").glob("*-conflicts.csv")
    assert "1conflicts(sameid,differentcontent" in out
    assert conflicts.name in out


def test_run_without_conflicts_writes_no_conflicts_file(tmp_path: Path) -> None:
    a = _write(
        tmp_path / "a.csv",
        INCIDENT_HEADER,
        "JQ1,h1,2026-10-10 21:15,,家庭暴力,兴义市,桔山街道,坪东社区,张三丰",
    )
    report = ingest_paths([a, a], tmp_path / "home", None, now=NOW)
    assert report.totals["duplicates"] == 1 and report.conflicts_file is None


# 2. a file with neither 户编号 nor 户主身份证号 is rejected -----------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [
            "走访编号",
            "走访时间",
            "县（市、新区）",
            "乡镇（街道）",
            "村（社区）",
            "是否存在矛盾纠纷",
        ],
        ["警情编号", "报警时间", "警情类别", "县（市、新区）", "乡镇（街道）", "村（社区）"],
    ],
    ids=["visits", "incidents"],
)
def test_file_without_household_or_id_number_column_is_rejected(headers: list[str]) -> None:
    with pytest.raises(FileRejectedError, match=r"needs 户编号 \(household_id\) or 户主身份证号"):
        map_headers(headers)


def test_id_number_column_alone_is_enough_to_be_accepted() -> None:
    hmap = map_headers(
        ["走访编号", "走访时间", "县（市、新区）", "乡镇（街道）", "村（社区）"]
        + ["是否存在矛盾纠纷", "户主身份证号"]
    )
    assert hmap.id_number == "户主身份证号"


def test_sample_without_household_column_is_rejected_not_quarantined(tmp_path: Path) -> None:
    report = ingest_paths([REJECTED / "visits_no_household.csv"], tmp_path, None, now=NOW)
    assert report.files[0].rejected is not None
    assert "needs 户编号 (household_id) or 户主身份证号" in report.files[0].rejected
    assert (report.read, report.quarantined, report.quarantine_file) == (0, 0, None)


# 3. a folder without exports is an error --------------------------------------------------


def test_empty_folder_is_an_error_naming_it_and_the_extensions(tmp_path: Path) -> None:
    empty = tmp_path / "emptydir"
    empty.mkdir()
    (empty / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(NoInputFilesError, match=r"emptydir.*\.xlsx, \.csv, \.parquet"):
        discover_files([empty])
    result = CliRunner().invoke(app, ["ingest", str(empty), "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert "emptydir" in result.output and ".xlsx, .csv, .parquet" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "h" / "ingest_log.jsonl").exists()


# 4. implausible values are quarantined ------------------------------------------------------


def test_implausible_visit_times_and_counts_are_quarantined(tmp_path: Path) -> None:
    ok = "兴义市,桔山街道,坪东社区,否"
    path = _write(
        tmp_path / "v.csv",
        VISIT_HEADER,
        f"V1,h1,2026-10-05 09:00,2026-10-05 08:30,{ok},2,0,已通过,2026-10-05 08:10",  # within 1 h
        f"V2,h2,2026-10-05 09:00,2026-10-04 09:00,{ok},2,0,已通过,",  # entered a day early
        f"V3,h3,2026-10-05 09:00,2026-10-05 12:00,{ok},2,0,已通过,2026-10-05 10:00",  # review
        f"V4,h4,2026-10-05 09:00,,{ok},{MAX_PERSONS_MET},{MAX_DISPUTE_PARTIES},已通过,",
        f"V5,h5,2026-10-05 09:00,,{ok},{MAX_PERSONS_MET + 1},0,已通过,",
        f"V6,h6,2026-10-05 09:00,,{ok},2,{MAX_DISPUTE_PARTIES + 1},已通过,",
    )
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert (report.read, report.accepted, report.quarantined) == (6, 2, 4)
    assert [r[:3] for r in _quarantine(report)] == [
        ("v.csv", 3, "recorded_at"),
        ("v.csv", 4, "reviewed_at"),
        ("v.csv", 6, "persons_met"),
        ("v.csv", 7, "dispute_parties"),
    ]
    reasons = [r[3] for r in _quarantine(report)]
    assert reasons[0].startswith("录入时间: entered before the visit happened")
    assert reasons[1].startswith("审核时间: reviewed before the record was entered")
    assert reasons[2] == "走访人数: implausibly large count (more than 50)"
    assert reasons[3] == "涉及人数: implausibly large count (more than 500)"
    assert set(read_visits(tmp_path / "home")["visit_id"]) == {"V1", "V4"}


def test_incident_entered_before_it_was_reported_is_quarantined(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "i.csv",
        INCIDENT_HEADER,
        "J1,h1,2026-10-10 21:15,2026-10-10 20:30,家庭暴力,兴义市,桔山街道,坪东社区,",
        "J2,h1,2026-10-10 21:15,2026-10-10 20:00,家庭暴力,兴义市,桔山街道,坪东社区,",
    )
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert (report.accepted, report.quarantined) == (1, 1)
    ((file, row, column, reason),) = _quarantine(report)
    assert (file, row, column) == ("i.csv", 3, "recorded_at")
    assert reason.startswith("录入时间: entered before the incident was reported")


# 5. one summary line for dropped columns, plain error words, repeats counted ---------------


def test_dropped_personal_columns_are_logged_once_per_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = [
        _write(
            tmp_path / f"i{k}.csv",
            INCIDENT_HEADER,
            f"J{k},h1,2026-10-10 21:15,,家庭暴力,兴义市,桔山街道,坪东社区,张三丰",
        )
        for k in range(5)
    ]
    caplog.set_level(logging.WARNING, logger="warehouse.ingest")
    ingest_paths(paths, tmp_path / "home", None, now=NOW)
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped == ["dropped personal columns 姓名 from 5 files"]


@pytest.mark.parametrize(
    ("name", "reason", "internal"),
    [
        (
            "empty.csv",
            "the file is empty: expected a header row with columns such as 走访编号",
            "No columns to parse",
        ),
        ("not_excel.xlsx", "not a readable Excel workbook (.xlsx): ", "Calamine"),
    ],
)
def test_unreadable_file_errors_are_plain_words(
    tmp_path: Path, name: str, reason: str, internal: str
) -> None:
    report = ingest_paths([REJECTED / name], tmp_path, None, now=NOW)
    message = report.files[0].rejected or ""
    assert message.startswith(reason), message
    assert internal not in message


def test_reingest_counts_quarantined_rows_already_seen_by_an_earlier_run(
    tmp_path: Path,
) -> None:
    header = INCIDENT_HEADER
    good = "J1,h1,2026-10-10 21:15,,家庭暴力,兴义市,桔山街道,坪东社区,"
    bad = "J2,h1,2026-10-10 21:15,,吵闹,兴义市,桔山街道,坪东社区,"
    first = ingest_paths([_write(tmp_path / "a.csv", header, good, bad)], tmp_path / "h", None)
    assert (first.quarantined, first.totals["quarantine_repeats"]) == (1, 0)
    # the same bad row, re-sent in another file next to a new bad row
    new_bad = "J3,h1,2026-10-10 21:15,,打人,兴义市,桔山街道,坪东社区,"
    again = _write(tmp_path / "b.csv", header, bad, new_bad)
    second = ingest_paths([again], tmp_path / "h", None, now=NOW)
    assert (second.quarantined, second.totals["quarantine_repeats"]) == (2, 1)
    assert second.quarantine_file != first.quarantine_file  # each run keeps its own record
    result = CliRunner().invoke(
        app, ["ingest", str(again), "--home", str(tmp_path / "h"), "--no-progress"]
    )
    out = " ".join(result.output.split())
    assert "2 of the 2 quarantined rows were already quarantined by an earlier run" in out
