"""Write the small sample field exports under tests/data/exports/ and tests/data/rejected/.

Run ``.venv/bin/python -m tests.data.make_samples`` from the repository root; the
generated files are committed. What each file tests and its exact expected
counts are in tests/data/README.md and in :data:`EXPECTED` below (the tests
read them from here).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from warehouse.contract import INCIDENT_COLUMNS, VISIT_COLUMNS

HERE = Path(__file__).resolve().parent
EXPORTS = HERE / "exports"
REJECTED = HERE / "rejected"
#: Ingestion time the tests use (the future-dated rows lie after it).
NOW = "2026-11-30 12:00:00"
SECRET = "test-secret-not-for-production"

#: Every personal value written into the samples: none may reach any output.
PII_VALUES: tuple[str, ...] = (
    "张三丰",
    "李四光",
    "王小二",
    "趙六順",
    "13800138000",
    "13912345678",
    "贵州省兴义市桔山街道88号",
    "與李四發生爭吵",
    "与邻居王五吵架",
    "522301198001011234",
    "52230119900202567X",
    "522301197512120011",
    "布依族",
)
ID_ONLY = ("522301198001011234", "52230119900202567X")

#: Exact expected counts per file, without / with REVISIT_ID_SECRET, ingesting exports/ once.
EXPECTED: dict[str, dict[str, int]] = {
    "incidents_utf8.csv": {"read": 8, "accepted": 5, "quarantined": 2, "duplicates": 1},
    "visits_english.csv": {"read": 3, "accepted": 3, "quarantined": 0, "duplicates": 0},
    "visits_gb18030_id_only.csv": {"read": 3, "accepted": 1, "quarantined": 2, "duplicates": 0},
    "visits_gbk_traditional.csv": {"read": 4, "accepted": 4, "quarantined": 0, "duplicates": 0},
    "visits_serial_dates.xlsx": {"read": 5, "accepted": 4, "quarantined": 1, "duplicates": 0},
    "visits_utf8_bom.csv": {"read": 13, "accepted": 6, "quarantined": 5, "duplicates": 2},
}
EXPECTED_WITH_SECRET: dict[str, dict[str, int]] = {
    **EXPECTED,
    "visits_gb18030_id_only.csv": {"read": 3, "accepted": 3, "quarantined": 0, "duplicates": 0},
}
#: (file, source_row, column, reason prefix) of every quarantine line without the secret.
EXPECTED_QUARANTINE: list[tuple[str, int, str, str]] = [
    ("incidents_utf8.csv", 8, "category", "警情类别: unknown category"),
    ("incidents_utf8.csv", 9, "reported_at", "报警时间: lies in the future"),
    (
        "visits_gb18030_id_only.csv",
        2,
        "household_id",
        "household is identified only by the head's ID number",
    ),
    (
        "visits_gb18030_id_only.csv",
        3,
        "household_id",
        "household is identified only by the head's ID number",
    ),
    ("visits_serial_dates.xlsx", 7, "has_dispute", "是否存在矛盾纠纷: expected 是/否"),
    ("visits_utf8_bom.csv", 10, "household_id", "household is missing"),
    ("visits_utf8_bom.csv", 11, "visited_at", "走访时间: lies in the future"),
    ("visits_utf8_bom.csv", 12, "persons_met", "走访人数: negative count"),
    ("visits_utf8_bom.csv", 13, "household_type", "户类型: unknown category"),
    ("visits_utf8_bom.csv", 14, "visited_at", "走访时间: cannot read this date and time"),
]
SIMPLIFIED_V = {c.name: c.headers[0] for c in VISIT_COLUMNS}
TRADITIONAL_V = {c.name: c.headers[1] for c in VISIT_COLUMNS}
SIMPLIFIED_I = {c.name: c.headers[0] for c in INCIDENT_COLUMNS}


def _visit(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "visit_id": "V000",
        "household_id": "h001",
        "visited_at": "2026-10-05 09:30",
        "recorded_at": "",
        "officer_id": "110001",
        "station": "桔山派出所",
        "county": "兴义市",
        "township": "桔山街道",
        "village": "坪东社区",
        "persons_met": "2",
        "household_type": "普通户",
        "has_dispute": "否",
        "dispute_type": "",
        "dispute_severity": "",
        "dispute_parties": "0",
        "risk_hazards": "",
        "resolution_status": "",
        "mediation_agreement": "",
        "followup_due": "",
        "review_status": "已通过",
        # after every recorded_at of the samples (a review before entry is quarantined)
        "reviewed_at": "2026-10-12 10:00",
    }
    base.update(kw)
    return base


def _write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _visits_utf8_bom() -> None:
    """Simplified headers, UTF-8 with BOM, PII + protected + unknown columns, bad rows."""
    rows = [
        _visit(visit_id="V001", household_id="h001", visited_at="2026-10-05"),
        _visit(
            visit_id="V002",
            household_id="h002",
            visited_at="2026/10/6 9:30",
            has_dispute="是",
            dispute_type="婚恋家庭",
            dispute_severity="较大",
            dispute_parties="3",
            risk_hazards="刑满释放、吸毒",
            resolution_status="化解中",
            mediation_agreement="N",
            followup_due="2026/10/20",
        ),
        _visit(
            visit_id="V003",
            household_id="h003",
            visited_at="2026年10月7日 14:20",
            recorded_at="2026年10月7日 18:00",
            has_dispute="Y",
            dispute_type="邻里",
            dispute_severity="一般",
            risk_hazards="独居老人; 安全隐患",
            resolution_status="已化解",
            mediation_agreement="是",
            household_type="留守老人户",
        ),
        _visit(visit_id="V004", household_id="h004", review_status="待审核", reviewed_at=""),
        _visit(visit_id="V005", household_id="h005", recorded_at="2026-10-05 10:00"),
        _visit(visit_id="V006", household_id="h006", review_status="", reviewed_at=""),
        # exact re-send of V001 -> duplicate
        _visit(visit_id="V001", household_id="h001", visited_at="2026-10-05"),
        # V005 again with different content and a later recorded_at -> conflict, replaces
        _visit(
            visit_id="V005",
            household_id="h005",
            recorded_at="2026-10-08 10:00",
            has_dispute="true",
            dispute_type="债务经济",
            resolution_status="未化解",
        ),
        # bad rows, one of each kind
        _visit(visit_id="V101", household_id=""),
        _visit(visit_id="V102", household_id="h102", visited_at="2099-01-01 09:00"),
        _visit(visit_id="V103", household_id="h103", persons_met="-2"),
        _visit(visit_id="V104", household_id="h104", household_type="富裕户"),
        _visit(visit_id="V105", household_id="h105", visited_at="2026-13-45"),
    ]
    pii = [("张三丰", "13800138000", "贵州省兴义市桔山街道88号", "与邻居王五吵架", "布依族")] * len(
        rows
    )
    cols = list(SIMPLIFIED_V)
    header = [SIMPLIFIED_V[c] for c in cols] + [
        "户主姓名",
        "联系电话",
        "住址",
        "备注",
        "民族",
        "照片",
    ]
    body = [[r[c] for c in cols] + list(p) + ["photo.jpg"] for r, p in zip(rows, pii, strict=True)]
    _write_csv(EXPORTS / "visits_utf8_bom.csv", header, body, "utf-8-sig")


def _visits_gbk_traditional() -> None:
    """Traditional headers, GBK, shuffled column order; V001 also sent in visits_utf8_bom.csv.

    Files are read in name order, so this file's V001 is stored and the two
    V001 rows of visits_utf8_bom.csv are duplicates.
    """
    rows = [
        _visit(visit_id="V001", household_id="h001", visited_at="2026-10-05"),  # cross-file dup
        _visit(
            visit_id="V201",
            household_id="h201",
            household_type="留守兒童戶",
            has_dispute="是",
            dispute_type="鄰里",
            dispute_severity="重大",
            risk_hazards="嚴重精神障礙；輕生傾向",
            resolution_status="已移交",
            review_status="已通過",
            village="鄰里社區",
        ),
        _visit(visit_id="V202", household_id="h202", review_status="待審核", reviewed_at=""),
        _visit(visit_id="V203", household_id="h203", household_type="獨居戶"),
    ]
    cols = list(reversed(list(TRADITIONAL_V)))
    cols = cols[1::2] + cols[0::2]  # shuffled, deterministic
    header = [TRADITIONAL_V[c] for c in cols] + ["姓名"]
    body = [[r[c] for c in cols] + ["趙六順"] for r in rows]
    _write_csv(EXPORTS / "visits_gbk_traditional.csv", header, body, "gbk")


def _visits_gb18030() -> None:
    """GB18030 with 䶮 (not in GBK); two households known only by the head's ID number."""
    rows = [
        _visit(visit_id="V301", household_id="", village="䶮村"),
        _visit(visit_id="V302", household_id="", village="䶮村"),
        _visit(visit_id="V303", household_id="h303", village="䶮村"),
    ]
    cols = list(SIMPLIFIED_V)
    header = [SIMPLIFIED_V[c] for c in cols] + ["户主身份证号"]
    ids = [*ID_ONLY, "522301197512120011"]
    body = [[r[c] for c in cols] + [i] for r, i in zip(rows, ids, strict=True)]
    _write_csv(EXPORTS / "visits_gb18030_id_only.csv", header, body, "gb18030")


