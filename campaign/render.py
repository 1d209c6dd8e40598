"""Rendering of a :class:`campaign.bulletin.Report`: print-ready xlsx, HTML with plots, JSON.

* xlsx: a sheet for the headline (概要) and one per level (县市区, 乡镇, 派出所,
  民警; 考评 for a monthly report), Chinese headers, header row repeated on
  every printed page, landscape A4 fitted to the page width, frozen header.
* HTML: one self-contained page (plots inlined as PNG) that reads on a phone:
  the headline, a bar chart of the period by township, the weekly trends, and
  the tables.  Plots use the CJK font of :func:`training.plots.find_cjk_font`
  (Noto Sans CJK SC from ``make install``); without one, labels fall back to
  pinyin (:class:`training.plots.LabelFont`).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any, Final

import pandas as pd

from campaign.appraisal import COMPONENT_LABELS
from campaign.bulletin import COMPARED, Report
from campaign.reports import FIGURES, LEVELS, RATE_FIGURES

SHEET_NAMES: Final = {
    "county": "县市区",
    "township": "乡镇",
    "station": "派出所",
    "officer": "民警",
}
KEY_LABELS: Final = {
    "county": ("县市区", "county"),
    "township": ("乡镇(街道)", "township"),
    "station": ("派出所", "station"),
    "officer_id": ("民警警号", "officer"),
}
PERIOD_LABELS: Final = {
    "daily": ("日调度", "daily dispatch"),
    "weekly": ("周通报", "weekly bulletin"),
    "monthly": ("月考评", "monthly appraisal"),
}


def _labels(language: str) -> dict[str, str]:
    i = 0 if language == "zh" else 1
    out = {k: v[i] for k, v in KEY_LABELS.items()}
    out.update({k: v[i] for k, v in FIGURES.items()})
    for c in COMPARED:
        out[f"{c}_prev"] = f"{FIGURES[c][i]}({'上期' if i == 0 else 'previous'})"
        out[f"{c}_yoy"] = f"{FIGURES[c][i]}({'去年同期' if i == 0 else 'a year earlier'})"
    out["escalations_change_prev"] = "警情环比" if i == 0 else "escalations vs previous"
    out["escalations_change_yoy"] = "警情同比" if i == 0 else "escalations year on year"
    out.update({f"c_{k}": v[i] for k, v in COMPONENT_LABELS.items()})
    out["score"] = "综合得分" if i == 0 else "score"
    out["rank"] = "名次" if i == 0 else "rank"
    return out


def display_frame(frame: pd.DataFrame, language: str = "zh") -> pd.DataFrame:
    """A level's frame for people: labelled columns, rates as percentages, "n/a" for missing."""
    out = frame.copy()
    pct = [
        c for c in out.columns if c in RATE_FIGURES or c.startswith(("escalations_change", "c_"))
    ]
    for c in pct:
        out[c] = out[c].map(lambda x: "n/a" if pd.isna(x) else f"{100 * float(x):.1f}%")
    if "score" in out:
        out["score"] = out["score"].round(1)
    out = out.astype(object).where(out.notna(), "n/a")
    return out.rename(columns=_labels(language))


