"""The tracked early-warning notice (预警提示单) of one county and week, as an XLSX workbook.

One sheet per township. Each sheet opens with the notice block — notice number,
issuing unit, date, model version, the band rule, the due-date rule and the rank
range listed — then one header row (repeated on every printed page) and one row per
task: the shared rank range of ties, task id, household id, village, band, risk,
responsible officer, due date, reasons (wrapped) and empty feedback cells
(签收 / 走访时间 / 处置结果) for the unit to fill in. Printed A4 landscape, fitted to
the page width. Reasons with a negligible contribution were left out at publication.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from campaign.config import OUTCOME_CODES

BAND_ZH: dict[str, str] = {
    "high": "红 高",
    "elevated": "橙 较高",
    "moderate": "黄 中",
    "low": "蓝 低",
}
BAND_EN: dict[str, str] = {"high": "red high", "elevated": "orange elevated",
                           "moderate": "yellow moderate", "low": "blue low"}  # fmt: skip
#: Fill colours of the bands (红/橙/黄/蓝), hex RGB.
BAND_FILLS: dict[str, str] = {
    "high": "F4B6B6",
    "elevated": "F9D3A8",
    "moderate": "FBEFA4",
    "low": "BFD7F2",
}

HEADERS: tuple[tuple[str, str], ...] = (
    ("Rank", "排名"),
    ("Task", "任务编号"),
    ("Household ID", "户编号"),
    ("Village", "村（社区）"),
    ("Band", "风险等级"),
    ("Risk (%)", "风险概率（%）"),
    ("Officer", "包保民警"),
    ("Due", "完成期限"),
    ("Reasons", "预警原因"),
    ("Signed", "签收"),
    ("Visited on", "走访时间"),
    ("Outcome", "处置结果"),
)
_WIDTHS = (8, 16, 18, 14, 10, 10, 12, 12, 60, 8, 12, 14)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _reasons_text(reasons: Any, lang: str) -> str:
    key = "text_zh" if lang == "zh" else "text_en"
    return ("；" if lang == "zh" else "; ").join(str(r.get(key, "")) for r in (reasons or []))


def rank_span(frame: pd.DataFrame) -> str:
    """The rank range a sheet lists, e.g. ``"1–20"`` (model tasks only; ``"—"`` if none)."""
    ranks = pd.to_numeric(frame.loc[frame["kind"] == "model", "rank"], errors="coerce").dropna()
    if ranks.empty:
        return "—"
    return f"{int(ranks.min())}–{int(ranks.max())}"


def notice_workbook(
    tasks: pd.DataFrame,
    *,
    county: str,
    unit: str,
    issued_on: date,
    band_rule: str,
    due_days: Mapping[str, int],
    followup_days: int = 3,
    lang: str = "zh",
) -> bytes:
    """The county's notice as XLSX bytes.

    Parameters
    ----------
    tasks : DataFrame
        The county's tasks of one week (columns of :data:`campaign.db.TASK_COLUMNS`).
    county : str
        County name (title).
    unit : str
        Issuing unit (发文单位), e.g. the prefecture's command centre.
    issued_on : date
        Date of the notice.
    band_rule : str
        How risk bands are assigned (shown verbatim).
    due_days : mapping of band to int
        The due-date rule (days from the as-of date by band).
    followup_days : int
        Days to act on an overdue follow-up.
    lang : {"zh", "en"}

    Raises
    ------
    ValueError
        When ``tasks`` is empty (a notice lists at least one task).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    if len(tasks) == 0:
        raise ValueError(f"expected tasks of county {county!r} to put on a notice, got none")
    zh = lang == "zh"
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    notice_no = (
        str(tasks["notice_no"].dropna().iloc[0]) if tasks["notice_no"].notna().any() else "—"
    )
    versions = sorted({str(v) for v in tasks["model_version"].dropna()})
    week = str(tasks["week"].iloc[0])
    bands = ("high", "elevated", "moderate", "low")
    due_rule = (
        "，".join(f"{BAND_ZH[b].split()[1]} {due_days[b]} 天" for b in bands)
        + f"；回访超期 {followup_days} 天"
        if zh
        else ", ".join(f"{b} {due_days[b]} days" for b in bands)
        + f"; overdue follow-up {followup_days} days"
    )
    order = tasks.sort_values(["township", "kind", "rank", "household_id"], na_position="last")
    for township, group in order.groupby("township", sort=True):
        title = str(township)[:31].translate(str.maketrans("[]:*?/\\", "（）：＊？／＼"))
        ws = wb.create_sheet(title=title)
        heading = (
            f"预警提示单 — {county} {township}（{week}）" if zh
            else f"Early-warning notice — {county} {township} ({week})"
        )  # fmt: skip
        ws.append([heading])
        ws["A1"].font = Font(bold=True, size=14)
        info = (
            ("编号", notice_no), ("发文单位", unit), ("日期", issued_on.isoformat()),
            ("模型版本", ", ".join(versions) or "—"), ("排名范围", rank_span(group)),
            ("风险等级规则", band_rule), ("完成期限", due_rule),
        ) if zh else (
            ("Notice no.", notice_no), ("Issued by", unit), ("Date", issued_on.isoformat()),
            ("Model version", ", ".join(versions) or "—"), ("Ranks", rank_span(group)),
            ("Band rule", band_rule), ("Due dates", due_rule),
        )  # fmt: skip
        for label, value in info:
            ws.append([label, value])
            ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
            ws.merge_cells(start_row=ws.max_row, start_column=2, end_row=ws.max_row, end_column=9)
            ws.cell(row=ws.max_row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[ws.max_row - 1].height = 32
        header_row = ws.max_row + 1
        ws.append([zh_ if zh else en for en, zh_ in HEADERS])
        for c in ws[header_row]:
            c.font = Font(bold=True)
            c.alignment = Alignment(wrap_text=True, vertical="center")
        for t in list[Any](group.itertuples(index=False)):
            band = None if t.risk_band is None or pd.isna(t.risk_band) else str(t.risk_band)
            rank = (
                str(t.rank_range) if t.rank_range is not None and not pd.isna(t.rank_range)
                else ("回访超期" if zh else "follow-up")
            )  # fmt: skip
            outcome = (
                OUTCOME_CODES[t.outcome][1 if zh else 0]
                if t.outcome is not None and not pd.isna(t.outcome) else ""
            )  # fmt: skip
            visited = (
                pd.Timestamp(t.visited_at).tz_convert("Asia/Shanghai").date().isoformat()
                if t.visited_at is not None and not pd.isna(t.visited_at) else ""
            )  # fmt: skip
            ws.append([
                rank, t.task_id, _cell(str(t.household_id)), _cell(str(t.village)),
                (BAND_ZH if zh else BAND_EN).get(band or "", ""),
                None if t.score is None or pd.isna(t.score) else float(t.score),
                _cell(str(t.officer_id)) if t.officer_id else "",
                t.due.isoformat() if hasattr(t.due, "isoformat") else str(t.due),
                _cell(_reasons_text(t.reasons, lang)),
                "✓" if t.status == "acknowledged" or t.acknowledged_at is not None else "",
                visited, outcome,
            ])  # fmt: skip
            r = ws.max_row
            ws.cell(row=r, column=6).number_format = "0.00%"
            ws.cell(row=r, column=9).alignment = Alignment(wrap_text=True, vertical="top")
            if band in BAND_FILLS:
                ws.cell(row=r, column=5).fill = PatternFill("solid", fgColor=BAND_FILLS[band])
        for i, width in enumerate(_WIDTHS, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True  # type: ignore[union-attr]
        ws.print_options.horizontalCentered = True
        ws.oddFooter.center.text = "第 &P 页 / 共 &N 页" if zh else "Page &P of &N"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
