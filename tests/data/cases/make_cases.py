"""Write a small hand-made field export of four households modelled on campaign cases.

Run ``python -m tests.data.cases.make_cases`` (from the repository root) to rewrite
``cases.xlsx`` (visits) and ``cases_incidents.xlsx`` (incidents) beside this file
with the default jurisdiction; tests call :func:`write_cases` with the names of a
village that exists in the simulated prefecture they append the cases to.

The four households (``户编号`` ``CASE-A`` … ``CASE-D``), with the facts an
experienced officer would weigh:

(a) ``CASE-A`` 重组家庭 (reconstituted family): an inheritance dispute over the
    house (房产继承, 较大) that has stayed open for six months (化解中 → 未化解,
    no mediation agreement, a follow-up overdue), a stepson released from prison
    (刑满释放) living with the family, and a 家庭纠纷 call two weeks before the
    as-of date.
(b) ``CASE-B``: a decade-old land dispute with the neighbours (土地山林, 一般),
    mediated for months and settled (已化解) with a signed mediation agreement;
    the latest visit finds no dispute.
(c) ``CASE-C``: an elderly couple targeted by a "loan" fraud (涉诈 hazard, a 诈骗
    incident); no dispute at any visit.
(d) ``CASE-D``: a marriage quarrel (婚恋家庭) after which the wife attempted
    self-harm (自杀自伤 incident); later visits record 轻生倾向 and the dispute,
    raised to 较大, is still being mediated.

Dates are days before ``end`` (the last day of the export window, Asia/Shanghai
local time), so the same cases fit any simulated window. Personal columns
(户主姓名, 户主身份证号, 联系电话, 住址, 备注) are filled with made-up values as a field
export would have them; ingestion must drop them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from warehouse.contract import INCIDENT_COLUMNS, VISIT_COLUMNS

HERE = Path(__file__).resolve().parent

#: Default jurisdiction of the committed files (a township of the reference prefecture).
DEFAULT_COUNTY = "兴义市"
DEFAULT_TOWNSHIP = "桔山街道"
DEFAULT_VILLAGE = "坪东社区"
DEFAULT_END = dt.date(2026, 10, 31)

VISITS_FILE = "cases.xlsx"
INCIDENTS_FILE = "cases_incidents.xlsx"

CASE_IDS: dict[str, str] = {"a": "CASE-A", "b": "CASE-B", "c": "CASE-C", "d": "CASE-D"}

#: Made-up personal data per case: head name, ID number, phone, address (must be dropped).
PII: dict[str, tuple[str, str, str, str]] = {
    "a": ("罗某华", "522301197003150016", "13800000001", "一组12号"),
    "b": ("王某清", "522301196508220031", "13800000002", "三组5号"),
    "c": ("陈某英", "522301194901100048", "13800000003", "二组7号"),
    "d": ("杨某芳", "522301198811060025", "13800000004", "四组21号"),
}


def _header(columns: tuple, name: str) -> str:
    for col in columns:
        if col.name == name:
            return str(col.headers[0])
    raise KeyError(f"expected a contract column named {name!r}, found none")


VISIT_HEADERS: tuple[str, ...] = (
    _header(VISIT_COLUMNS, "visit_id"),
    _header(VISIT_COLUMNS, "household_id"),
    "户主姓名",
    "户主身份证号",
    "联系电话",
    "住址",
    _header(VISIT_COLUMNS, "visited_at"),
    _header(VISIT_COLUMNS, "recorded_at"),
    _header(VISIT_COLUMNS, "officer_id"),
    _header(VISIT_COLUMNS, "station"),
    _header(VISIT_COLUMNS, "county"),
    _header(VISIT_COLUMNS, "township"),
    _header(VISIT_COLUMNS, "village"),
    _header(VISIT_COLUMNS, "persons_met"),
    _header(VISIT_COLUMNS, "household_type"),
    _header(VISIT_COLUMNS, "has_dispute"),
    _header(VISIT_COLUMNS, "dispute_type"),
    _header(VISIT_COLUMNS, "dispute_severity"),
    _header(VISIT_COLUMNS, "dispute_parties"),
    _header(VISIT_COLUMNS, "risk_hazards"),
    _header(VISIT_COLUMNS, "resolution_status"),
    _header(VISIT_COLUMNS, "mediation_agreement"),
    _header(VISIT_COLUMNS, "followup_due"),
    _header(VISIT_COLUMNS, "review_status"),
    _header(VISIT_COLUMNS, "reviewed_at"),
    "备注",
)

INCIDENT_HEADERS: tuple[str, ...] = (
    _header(INCIDENT_COLUMNS, "incident_id"),
    _header(INCIDENT_COLUMNS, "household_id"),
    "姓名",
    "联系电话",
    _header(INCIDENT_COLUMNS, "reported_at"),
    _header(INCIDENT_COLUMNS, "recorded_at"),
    _header(INCIDENT_COLUMNS, "category"),
    _header(INCIDENT_COLUMNS, "county"),
    _header(INCIDENT_COLUMNS, "township"),
    _header(INCIDENT_COLUMNS, "village"),
    "备注",
)


@dataclass(frozen=True)
class Visit:
    """One visit of a case: ``days`` before the end of the window, what was found."""

    days: int
    persons: int
    household_type: str
    dispute: tuple[str, str, int, str, str] | None  # type, severity, parties, status, agreement
    hazards: str
    followup_in: int | None
    note: str


@dataclass(frozen=True)
class Incident:
    """One police incident of a case: ``days`` before the end, category label, note."""

    days: int
    category: str
    note: str


RECON = "重组家庭"
ORDINARY = "普通户"
ELDERLY = "留守老人户"

#: The visit histories (Simplified labels of warehouse.contract's vocabularies).
VISITS: dict[str, tuple[Visit, ...]] = {
    "a": (
        Visit(
            170,
            3,
            RECON,
            ("房产继承", "较大", 5, "化解中", "否"),
            "刑满释放",
            15,
            "继子出狱后要求分房",
        ),
        Visit(
            150, 4, RECON, ("房产继承", "较大", 5, "化解中", "否"), "刑满释放", 15, "双方仍争房产"
        ),
        Visit(120, 3, RECON, ("房产继承", "较大", 5, "未化解", "否"), "刑满释放", 15, "调解未果"),
        Visit(
            90, 3, RECON, ("房产继承", "较大", 5, "未化解", "否"), "刑满释放", 15, "继子情绪激动"
        ),
        Visit(60, 2, RECON, ("房产继承", "较大", 5, "未化解", "否"), "刑满释放", 15, "拒绝调解"),
        Visit(35, 3, RECON, ("房产继承", "较大", 6, "未化解", "否"), "刑满释放", 7, "扬言动手"),
        Visit(12, 3, RECON, ("房产继承", "较大", 6, "未化解", "否"), "刑满释放", 7, "报警后回访"),
    ),
    "b": (
        Visit(
            175,
            2,
            ORDINARY,
            ("土地山林", "一般", 6, "化解中", "否"),
            "",
            30,
            "与邻居田界争议十余年",
        ),
        Visit(140, 2, ORDINARY, ("土地山林", "一般", 6, "化解中", "否"), "", 30, "村委会参与调解"),
        Visit(100, 3, ORDINARY, ("土地山林", "一般", 6, "化解中", "否"), "", 30, "重新丈量田界"),
        Visit(55, 3, ORDINARY, ("土地山林", "一般", 6, "已化解", "是"), "", None, "签订调解协议"),
        Visit(18, 2, ORDINARY, None, "", None, "协议已履行，关系缓和"),
    ),
    "c": (
        Visit(165, 2, ELDERLY, None, "", None, "老两口在家"),
        Visit(60, 2, ELDERLY, None, "涉诈", None, "被冒充贷款平台骗走积蓄"),
        Visit(25, 2, ELDERLY, None, "涉诈", None, "已开展反诈宣传"),
    ),
    "d": (
        Visit(150, 3, ORDINARY, None, "", None, "家庭和睦"),
        Visit(
            48, 2, ORDINARY, ("婚恋家庭", "一般", 2, "化解中", "否"), "", 30, "夫妻因外出务工争吵"
        ),
        Visit(
            33,
            3,
            ORDINARY,
            ("婚恋家庭", "较大", 2, "化解中", "否"),
            "轻生倾向",
            7,
            "妻子曾服药轻生",
        ),
        Visit(
            19, 3, ORDINARY, ("婚恋家庭", "较大", 2, "化解中", "否"), "轻生倾向", 7, "情绪仍低落"
        ),
        Visit(8, 2, ORDINARY, ("婚恋家庭", "较大", 2, "化解中", "否"), "轻生倾向", 7, "继续调解"),
    ),
}

INCIDENTS: dict[str, tuple[Incident, ...]] = {
    "a": (
        Incident(80, "家庭纠纷", "继子与继母争吵"),
        Incident(14, "家庭纠纷", "因房产争执报警"),
    ),
    "b": (),
    "c": (Incident(66, "诈骗", "网络贷款诈骗"),),
    "d": (Incident(36, "自杀自伤", "吵架后服药，送医抢救"),),
}


def _stamp(day: dt.date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()} {hour:02d}:{minute:02d}"


def visit_rows(
    county: str, township: str, village: str, end: dt.date = DEFAULT_END
) -> list[list[object]]:
    """Rows of the visits sheet (without the header), in case then date order.

    Parameters
    ----------
    county, township, village : str
        Jurisdiction the four households belong to.
    end : date
        Last day of the export window (Asia/Shanghai); visits happen ``days`` before it,
        are recorded two hours later and approved the next morning.

    Returns
    -------
    list of list
        One list of cells per visit, in the order of :data:`VISIT_HEADERS`.
    """
    rows: list[list[object]] = []
    station = f"{township}派出所"
    for key, visits in VISITS.items():
        name, id_number, phone, address = PII[key]
        for i, v in enumerate(visits, start=1):
            day = end - dt.timedelta(days=v.days)
            d_type, d_sev, d_parties, d_status, d_agree = v.dispute or ("", "", "", "", "")
            followup = (day + dt.timedelta(days=v.followup_in)).isoformat() if v.followup_in else ""
            rows.append(
                [
                    f"{CASE_IDS[key]}-V{i:02d}",
                    CASE_IDS[key],
                    name,
                    id_number,
                    phone,
                    f"{county}{township}{village}{address}",
                    _stamp(day, 9 + i % 3, 10 * i % 60),
                    _stamp(day, 12 + i % 3),
                    "109001",
                    station,
                    county,
                    township,
                    village,
                    v.persons,
                    v.household_type,
                    "是" if v.dispute else "否",
                    d_type,
                    d_sev,
                    d_parties,
                    v.hazards,
                    d_status,
                    d_agree,
                    followup,
                    "已通过",
                    _stamp(day + dt.timedelta(days=1), 8, 30),
                    v.note,
                ]
            )
    return rows


def incident_rows(
    county: str, township: str, village: str, end: dt.date = DEFAULT_END
) -> list[list[object]]:
    """Rows of the incidents sheet (without the header); see :func:`visit_rows`."""
    rows: list[list[object]] = []
    for key, incidents in INCIDENTS.items():
        name, _, phone, _ = PII[key]
        for i, inc in enumerate(incidents, start=1):
            day = end - dt.timedelta(days=inc.days)
            rows.append(
                [
                    f"{CASE_IDS[key]}-I{i:02d}",
                    CASE_IDS[key],
                    name,
                    phone,
                    _stamp(day, 20, 15),
                    _stamp(day, 20, 40),
                    inc.category,
                    county,
                    township,
                    village,
                    inc.note,
                ]
            )
    return rows


def _write_sheet(
    path: Path, title: str, headers: tuple[str, ...], rows: list[list[object]]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    # a fixed creation time keeps the file byte-stable apart from the zip entry times
    book.properties.created = dt.datetime(2026, 1, 1)
    book.properties.modified = dt.datetime(2026, 1, 1)
    book.save(path)


def write_cases(
    out_dir: Path,
    *,
    county: str = DEFAULT_COUNTY,
    township: str = DEFAULT_TOWNSHIP,
    village: str = DEFAULT_VILLAGE,
    end: dt.date = DEFAULT_END,
) -> tuple[Path, Path]:
    """Write the visits and incidents exports of the four cases into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        Folder to write ``cases.xlsx`` and ``cases_incidents.xlsx`` into (created).
    county, township, village : str
        Jurisdiction of the four households (a village of the target warehouse).
    end : date
        Last day of the export window; every record falls in the 180 days before it.

    Returns
    -------
    (Path, Path)
        The visits file and the incidents file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    visits = out_dir / VISITS_FILE
    incidents = out_dir / INCIDENTS_FILE
    _write_sheet(visits, "走访记录", VISIT_HEADERS, visit_rows(county, township, village, end))
    _write_sheet(incidents, "警情", INCIDENT_HEADERS, incident_rows(county, township, village, end))
    return visits, incidents


if __name__ == "__main__":
    for written in write_cases(HERE):
        print(f"wrote {written}")
