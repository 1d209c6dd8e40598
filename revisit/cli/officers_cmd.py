"""`revisit officers review`: officers whose visit records look perfunctory or made up."""

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
    help="Review date: the 90 days before it (default: day after the latest record).",
)
OutOption = typer.Option(None, "--out", help="Write csv/json to this file.")

FORMATS: tuple[str, ...] = ("table", "csv", "json")

officers_app = typer.Typer(
    help="Officers' visit records: a review list for supervisors (never a sanction).",
    no_args_is_help=True,
)


@officers_app.command("review")
def review(
    as_of: datetime | None = AsOfOption,
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    limit: int = typer.Option(20, "--limit", min=1, help="Rows of the table (csv/json: all)."),
    out: Path | None = OutOption,
    home: Path | None = HomeOption,
) -> None:
    """Score each officer's visit records against same-township peers.

    Indicators: bursts of visits minutes apart, visits where nobody was met,
    dispute and hazard finding rates, identical records, records typed within
    minutes of the visit, visits at implausible hours (and, shown only, the
    recording delay). A high score asks a supervisor to look; it proves nothing.
    """
    from campaign.reports import ReportError
    from campaign.service import review_from_home

    if fmt not in FORMATS:
        raise typer.BadParameter(
            f"expected one of {', '.join(FORMATS)}, got {fmt!r}", param_hint="--format"
        )
    configure_logging(logging.WARNING)
    settings = settings_for(home)
    try:
        t, table = review_from_home(settings.home, as_of=as_of)
    except ReportError as err:
        fail(str(err))
        return
    if fmt == "csv":
        text = table.to_csv(index=False, float_format="%.4f")
    elif fmt == "json":
        text = table.to_json(orient="records", force_ascii=False, indent=2, double_precision=4)
    else:
        from rich.console import Console
        from rich.table import Table

        listed = int(table["review"].sum())
        tbl = Table(
            title=f"officer review as of {t.date()}: {listed} of {len(table)} officers to look at",
            caption="A review list for supervisors, never a sanction: check the records in person.",
            caption_justify="left",
        )
        cols = ["rank", "officer_id", "township", "n_visits", "score", "review", "drivers"]
        for c in cols:
            tbl.add_column(c, overflow="fold")
        for rec in table.head(limit).to_dict(orient="records"):
            tbl.add_row(*(f"{rec[c]:.2f}" if c == "score" else str(rec[c]) for c in cols))
        Console(width=max(140, Console().width)).print(tbl)
        return
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"written: {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``officers`` command group to the CLI app."""
    app.add_typer(officers_app, name="officers")
