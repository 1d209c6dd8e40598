"""`revisit publish` and `revisit tasks …`: the week's revisit tasks, their overdue alerts,
adherence and the tracked notice, from the command line (no server).

The task database is ``$REVISIT_DB_URL`` or ``<home>/tasks.db``. Every run that shows
households is written to the audit log like ``revisit rank`` (role ``cli``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from revisit.cli._common import HomeOption, WaitOption, configure_logging, fail, locked_home
from revisit.cli.rank_cmd import _CHATTY_LOGGERS, CLI_ROLE, CLI_TOKEN_ID, _operator

if TYPE_CHECKING:
    from campaign.db import TaskDB
    from serving.config import ServingSettings

LIST_FORMATS = ("table", "csv", "json")

AsOfOption = typer.Option(
    None, "--as-of", formats=["%Y-%m-%d"],
    help="As-of date of the ranking (default: day after the latest record).",
)  # fmt: skip
CapacityFileOption = typer.Option(
    None,
    "--capacity-file",
    help="CSV county,township,capacity (default <home>/campaign/capacity.csv).",
)
RosterOption = typer.Option(
    None,
    "--roster",
    help="CSV officer_id,county,township,village (default <home>/campaign/roster.csv).",
)
TodayOption = typer.Option(
    None, "--today", formats=["%Y-%m-%d"], help="Judge overdue as of this date (default today)."
)
NoticeOutOption = typer.Option(..., "--out", help="Output .xlsx file.")
STATUS_CHOICES = ("open", "overdue", "done", "declined", "all")


def _quiet(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    configure_logging(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(level)


def _settings(home: Path | None, as_of: date | None = None) -> ServingSettings:
    from serving.config import ServingSettings

    return ServingSettings().with_overrides(home=home, as_of=as_of)


def _db(settings: ServingSettings) -> TaskDB:
    from campaign.db import TaskDB
    from campaign.errors import TaskStoreError

    try:
        return TaskDB(settings.tasks_db_url)
    except TaskStoreError as err:
        fail(str(err))
        raise  # unreachable: fail exits


def _audit(settings: ServingSettings, endpoint: str, ids: list[str], version: str | None) -> None:
    from serving.audit import AuditError, AuditEvent, AuditLog

    log = AuditLog(settings.audit_db, linger_s=0.0)
    try:
        log.start()
        log.record(
            AuditEvent.make(
                token_id=CLI_TOKEN_ID, role=CLI_ROLE, level=None, jurisdiction=None,
                endpoint=endpoint, household_ids=ids, model_version=version, as_of=None,
                label=_operator(),
            )
        )  # fmt: skip
    except AuditError as err:
        fail(f"could not write the audit log, so nothing is shown: {err}")
    finally:
        log.close()


def _place(county: str | None, township: str | None, village: str | None) -> dict[str, str]:
    return {
        k: v for k, v in (("county", county), ("township", township), ("village", village)) if v
    }


def register(app: typer.Typer) -> None:
    """Add ``publish`` and the ``tasks`` group to the CLI app."""

    @app.command("publish")
    def publish_cmd(
        as_of: datetime | None = AsOfOption,
        capacity: int | None = typer.Option(
            None, "--capacity", min=0, max=10_000, help="Households per township (default 20)."
        ),
        capacity_file: Path | None = CapacityFileOption,
        roster: Path | None = RosterOption,
        due_days: str | None = typer.Option(
            None, "--due-days", help="Due days by band, e.g. high=3,elevated=7,moderate=14,low=21."
        ),
        home: Path | None = HomeOption,
        wait: float | None = WaitOption,
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
    ) -> None:
        """Turn the week's ranking into revisit tasks (top N per township, missed follow-ups).

        Each township's top N households, plus households whose follow-up (回访期限)
        passed without an approved visit since. Publishing a week twice creates nothing.
        """
        from campaign.config import load_publish_config, parse_due_days
        from campaign.errors import CampaignError
        from serving.errors import ServingError
        from serving.loading import load_state
        from serving.publishing import publish_state
        from warehouse.store import WarehouseError

        _quiet(verbose)
        settings = _settings(home, as_of.date() if as_of else None)
        try:
            config = load_publish_config(
                settings.home, capacity=capacity, capacity_file=capacity_file,
                roster_file=roster, due_days=parse_due_days(due_days) if due_days else None,
            )  # fmt: skip
        except CampaignError as err:
            raise typer.BadParameter(str(err)) from err
        try:
            state = load_state(settings)
        except ServingError as err:
            fail(str(err))
            return
        with locked_home(settings.home, wait):
            db = _db(settings)
            try:
                report = publish_state(state, db, settings.home, config, actor=f"cli:{_operator()}")
            except (CampaignError, WarehouseError) as err:
                fail(str(err))
                return
            finally:
                db.dispose()
        _audit(settings, "cli:publish", [], report.model_version)
        if report.created:
            typer.echo(
                f"published week {report.week} (as of {report.as_of}, model version "
                f"{report.model_version}): {report.n_model} model tasks, {report.n_followup} "
                f"follow-up-overdue tasks; {report.n_carried} carried over (still open), "
                f"{report.n_closed} closed from exports; database {db.safe_url}"
            )
        else:
            typer.echo(
                f"week {report.week} was already published ({report.n_model} model tasks, "
                f"{report.n_followup} follow-up-overdue tasks): nothing new created; "
                f"{report.n_closed} closed from exports"
            )

    group = typer.Typer(
        help="Revisit tasks: lists, overdue alerts, adherence, notices.", no_args_is_help=True
    )

    @group.command("list")
    def list_cmd(
        status: str = typer.Option(
            "open", "--status", help="open, overdue, done, declined or all."
        ),
        county: str | None = typer.Option(None, "--county", help="Only this county."),
        township: str | None = typer.Option(None, "--township", help="Only this township."),
        village: str | None = typer.Option(None, "--village", help="Only this village."),
        fmt: str = typer.Option("table", "--format", help="table, csv or json."),
        lang: str = typer.Option("en", "--lang", help="Language of reasons: en or zh."),
        limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="Most tasks shown."),
        today: datetime | None = TodayOption,
        home: Path | None = HomeOption,
    ) -> None:
        """List tasks (csv/json: one row per task with task_id, household_id, kind, status, due)."""
        from campaign.tasks import local_today
        from serving.routes.tasks import LIST_COLUMNS, _csv
        from serving.tasks_support import frame_records, task_view

        if status not in STATUS_CHOICES:
            raise typer.BadParameter(
                f"expected one of {', '.join(STATUS_CHOICES)}, got {status!r}",
                param_hint="--status",
            )
        if fmt not in LIST_FORMATS:
            raise typer.BadParameter(
                f"expected one of {', '.join(LIST_FORMATS)}, got {fmt!r}", param_hint="--format"
            )
        settings = _settings(home)
        db = _db(settings)
        day = today.date() if today else local_today()
        frame = db.tasks_frame(
            place=_place(county, township, village), status=status, today=day, limit=limit
        )
        db.dispose()
        items = [task_view(t, day, lang) for t in frame_records(frame)]
        _audit(
            settings, f"cli:tasks list?status={status}", [t["household_id"] for t in items], None
        )
        if fmt == "json":
            typer.echo(json.dumps(items, default=str, ensure_ascii=False, indent=2))
        elif fmt == "csv":
            sys.stdout.write(_csv(items, LIST_COLUMNS).decode("utf-8-sig"))
        else:
            _table(items, status, day, lang)

    @group.command("sync")
    def sync_cmd(home: Path | None = HomeOption, wait: float | None = WaitOption) -> None:
        """Close open tasks from approved visits ingested since (on or after the task's as-of date)."""
        from campaign.followup import read_campaign_visits
        from campaign.tasks import close_from_visits

        settings = _settings(home)
        with locked_home(settings.home, wait):
            db = _db(settings)
            try:
                n = close_from_visits(db, read_campaign_visits(settings.home))
            finally:
                db.dispose()
        typer.echo(f"closed {n} tasks from approved visits in the warehouse")

    @group.command("summary")
    def summary_cmd(
        by: str = typer.Option("township", "--by", help="township or officer."),
        fmt: str = typer.Option("table", "--format", help="table, csv or json."),
        home: Path | None = HomeOption,
    ) -> None:
        """List adherence: share of listed households visited within their due date."""
        from campaign.adherence import adherence, overall, records
        from campaign.tasks import local_today

        settings = _settings(home)
        db = _db(settings)
        frame = db.tasks_frame(status="all")
        db.dispose()
        day = local_today()
        cols = ("county", "township") if by == "township" else ("officer_id",)
        table = adherence(frame, day, by=cols)
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {"overall": overall(frame, day), "units": records(table)}, default=str, indent=2
                )
            )
        elif fmt == "csv":
            sys.stdout.write(table.to_csv(index=False))
        else:
            from rich.console import Console
            from rich.table import Table

            out = Table(title=f"List adherence as of {day} (visited on time / judged)")
            for c in table.columns:
                out.add_column(str(c))
            for row in records(table):
                out.add_row(
                    *(
                        "" if v is None else (f"{v:.0%}" if k == "adherence" else str(v))
                        for k, v in row.items()
                    )
                )
            Console().print(out)

    @group.command("notice")
    def notice_cmd(
        county: str = typer.Option(..., "--county", help="County of the notice."),
        out: Path = NoticeOutOption,
        week: str | None = typer.Option(
            None, "--week", help="ISO week, e.g. 2026-W49 (default: latest)."
        ),
        unit: str = typer.Option("州公安局指挥中心", "--unit", help="Issuing unit."),
        lang: str = typer.Option("zh", "--lang", help="zh or en."),
        home: Path | None = HomeOption,
    ) -> None:
        """Write the tracked early-warning notice (预警提示单) of a county: a sheet per township."""
        from campaign.config import load_publish_config
        from campaign.notice import notice_workbook
        from serving.sheets import BAND_RULE

        settings = _settings(home)
        db = _db(settings)
        frame = db.tasks_frame(place={"county": county}, status="all")
        db.dispose()
        if len(frame):
            frame = frame[frame["week"] == (week or frame["week"].max())]
        if len(frame) == 0:
            fail(
                f"no tasks of county {county!r}{' in week ' + week if week else ''}: publish first"
            )
        config = load_publish_config(settings.home)
        _audit(settings, "cli:tasks notice", [str(x) for x in frame["household_id"]], None)
        out.write_bytes(notice_workbook(
            frame, county=county, unit=unit, issued_on=date.today(), band_rule=BAND_RULE["zh" if lang == "zh" else "en"],
            due_days=config.due_days, followup_days=config.followup_due_days, lang=lang,
        ))  # fmt: skip
        typer.echo(
            f"wrote {out} ({len(frame)} tasks, notice {frame['notice_no'].iloc[0]})", err=True
        )

    app.add_typer(group, name="tasks")


def _table(items: list[dict[str, Any]], status: str, day: date, lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Tasks ({status}) as of {day}: {len(items)}")
    for col in (
        "task",
        "household",
        "kind",
        "status",
        "due",
        "place",
        "officer",
        "band",
        "reasons",
    ):
        table.add_column(col, overflow="fold")
    for t in items:
        late = f" ({t['days_overdue']} d late)" if t["overdue"] else ""
        table.add_row(
            t["task_id"], t["household_id"], t["kind"], t["status"] + late, str(t["due"]),
            f"{t['county']}/{t['township']}/{t['village']}", t.get("officer_id") or "",
            t.get("risk_band") or "", "; ".join(str(r["text"]) for r in t["reasons"]),
        )  # fmt: skip
    Console(width=max(160, Console().width)).print(table)