def _visits_english() -> None:
    """English canonical headers and codes, plain UTF-8, no review_status column."""
    rows = [
        _visit(visit_id="V401", household_id="h401", household_type="migrant_worker"),
        _visit(
            visit_id="V402",
            household_id="h402",
            has_dispute="yes",
            dispute_type="land_forest",
            dispute_severity="serious",
            risk_hazards="drug_use|fraud_target",
            resolution_status="mediating",
            mediation_agreement="false",
        ),
        _visit(visit_id="V403", household_id="h403", has_dispute="0"),
    ]
    cols = [c for c in SIMPLIFIED_V if c != "review_status"]
    for r in rows:
        if r["household_type"] == "普通户":
            r["household_type"] = "ordinary"
        r["has_dispute"] = {"否": "no"}.get(r["has_dispute"], r["has_dispute"])
    header = [*cols, "phone"]
    body = [[r[c] for c in cols] + ["13912345678"] for r in rows]
    _write_csv(EXPORTS / "visits_english.csv", header, body, "utf-8")


def _visits_xlsx() -> None:
    """Excel date cells, Excel serial numbers (numeric cells), a blank line, a bad boolean."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    cols = list(SIMPLIFIED_V)
    ws.append([SIMPLIFIED_V[c] for c in cols] + ["户主姓名", "身份证号"])
    serial = 46300.75  # 2026-10-05 18:00 local
    rows = [
        _visit(visit_id="V501", household_id="h501"),
        _visit(visit_id="V502", household_id="h502", has_dispute=1, persons_met=3),
        _visit(visit_id="V503", household_id="h503"),
        None,  # blank line: not a row
        _visit(visit_id="V504", household_id="h504"),
        _visit(visit_id="V505", household_id="h505", has_dispute="也许"),
    ]
    for i, r in enumerate(rows):
        if r is None:
            ws.append([])
            continue
        r["visited_at"] = dt.datetime(2026, 10, 4, 9, 0) + dt.timedelta(days=i)
        r["recorded_at"] = serial + i
        r["followup_due"] = dt.date(2026, 11, 1)
        r["persons_met"] = int(r["persons_met"])
        ws.append([r[c] for c in cols] + ["王小二", "522301198001011234"])
    wb.save(EXPORTS / "visits_serial_dates.xlsx")


def _incidents() -> None:
    """Incidents with Simplified headers, a duplicate, an unknown category, a future row."""
    cols = list(SIMPLIFIED_I)
    base = {
        "household_id": "h002",
        "reported_at": "2026-10-10 21:15",
        "recorded_at": "",
        "category": "家庭暴力",
        "county": "兴义市",
        "township": "桔山街道",
        "village": "坪东社区",
    }
    rows = [
        {**base, "incident_id": "J001"},
        {**base, "incident_id": "J002", "category": "打架斗殴", "household_id": "h003"},
        {**base, "incident_id": "J003", "category": "诈骗", "reported_at": "2026/10/11 8:05"},
        {**base, "incident_id": "J004", "category": "theft", "reported_at": "2026年10月12日 14:20"},
        {**base, "incident_id": "J005", "category": "家庭糾紛"},
        {**base, "incident_id": "J001"},  # duplicate
        {**base, "incident_id": "J101", "category": "吵闹"},  # unknown category
        {**base, "incident_id": "J102", "reported_at": "2099-05-01"},  # future
    ]
    header = [SIMPLIFIED_I[c] for c in cols] + ["姓名", "联系电话"]
    body = [[r[c] for c in cols] + ["李四光", "13800138000"] for r in rows]
    _write_csv(EXPORTS / "incidents_utf8.csv", header, body, "utf-8")


def _rejected() -> None:
    """Files that must be rejected as a whole (kept out of exports/ so the demo succeeds)."""
    cols = [c for c in SIMPLIFIED_V if c != "visited_at"]
    row = _visit(visit_id="V901")
    _write_csv(
        REJECTED / "visits_missing_visited_at.csv",
        [SIMPLIFIED_V[c] for c in cols],
        [[row[c] for c in cols]],
        "utf-8",
    )
    _write_csv(REJECTED / "unknown_table.csv", ["foo", "bar"], [["1", "2"]], "utf-8")
    (REJECTED / "not_text.csv").write_bytes(b"\xff\xfe\x00\x81\x30\xff\x00garbage")
    (REJECTED / "empty.csv").write_bytes(b"")
    # a binary file renamed .xlsx (not a zip archive)
    (REJECTED / "not_excel.xlsx").write_bytes(b"\x00\x01binary, not a workbook\xff" * 8)
    cols = [c for c in SIMPLIFIED_V if c != "household_id"]  # no 户编号 and no 户主身份证号
    _write_csv(
        REJECTED / "visits_no_household.csv",
        [SIMPLIFIED_V[c] for c in cols],
        [[row[c] for c in cols]],
        "utf-8",
    )


def main() -> None:
    """Write every sample file."""
    EXPORTS.mkdir(parents=True, exist_ok=True)
    REJECTED.mkdir(parents=True, exist_ok=True)
    _visits_utf8_bom()
    _visits_gbk_traditional()
    _visits_gb18030()
    _visits_english()
    _visits_xlsx()
    _incidents()
    _rejected()


if __name__ == "__main__":
    main()
