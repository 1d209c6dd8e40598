"""`revisit report daily|weekly|monthly`: the command centre's dispatch, bulletin and appraisal."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import typer

from revisit.cli._common import HomeOption, configure_logging, fail, settings_for

AsOfOption = typer.Option(
    None,
    "--as-of",
    formats=["%Y-%m-%d"],
    help="Report date: the period ends the day before (default: day after the latest record).",
)
OutOption = typer.Option(
    None, "--out", help="Output file (required for xlsx; html and json print otherwise)."
)

FORMATS: tuple[str, ...] = ("html", "xlsx", "json")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("report")
    def report(
        period: str = typer.Argument(..., help="daily, weekly or monthly."),
        as_of: datetime | None = AsOfOption,
        county: str | None = typer.Option(None, "--county", help="Only this county."),
        township: str | None = typer.Option(None, "--township", help="Only this township."),
        fmt: str = typer.Option("json", "--format", help="xlsx, html or json."),
        lang: str = typer.Option(
            "zh", "--lang", help="Language of headers and headline: zh or en."
        ),
        out: Path | None = OutOption,
        home: Path | None = HomeOption,
    ) -> None:
        """Figures per county, township, station and officer for a day, week or month.

        Each figure comes with the previous period and the same period a year
        earlier (同比); the headline is printed in the seed campaign's form.
        Task figures read "n/a" until tasks are recorded.
        """
        from campaign.render import render_html, to_json, write_xlsx
        from campaign.reports import PERIODS, ReportError
        from campaign.service import report_from_home

        if period not in PERIODS:
            raise typer.BadParameter(
                f"expected one of {', '.join(PERIODS)}, got {period!r}", param_hint="PERIOD"
            )
        if fmt not in FORMATS:
            raise typer.BadParameter(
                f"expected one of {', '.join(FORMATS)}, got {fmt!r}", param_hint="--format"
            )
        if lang not in ("zh", "en"):
            raise typer.BadParameter(f"expected zh or en, got {lang!r}", param_hint="--lang")
        if county and township:
            raise typer.BadParameter(
                "give at most one of --county and --township", param_hint="--county/--township"
            )
        if fmt == "xlsx" and out is None:
            raise typer.BadParameter("--format xlsx needs --out FILE.xlsx", param_hint="--out")
        configure_logging(logging.WARNING)
        settings = settings_for(home)
        try:
            rep = report_from_home(
                settings.home,
                period,
                as_of=as_of,
                county=county,
                township=township,
                db_url=settings.db_url,
            )
        except ReportError as err:
            fail(str(err))
            return
        units = rep.levels["county"].shape[0] + rep.levels["township"].shape[0]
        if not units:
            where = repr(county or township) if (county or township) else "the warehouse"
            fail(f"no visits in {where} before {rep.as_of.date()}")
        for note in rep.notes:
            if note.startswith("no visits recorded"):  # every figure reads 0: say why
                typer.echo(f"note: {note}", err=True)
        headline = rep.headline_zh if lang == "zh" else rep.headline_en
        if fmt == "xlsx":
            assert out is not None
            write_xlsx(rep, out, lang)
        else:
            text = to_json(rep) if fmt == "json" else render_html(rep, lang)
            if out is None:
                typer.echo(text)
                return
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        typer.echo(headline)
        typer.echo(f"written: {out}", err=True)
