"""Ingestion integrity (issue #11): real-world headers and encodings, file kinds, counts.

Each test holds the failing input of a finding: headers written as field units
write them, a Big5 export read as GB18030 garbage, a workbook's second sheet lost,
a ragged line rejecting the whole file, counts that did not balance, a household id
silently rewritten, re-sent edits changing features of the past.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revisit.cli import app
from warehouse.contract import TIMEZONE
from warehouse.headers import SimilarHeaderError, header_stem, load_header_map, map_headers
from warehouse.ingest import ingest_paths
from warehouse.store import read_visits
from warehouse.versions import current_versions

NOW = pd.Timestamp("2026-11-30 12:00", tz=TIMEZONE)
HEADER = [
    "走访编号", "户编号", "走访时间", "录入时间", "县（市、新区）", "乡镇（街道）", "村（社区）",
    "是否存在矛盾纠纷", "涉及人数", "审核状态",
]  # fmt: skip


def _row(i: int, hh: str = "", parties: int = 2, village: str = "坪东社区", rec: str = "") -> list:
    return [
        f"V{i:03d}", hh or f"H{i:03d}", "2026-10-05 09:30", rec or "2026-10-05 18:00",
        "兴义市", "桔山街道", village, "是", parties, "已通过",
    ]  # fmt: skip


def _csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    pd.DataFrame(rows, columns=header).to_csv(buf, index=False)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


# 1. headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("户编号(ID)", "household_id"),
        ("户编号（ID）", "household_id"),
        ("涉及人数,人", "dispute_parties"),
        ("涉及人数（人）", "dispute_parties"),
        ("走访\n时间", "visited_at"),
        (" 走访时间 [时间] ", "visited_at"),
        ("ｖｉｓｉｔ＿ｉｄ", "visit_id"),
        ("县(市、新区)", "county"),
    ],
)
def test_headers_written_as_field_units_write_them_are_recognised(
    written: str, canonical: str
) -> None:
    header = [written if h == {v: k for k, v in _CANON.items()}[canonical] else h for h in HEADER]
    hmap = map_headers(header)
    assert hmap.columns[written] == canonical
    assert hmap.ignored == []


_CANON = {
    "走访编号": "visit_id", "户编号": "household_id", "走访时间": "visited_at",
    "录入时间": "recorded_at", "县（市、新区）": "county", "乡镇（街道）": "township",
    "村（社区）": "village", "是否存在矛盾纠纷": "has_dispute", "涉及人数": "dispute_parties",
    "审核状态": "review_status",
}  # fmt: skip


def test_unit_header_keeps_household_ids_and_dispute_counts(tmp_path: Path) -> None:
    # 户编号(ID) next to 户主身份证号 once made every household an h_<HMAC>; 涉及人数,人 lost counts
    header = [*HEADER, "户主身份证号"]
    header[1], header[8] = "户编号(ID)", "涉及人数,人"
    rows = [[*_row(i, parties=3), "522301198001011234"] for i in range(1, 4)]
    path = _csv(tmp_path / "v.csv", header, rows)
    report = ingest_paths([path], tmp_path / "home", "secret", now=NOW)
    assert report.accepted == 3
    visits = read_visits(tmp_path / "home")
    assert sorted(visits["household_id"]) == ["H001", "H002", "H003"]
    assert list(visits["dispute_parties"]) == [3, 3, 3]


def test_header_stem_strips_brackets_and_units() -> None:
    assert header_stem("户编号（ID）") == "户编号"
    assert header_stem("金额（元）") == "金额"
    assert header_stem("涉及人数,人") == "涉及人数"
    assert header_stem("[时间]走访时间") == "走访时间"
    assert header_stem("县（市、新区）") == "县"


def test_data_column_resembling_a_contract_header_stops_the_file(tmp_path: Path) -> None:
    header = [*HEADER[:1], "户编码", *HEADER[2:], "户主身份证号"]
    rows = [[*_row(1), "522301198001011234"]]
    path = _csv(tmp_path / "v.csv", header, rows)
    report = ingest_paths([path], tmp_path / "home", "secret", now=NOW)
    (rejected,) = report.rejected
    assert "'户编码'" in (rejected.rejected or "") and "'户编号'" in (rejected.rejected or "")
    assert read_visits(tmp_path / "home").empty
    with pytest.raises(SimilarHeaderError):
        from warehouse.ingest import (
            FileReport,
            _ingest_file,  # the error type, raised per file
        )

        _ingest_file(path, FileReport("v.csv"), "secret", NOW, False)


def test_empty_column_resembling_a_header_is_only_ignored(tmp_path: Path) -> None:
    header = [*HEADER, "户编码"]
    path = _csv(tmp_path / "v.csv", header, [[*_row(1), None]])
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert report.accepted == 1 and not report.rejected


def test_header_map_maps_a_deployments_own_headers(tmp_path: Path) -> None:
    header = ["户号" if h == "户编号" else h for h in HEADER] + ["户编码"]
    path = _csv(tmp_path / "v.csv", header, [[*_row(1), "x"]])
    mapfile = tmp_path / "map.toml"
    mapfile.write_text('[headers]\n"户号" = "household_id"\n"户编码" = "ignore"\n', "utf-8")
    report = ingest_paths(
        [path], tmp_path / "home", None, now=NOW, header_map=load_header_map(mapfile)
    )
    assert report.accepted == 1
    assert list(read_visits(tmp_path / "home")["household_id"]) == ["H001"]


def test_example_header_map_in_docs_loads() -> None:
    mapping = load_header_map(Path(__file__).parents[1] / "docs" / "header_map.example.toml")
    assert mapping["户号"] == "household_id" and mapping["审核人"] == "ignore"


def test_dry_run_prints_the_mapping_and_counts_and_writes_nothing(tmp_path: Path) -> None:
    header = [*HEADER, "联系电话"]
    header[1] = "户编号(ID)"
    path = _csv(tmp_path / "in" / "v.csv", header, [[*_row(1), "13800138000"]])
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--home", str(home), "--dry-run", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"户编号\(ID\)\s+→ household_id", result.output)
    assert "联系电话" in result.output and "dropped: personal data" in result.output
    assert "dry run" in result.output
    assert "13800138000" not in result.output
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


def test_household_change_for_a_known_visit_is_a_per_row_conflict(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _csv(tmp_path / "a.csv", HEADER, [_row(1), _row(2)])
    ingest_paths([first], home, None, now=NOW)
    again = _csv(tmp_path / "b.csv", HEADER, [_row(1, hh="h_0123456789abcdef"), _row(2, parties=5)])
    report = ingest_paths([again], home, None, now=NOW)
    rep = report.files[0]
    assert (rep.read, rep.accepted, rep.quarantined) == (2, 1, 1)
    q = pd.read_csv(report.quarantine_file, encoding="utf-8-sig", dtype=str)
    assert list(zip(q["source_row"], q["record_id"], q["column"], strict=True)) == [
        ("2", "V001", "household_id")
    ]
    assert "never rewritten" in q["reason"].iloc[0]
    visits = read_visits(home)
    assert set(visits["household_id"]) == {"H001", "H002"}


# 2. encodings and file kinds -----------------------------------------------------------

TRADITIONAL = [
    "走訪編號", "戶編號", "走訪時間", "錄入時間", "縣（市、新區）", "鄉鎮（街道）", "村（社區）",
    "是否存在矛盾糾紛", "涉及人數", "審核狀態",
]  # fmt: skip


@pytest.mark.parametrize(
    ("encoding", "header", "village"),
    [
        ("utf-8", HEADER, "坪东社区"),
        ("utf-8-sig", HEADER, "坪东社区"),
        ("gb18030", HEADER, "䶮村"),
        ("gbk", HEADER, "坪东社区"),
        ("big5", TRADITIONAL, "坪東社區"),
        ("gb18030", TRADITIONAL, "坪東社區"),
    ],
)
def test_each_encoding_is_decoded_properly(
    tmp_path: Path, encoding: str, header: list[str], village: str
) -> None:
    rows = [_row(i, village=village) for i in range(1, 6)]
    if header is TRADITIONAL:
        for r in rows:
            r[4:6] = ["興義市", "桔山街道"]
            r[9] = "已通過"
    path = _csv(tmp_path / "v.csv", header, rows, encoding=encoding)
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert report.accepted == 5, report.files[0]
    visits = read_visits(tmp_path / "home")
    assert set(visits["village"]) == {village}


def test_garbled_text_is_refused_not_stored(tmp_path: Path) -> None:
    # valid GB18030 byte pairs that spell no text: mojibake must not reach the warehouse
    head = ",".join(HEADER).encode("gb18030") + b"\r\n"
    junk = bytes([0x81, 0x30, 0x89, 0x38] * 3 + [0xFE, 0xA0, 0xA1, 0xFE] * 40)
    path = tmp_path / "v.csv"
    path.write_bytes(head + b"V1,H1,2026-10-05 09:30,," + junk + b",x,x,\xca\xc7,1,\r\n")
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    (rejected,) = report.rejected
    assert "garbled" in (rejected.rejected or "") or "valid in none" in (rejected.rejected or "")
    assert read_visits(tmp_path / "home").empty


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, rows in sheets.items():
            pd.DataFrame(rows, columns=HEADER).to_excel(xl, sheet_name=name, index=False)
    return path


def test_workbook_saved_as_csv_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "v.xlsx", {"S1": [_row(1), _row(2)]})
    renamed = path.rename(tmp_path / "v.csv")
    report = ingest_paths([renamed], tmp_path / "home", None, now=NOW)
    assert report.accepted == 2 and not report.rejected


def test_every_sheet_of_a_workbook_is_read(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(1, 6)]
    path = _workbook(tmp_path / "v.xlsx", {"一月": rows[:3], "二月": rows[3:], "空": []})
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert (report.read, report.accepted) == (5, 5)
    visits = read_visits(tmp_path / "home")
    assert sorted(visits["source_file"].unique()) == ["v.xlsx", "v.xlsx#二月"]


def test_sheet_of_another_table_refuses_the_workbook(tmp_path: Path) -> None:
    path = tmp_path / "v.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame([_row(1)], columns=HEADER).to_excel(xl, sheet_name="a", index=False)
        pd.DataFrame([["x", "y"]], columns=["照片", "说明"]).to_excel(
            xl, sheet_name="b", index=False
        )
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    assert report.rejected and "sheet 'v.xlsx#b'" in (report.rejected[0].rejected or "")
    assert read_visits(tmp_path / "home").empty


def test_ragged_line_quarantines_that_line_only(tmp_path: Path) -> None:
    path = _csv(tmp_path / "v.csv", HEADER, [_row(1), _row(2), _row(3)])
    lines = path.read_text("utf-8").splitlines()
    lines[2] += ",extra,fields"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    report = ingest_paths([path], tmp_path / "home", None, now=NOW)
    rep = report.files[0]
    assert (rep.read, rep.accepted, rep.quarantined) == (3, 2, 1)
    q = pd.read_csv(report.quarantine_file, encoding="utf-8-sig", dtype=str)
    assert list(q["source_row"]) == ["3"] and "ragged line" in q["reason"].iloc[0]


def test_header_only_file_is_reported_as_no_rows(tmp_path: Path) -> None:
    path = _csv(tmp_path / "v.csv", HEADER, [])
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--home", str(tmp_path / "h"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "no rows" in result.output


def test_file_whose_every_row_is_quarantined_exits_non_zero(tmp_path: Path) -> None:
    rows = [_row(1), _row(2)]
    for r in rows:
        r[2] = "not a time"
    path = _csv(tmp_path / "v.csv", HEADER, rows)
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--home", str(tmp_path / "h"), "--no-progress"]
    )
    assert result.exit_code == 1
    assert "every one of its 2 rows was quarantined" in "".join(result.output.split("\n"))


def test_cli_lists_the_quarantine_reasons_without_the_values(tmp_path: Path) -> None:
    """The reasons were only in the quarantine file: the command said where, not why."""
    rows = [_row(i) for i in range(1, 6)]
    for r in rows[:2]:
        r[2] = "not a time 13800138000"
    rows[2][1] = ""  # no household
    path = _csv(tmp_path / "v.csv", HEADER, rows)
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--home", str(tmp_path / "h"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert re.search(r"2 rows: \S+: cannot read this date and time", text), text
    assert re.search(r"1 row: household is missing", text), text
    assert "13800138000" not in result.output


def test_counts_balance_when_a_visit_id_repeats_within_a_file(tmp_path: Path) -> None:
    rows = [_row(1), _row(2), _row(3), _row(3)]  # V003 twice, same content
    report = ingest_paths([_csv(tmp_path / "v.csv", HEADER, rows)], tmp_path / "h", None, now=NOW)
    rep = report.files[0]
    assert (rep.read, rep.accepted, rep.duplicates) == (4, 3, 1)
    assert len(read_visits(tmp_path / "h")) == rep.accepted
    edited = [_row(4), _row(4, parties=7)]  # V004 twice, edited: two versions, both kept
    report = ingest_paths([_csv(tmp_path / "w.csv", HEADER, edited)], tmp_path / "h", None, now=NOW)
    rep = report.files[0]
    assert rep.read == rep.accepted + rep.quarantined + rep.duplicates == 2
    stored = read_visits(tmp_path / "h")
    assert len(stored) == 3 + rep.accepted
    current = current_versions(stored, "visits").set_index("visit_id")
    assert current.loc["V004", "dispute_parties"] == 7  # the later row is current


# 5. every version kept ---------------------------------------------------------------


def test_missing_recorded_time_is_the_ingestion_time_not_the_event_time(tmp_path: Path) -> None:
    rows = [_row(1)]
    rows[0][3] = None
    ingest_paths([_csv(tmp_path / "v.csv", HEADER, rows)], tmp_path / "h", None, now=NOW)
    assert read_visits(tmp_path / "h")["recorded_at"].tolist() == [NOW]


def test_features_at_t_are_unchanged_by_an_edited_resend_recorded_after_t(
    tmp_path: Path,
) -> None:
    from features.build import build_feature_table

    home = tmp_path / "h"
    rows = [_row(i, parties=1) for i in range(1, 5)]
    ingest_paths([_csv(tmp_path / "a.csv", HEADER, rows)], home, None, now=NOW)
    t = pd.Timestamp("2026-10-20", tz=TIMEZONE)
    later = pd.Timestamp("2026-11-10", tz=TIMEZONE)

    def features_bytes(when: pd.Timestamp) -> bytes:
        buf = io.BytesIO()
        build_feature_table(home, when, with_labels=False).to_parquet(buf, index=False)
        return buf.getvalue()

    before_t, before_later = features_bytes(t), features_bytes(later)
    edited = [_row(1, rec="2026-10-25 08:00"), _row(2, rec="2026-10-25 08:00")]
    for r in edited:
        r[7] = "否"  # the dispute was entered by mistake: edited, re-sent, recorded after t
    report = ingest_paths([_csv(tmp_path / "b.csv", HEADER, edited)], home, None, now=NOW)
    assert report.accepted == 2 and report.totals["conflicts"] == 2
    assert len(read_visits(home)) == 6  # every version kept
    assert features_bytes(t) == before_t
    assert features_bytes(later) != before_later  # the edit counts once it is known


def test_incident_edit_recorded_after_t_changes_nothing_at_t(tmp_path: Path) -> None:
    from features.build import build_feature_table

    home = tmp_path / "h"
    ingest_paths([_csv(tmp_path / "v.csv", HEADER, [_row(1)])], home, None, now=NOW)
    inc_header = ["警情编号", "户编号", "报警时间", "录入时间", "警情类别", *HEADER[4:7]]
    first = [
        [
            "J1",
            "H001",
            "2026-10-10 21:00",
            "2026-10-10 22:00",
            "盗窃",
            "兴义市",
            "桔山街道",
            "坪东社区",
        ]
    ]
    ingest_paths([_csv(tmp_path / "i1.csv", inc_header, first)], home, None, now=NOW)
    t = pd.Timestamp("2026-10-20", tz=TIMEZONE)
    before = build_feature_table(home, t, with_labels=False)
    edited = [[*first[0][:3], "2026-10-25 08:00", "家庭暴力", *first[0][5:]]]
    report = ingest_paths([_csv(tmp_path / "i2.csv", inc_header, edited)], home, None, now=NOW)
    assert report.totals["conflicts"] == 1
    after = build_feature_table(home, t, with_labels=False)
    pd.testing.assert_frame_equal(before, after)
    assert after["incidents_all_escalations"].iloc[0] == 0
    later = build_feature_table(home, pd.Timestamp("2026-11-01", tz=TIMEZONE), with_labels=False)
    assert later["incidents_all_escalations"].iloc[0] == 1  # the edit counts once known
    assert later["incidents_all_count"].iloc[0] == 1  # one incident, not two versions