def to_json(report: Report) -> str:
    """The report as JSON text (UTF-8, Chinese kept)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def write_xlsx(report: Report, path: Path, language: str = "zh") -> Path:
    """Write the print-ready workbook.

    Parameters
    ----------
    report : Report
    path : Path
        Destination ``.xlsx`` (parent folders created).
    language : {"zh", "en"}
        Language of the headers.

    Returns
    -------
    Path
    """
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    title = _title(report, language)
    summary = pd.DataFrame(
        {
            "项目" if language == "zh" else "item": ["标题", "概要", "Headline", "说明"],
            "内容" if language == "zh" else "text": [
                title,
                report.headline_zh,
                report.headline_en,
                "；".join(report.notes) or "—",
            ],
        }
    )
    sheets: dict[str, pd.DataFrame] = {"概要": summary}
    for level in LEVELS:
        sheets[SHEET_NAMES[level]] = display_frame(report.levels[level], language)
    if report.appraisal is not None:
        sheets["考评"] = display_frame(report.appraisal, language)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False, startrow=1)
            ws = writer.sheets[name]
            ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=13)
            for cell in ws[2]:
                cell.font = Font(bold=True)
                cell.alignment = Alignment(wrap_text=True, vertical="center")
            for i, col in enumerate(frame.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200)])
                ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, 1.6 * width))
            ws.freeze_panes = "A3"
            ws.print_title_rows = "2:2"
            ws.page_setup.orientation = "landscape"
            ws.page_setup.paperSize = ws.PAPERSIZE_A4
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.print_options.gridLines = True
            ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    return path


def _title(report: Report, language: str) -> str:
    w = report.windows["current"]
    i = 0 if language == "zh" else 1
    scope = "".join(report.scope.values()) or ("全州" if i == 0 else "prefecture")
    name = PERIOD_LABELS[report.period][i]
    return f"{scope} {name} {w.start.date()} – {w.last_day.date()}"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_by_unit(report: Report, level: str = "township", top: int = 25) -> Any:
    """Bar chart of households visited and disputes found per unit (the ``top`` most visited)."""
    from training.plots import LabelFont, _figure

    frame = report.levels[level].sort_values("households_visited", ascending=False).head(top)
    names = frame[list(LEVELS[level])[-1]].astype(str).tolist()
    fonts = LabelFont.for_texts([*names, "走访户数排查矛盾纠纷按乡镇"])
    fig = _figure(9, 0.3 * len(names) + 1.6)
    ax = fig.add_subplot()
    y = range(len(names))
    ax.barh(
        list(y),
        frame["households_visited"].astype(float),
        color="#4C72B0",
        label=fonts.text("走访户数"),
    )
    ax.barh(
        list(y),
        frame["disputes_found"].astype(float),
        color="#DD8452",
        label=fonts.text("排查矛盾纠纷(起)"),
    )
    ax.set_yticks(list(y), [fonts.text(n) for n in names], fontfamily=fonts.family)
    ax.invert_yaxis()
    ax.set_title(
        fonts.text(f"本期走访与纠纷排查（按{SHEET_NAMES[level]}）"), fontfamily=fonts.family
    )
    ax.legend(prop={"family": fonts.family})
    return fig


def plot_trend(report: Report) -> Any:
    """Weekly trends of households visited, disputes found and escalation incidents."""
    from training.plots import LabelFont, _figure

    t = report.trend
    labels = ["走访户数", "排查矛盾纠纷(起)", "有效警情(起)", "近12周趋势"]
    fonts = LabelFont.for_texts(labels)
    fig = _figure(9, 3.6)
    ax = fig.add_subplot()
    x = t["week_start"].dt.strftime("%m-%d")
    ax.plot(x, t["households_visited"], marker="o", label=fonts.text(labels[0]))
    ax.plot(x, t["disputes_found"], marker="s", label=fonts.text(labels[1]))
    ax2 = ax.twinx()
    ax2.plot(x, t["escalations"], marker="^", color="#C44E52", label=fonts.text(labels[2]))
    ax.set_title(fonts.text(labels[3]), fontfamily=fonts.family)
    ax.tick_params(axis="x", labelrotation=45)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(
        lines[0] + lines2[0], lines[1] + lines2[1], prop={"family": fonts.family}, loc="upper left"
    )
    return fig


_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;
max-width:1100px;padding:12px;color:#222}
h1{font-size:1.35em}h2{font-size:1.1em;margin-top:1.6em}
.headline{background:#f3f6fb;border-left:4px solid #4C72B0;padding:10px 14px;font-size:1.05em}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#eef}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto}.note{color:#666;font-size:.85em}
@media print{.scroll{overflow:visible}}
"""


def render_html(report: Report, language: str = "zh", *, max_rows: int = 200) -> str:
    """The bulletin as one self-contained HTML page.

    Parameters
    ----------
    report : Report
    language : {"zh", "en"}
    max_rows : int
        Rows shown per table (the xlsx has them all).

    Returns
    -------
    str
        HTML text (UTF-8), plots inlined as base64 PNG.
    """
    title = html.escape(_title(report, language))
    head = report.headline_zh if language == "zh" else report.headline_en
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1><p class='headline'>{html.escape(head)}</p>",
    ]
    if report.levels["township"].shape[0]:
        parts.append(
            f"<img alt='by township' src='data:image/png;base64,{_png(plot_by_unit(report))}'>"
        )
    parts.append(f"<img alt='weekly trend' src='data:image/png;base64,{_png(plot_trend(report))}'>")
    sections = [(SHEET_NAMES[lv], report.levels[lv]) for lv in LEVELS]
    if report.appraisal is not None:
        sections.insert(0, ("月考评", report.appraisal))
    for name, frame in sections:
        shown = display_frame(frame.head(max_rows), language)
        more = (
            ""
            if len(frame) <= max_rows
            else f"<p class='note'>前 {max_rows} 行，共 {len(frame)} 行（见 xlsx）</p>"
        )
        parts.append(f"<h2>{html.escape(name)}</h2><div class='scroll'>")
        parts.append(shown.to_html(index=False, border=0, escape=True) + "</div>" + more)
    for note in report.notes:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
