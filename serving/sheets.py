"""Officers' sheets: the early-warning notice (预警提示单) as CSV or XLSX.

The first row is the title (jurisdiction and as-of date), then a blank row,
then the header row (English or Chinese, by ``Accept-Language``), then one
row per household in rank order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from serving.schemas import Language, PriorityItem

LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "county": ("county", "县（市、新区）"),
    "township": ("township", "乡镇（街道）"),
    "village": ("village", "村（社区）"),
}

BAND_LABELS: dict[str, tuple[str, str]] = {
    "high": ("high", "高"),
    "elevated": ("elevated", "较高"),
    "moderate": ("moderate", "中"),
    "low": ("low", "低"),
}

#: (English header, Chinese header) of each sheet column, in order.
HEADERS: tuple[tuple[str, str], ...] = (
    ("Rank", "排名"),
    ("Household ID", "户编号"),
    ("Village", "村（社区）"),
    ("Township", "乡镇（街道）"),
    ("Risk of escalation (%)", "风险概率（%）"),
    ("Risk band", "风险等级"),
    ("Days since last visit", "距上次走访天数"),
    ("Open disputes", "未化解纠纷数"),
    ("Reasons", "预警原因"),
)

#: Sheet-wide rule of the risk bands, for a footer or caption (see serving.schemas).
BAND_RULE: dict[str, str] = {
    "en": (
        "Risk band = rank among all households of the prefecture: high = top 1 %, "
        "elevated = top 5 %, moderate = top 20 %, low = the rest; households with the "
        "same shown risk can sit on both sides of a band's edge."
    ),
    "zh": (
        "风险等级按全市（州）住户排名划分：高 = 前 1 %，较高 = 前 5 %，中 = 前 20 %，低 = 其余；"
        "显示风险相同的住户可能分属相邻两个等级。"
    ),
}

#: Decimals of the risk shown as a percentage (e.g. ``0.80 %``).
PERCENT_DECIMALS = 2

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Neutralise spreadsheet formula injection in text cells."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def sheet_title(
    level: str, jurisdiction: str, as_of: date, horizon_days: int, lang: Language
) -> str:
    """Title of the notice, e.g. ``预警提示单 — 乡镇（街道）：X — 2026-11-30``."""
    en, zh = LEVEL_LABELS.get(level, (level, level))
    if lang == "zh":
        return f"预警提示单 — {zh}：{jurisdiction} — 截至 {as_of.isoformat()}（未来 {horizon_days} 天）"
    return (
        f"Early-warning notice (预警提示单) — {en} {jurisdiction} — as of {as_of.isoformat()} "
        f"(next {horizon_days} days)"
    )


def sheet_headers(lang: Language) -> list[str]:
    """Column headers in the language asked for."""
    return [zh if lang == "zh" else en for en, zh in HEADERS]


def format_percent(probability: float) -> str:
    """A probability as a percentage with :data:`PERCENT_DECIMALS` decimals: ``0.008`` -> ``0.80 %``."""
    return f"{probability * 100:.{PERCENT_DECIMALS}f} %"


def negligible(code: str, contribution: float) -> bool:
    """A model reason too small to print (rule reasons such as a missed follow-up never are)."""
    from campaign.config import FOLLOWUP_REASON_CODE, MIN_REASON_CONTRIBUTION

    return code != FOLLOWUP_REASON_CODE and contribution < MIN_REASON_CONTRIBUTION


def sheet_rows(
    items: Sequence[PriorityItem], lang: Language, *, numeric_score: bool = False
) -> list[list[object]]:
    """One list of cell values per household, in the order of :data:`HEADERS`.

    The risk is shown as a percentage (``"0.80 %"``: probability of escalation
    within the horizon of the title), or, with ``numeric_score``, as the
    probability itself (a float in [0, 1], for a spreadsheet cell formatted as a
    percentage). Days since the last visit are whole days; open disputes an integer.
    Reasons whose contribution is negligible (:func:`negligible`) are left out.
    """
    rows: list[list[object]] = []
    for it in items:
        shown = [r for r in it.reasons if not negligible(r.code, r.contribution)]
        reasons = (
            "；".join(r.text_zh for r in shown)
            if lang == "zh"
            else "; ".join(r.text_en for r in shown)
        )
        band_en, band_zh = BAND_LABELS[it.risk_band]
        rows.append(
            [
                it.rank,
                _cell(it.household_id),
                _cell(it.village),
                _cell(it.township),
                float(it.score) if numeric_score else format_percent(it.score),
                band_zh if lang == "zh" else band_en,
                "" if it.days_since_last_visit is None else int(round(it.days_since_last_visit)),
                "" if it.open_disputes is None else int(it.open_disputes),
                _cell(reasons),
            ]
        )
    return rows


def to_csv(title: str, items: Sequence[PriorityItem], lang: Language) -> bytes:
    """The notice as UTF-8 CSV with a byte-order mark (so Excel shows Chinese correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([title])
    writer.writerow([])
    writer.writerow(sheet_headers(lang))
    writer.writerows(sheet_rows(items, lang))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(title: str, items: Sequence[PriorityItem], lang: Language) -> bytes:
    """The notice as an XLSX workbook (one sheet, title in A1, headers in row 3)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "预警提示单" if lang == "zh" else "Early-warning notice"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    ws.append(sheet_headers(lang))
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for row in sheet_rows(items, lang, numeric_score=True):
        ws.append(row)
        ws.cell(row=ws.max_row, column=5).number_format = f"0.{'0' * PERCENT_DECIMALS}%"
    widths = (6, 20, 18, 18, 12, 10, 12, 10, 80)
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A4"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def content_disposition(level: str, jurisdiction: str, as_of: date, ext: str) -> str:
    """``attachment`` header with an ASCII fallback and a UTF-8 file name (RFC 6266)."""
    from urllib.parse import quote

    place = jurisdiction.replace("/", "-")  # a path: no folder separators in a file name
    name = f"revisit_{level}_{place}_{as_of.isoformat()}.{ext}"
    ascii_name = f"revisit_{level}_{as_of.isoformat()}.{ext}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
