"""`revisit rank`: the priority list of one jurisdiction, computed in-process (no server).

Every run is written to the audit log like an API list read: token id and role
``cli``, the operator's OS account (:func:`getpass.getuser`) as label, endpoint
``cli:rank``; a jurisdiction the snapshot lacks is audited with outcome ``not_found``.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from revisit.cli._common import HomeOption, configure_logging, fail

if TYPE_CHECKING:
    from serving.config import ServingSettings
    from serving.schemas import PriorityList

AsOfOption = typer.Option(
    None,
    "--as-of",
    formats=["%Y-%m-%d"],
    help="Snapshot date (default: day after the latest record).",
)

OutOption = typer.Option(None, "--out", help="Output file (required for xlsx).")

FORMATS: tuple[str, ...] = ("table", "csv", "json", "xlsx")
LANGUAGES: tuple[str, ...] = ("en", "zh")

#: Loggers quieted to WARNING unless ``--verbose`` (they log at INFO while loading).
_CHATTY_LOGGERS: tuple[str, ...] = ("mlflow", "alembic", "serving", "features", "models")

#: Token id, role and endpoint of the audit rows of ``revisit rank``.
CLI_TOKEN_ID = "cli"
CLI_ROLE = "cli"
CLI_ENDPOINT = "cli:rank"


def _operator() -> str:
    """The OS account running the command (an operator, not a resident).

    Read from the password database by the process's effective uid, never from
    ``$USER``/``$LOGNAME`` (which anyone can set); ``uid <n>`` when the uid has no entry.
    """
    import os
    import pwd

    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _audit(
    settings: ServingSettings,
    level: str,
    name: str,
    ids: list[str],
    model_version: str | None,
    as_of: str | None,
    outcome: str,
) -> None:
    """Write the audit row of this run and wait until it is stored (exit 1 if it cannot be)."""
    from serving.audit import AuditError, AuditEvent, AuditLog

    log = AuditLog(settings.audit_db)
    try:
        log.start()
        log.record(
            AuditEvent.make(
                token_id=CLI_TOKEN_ID,
                role=CLI_ROLE,
                level=level,
                jurisdiction=name,
                endpoint=CLI_ENDPOINT,
                household_ids=ids,
                model_version=model_version,
                as_of=as_of,
                outcome=outcome,
                label=_operator(),
            )
        )
    except AuditError as err:
        fail(f"could not write the audit log, so the list is not shown: {err}")
    finally:
        log.close()


def _table(body: PriorityList, title: str, lang: str) -> None:
    """Print the list as a table: version and as-of in the title, the band rule as caption."""
    from rich.console import Console
    from rich.table import Table

    from serving.sheets import BAND_RULE, sheet_headers, sheet_rows

    if lang == "zh":
        heading = f"{title}\n模型版本 {body.model_version}，截至 {body.as_of}，共 {body.total} 户"
    else:
        heading = (
            f"{title}\nmodel version {body.model_version}, as of {body.as_of}, "
            f"{body.total} households"
        )
    table = Table(title=heading, caption=BAND_RULE[lang], caption_justify="left")
    for h in sheet_headers(lang):  # type: ignore[arg-type]
        table.add_column(h, overflow="fold")
    for row in sheet_rows(body.items, lang):  # type: ignore[arg-type]
        table.add_row(*(str(c) for c in row))
    Console(width=max(160, Console().width)).print(table)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("rank")
    def rank(
        county: str | None = typer.Option(None, "--county", help="County name."),
        township: str | None = typer.Option(
            None, "--township", help="Township: 县/乡镇, or a name only one township has."
        ),
        village: str | None = typer.Option(
            None, "--village", help="Village: 县/乡镇/村, or a name only one village has."
        ),
        limit: int = typer.Option(
            20, "--limit", min=1, max=500, help="Households to list (1–500)."
        ),
        offset: int = typer.Option(
            0, "--offset", min=0, max=10_000_000, help="Households to skip (the next page)."
        ),
        fmt: str = typer.Option("table", "--format", help="table, csv, json or xlsx."),
        lang: str = typer.Option("en", "--lang", help="Language of reasons and headers: en or zh."),
        out: Path | None = OutOption,
        home: Path | None = HomeOption,
        as_of: datetime | None = AsOfOption,
        verbose: bool = typer.Option(
            False, "--verbose", "-v", help="Also log progress (INFO) to stderr."
        ),
    ) -> None:
        """Print the top households of a county, township or village with their reasons.

        The risk is the probability of an escalation within the horizon, shown as a
        percentage; the risk band is the household's rank share prefecture-wide.
        Every run is written to the audit log (role ``cli``, your OS account).
        """
        from serving.config import ServingSettings
        from serving.errors import AmbiguousJurisdiction, ServingError, UnknownJurisdiction
        from serving.listing import priority_list
        from serving.loading import load_state
        from serving.sheets import sheet_title, to_csv, to_xlsx

        given = [
            (lvl, v)
            for lvl, v in (("county", county), ("township", township), ("village", village))
            if v
        ]
        if len(given) != 1:
            raise typer.BadParameter(
                "give exactly one of --county, --township or --village, "
                f"got {len(given)}: {', '.join('--' + lvl for lvl, _ in given) or 'none'}",
                param_hint="--county/--township/--village",
            )
        if fmt not in FORMATS:
            raise typer.BadParameter(
                f"expected one of {', '.join(FORMATS)}, got {fmt!r}", param_hint="--format"
            )
        if lang not in LANGUAGES:
            raise typer.BadParameter(
                f"expected one of {', '.join(LANGUAGES)}, got {lang!r}", param_hint="--lang"
            )
        if fmt == "xlsx" and out is None:
            raise typer.BadParameter("--format xlsx needs --out FILE.xlsx", param_hint="--out")
        level, name = given[0]
        log_level = logging.INFO if verbose else logging.WARNING
        configure_logging(log_level)
        for logger_name in _CHATTY_LOGGERS:  # mlflow sets its own level: override it both ways
            logging.getLogger(logger_name).setLevel(log_level)
        settings = ServingSettings().with_overrides(
            home=home, as_of=as_of.date() if as_of else None
        )
        try:
            state = load_state(settings)
        except ServingError as err:
            fail(str(err))
            return
        model_version, state_as_of = state.model_info.version, state.as_of_day
        try:
            name = state.resolve(level, name)  # the full path: names repeat across counties
        except AmbiguousJurisdiction as err:
            _audit(settings, level, name, [], model_version, state_as_of, "ambiguous")
            fail(f"{err}. Candidates:\n  " + "\n  ".join(err.candidates))
            return
        except UnknownJurisdiction:
            _audit(settings, level, name, [], model_version, state_as_of, "not_found")
            fail(f"no {level} named {name!r} in the snapshot")
            return
        try:
            body = priority_list(state, level, name, limit=limit, offset=offset, lang=lang)  # type: ignore[arg-type]
        except UnknownJurisdiction:
            _audit(settings, level, name, [], model_version, state_as_of, "not_found")
            fail(f"no {level} named {name!r} in the snapshot")
            return
        except ServingError as err:
            fail(str(err))
            return
        ids = [it.household_id for it in body.items]
        _audit(settings, level, name, ids, model_version, state_as_of, "ok")
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
        else:
            _table(body, title, lang)
        if out:
            typer.echo(
                f"wrote {out} (model version {body.model_version}, as of {body.as_of})", err=True
            )
