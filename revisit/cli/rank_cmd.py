"""`revisit rank`: the priority list of one jurisdiction, computed in-process (no server)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import typer

from revisit.cli._common import HomeOption, configure_logging, fail

AsOfOption = typer.Option(
    None,
    "--as-of",
    formats=["%Y-%m-%d"],
    help="Snapshot date (default: day after the latest record).",
)

OutOption = typer.Option(None, "--out", help="Output file (required for xlsx).")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("rank")
    def rank(
        county: str | None = typer.Option(None, "--county", help="County name."),
        township: str | None = typer.Option(None, "--township", help="Township name."),
        village: str | None = typer.Option(None, "--village", help="Village name."),
        limit: int = typer.Option(
            20, "--limit", min=1, max=500, help="Households to list (1–500)."
        ),
        fmt: str = typer.Option("table", "--format", help="table, csv, json or xlsx."),
        lang: str = typer.Option("en", "--lang", help="Language of reasons and headers: en or zh."),
        out: Path | None = OutOption,
        home: Path | None = HomeOption,
        as_of: datetime | None = AsOfOption,
    ) -> None:
        """Print the top households of a county, township or village with their reasons."""
        from serving.config import ServingSettings
        from serving.errors import ServingError, UnknownJurisdiction
        from serving.listing import priority_list
        from serving.sheets import sheet_headers, sheet_rows, sheet_title, to_csv, to_xlsx
        from serving.state import load_state

        given = [
            (lvl, v)
            for lvl, v in (("county", county), ("township", township), ("village", village))
            if v
        ]
        if len(given) != 1:
            fail("give exactly one of --county, --township or --village")
        if fmt not in ("table", "csv", "json", "xlsx"):
            fail(f"expected --format table, csv, json or xlsx, got {fmt!r}")
        if lang not in ("en", "zh"):
            fail(f"expected --lang en or zh, got {lang!r}")
        if fmt == "xlsx" and out is None:
            fail("--format xlsx needs --out FILE.xlsx")
        level, name = given[0]
        configure_logging()
        settings = ServingSettings().with_overrides(
            home=home, as_of=as_of.date() if as_of else None
        )
        try:
            state = load_state(settings)
            body = priority_list(state, level, name, limit=limit, offset=0, lang=lang)  # type: ignore[arg-type]
        except UnknownJurisdiction:
            fail(f"no {level} named {name!r} in the snapshot")
            return
        except ServingError as err:
            fail(str(err))
            return
        title = sheet_title(level, name, body.as_of, body.horizon_days, lang)  # type: ignore[arg-type]
        if fmt == "json":
            payload = body.model_dump_json(indent=2)
            if out:
                out.write_text(payload, encoding="utf-8")
            else:
                typer.echo(payload)
        elif fmt == "csv":
            data = to_csv(title, body.items, lang)  # type: ignore[arg-type]
            if out:
                out.write_bytes(data)
            else:
                sys.stdout.write(data.decode("utf-8-sig"))
        elif fmt == "xlsx":
            assert out is not None
            out.write_bytes(to_xlsx(title, body.items, lang))  # type: ignore[arg-type]
            typer.echo(f"wrote {out}", err=True)
        else:
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"{title}\nmodel v{body.model_version}, {body.total} households")
            headers = sheet_headers(lang)  # type: ignore[arg-type]
            for h in headers:
                table.add_column(h, overflow="fold")
            for row in sheet_rows(body.items, lang):  # type: ignore[arg-type]
                table.add_row(*(str(c) for c in row))
            Console(width=max(160, Console().width)).print(table)
        if fmt != "json" or out:
            typer.echo(
                json.dumps({"model_version": body.model_version, "as_of": str(body.as_of)}),
                err=True,
            )
