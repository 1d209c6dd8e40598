"""`revisit token issue|list|revoke`: bearer tokens of the API (only their hashes are stored)."""

from __future__ import annotations

from pathlib import Path

import typer

from revisit.cli._common import HomeOption, WaitOption, fail, locked_home
from serving.roles import ROLES, SCOPED_ROLES, roles_help


def _serving_home(home: Path | None) -> Path:
    from serving.config import ServingSettings

    return ServingSettings().with_overrides(home=home).home


def _tokens_path(home: Path | None) -> Path:
    from serving.config import ServingSettings

    return ServingSettings().with_overrides(home=home).tokens_file


def known_jurisdictions(home: Path, level: str) -> list[str]:
    """Sorted full paths (``county/township/village``) of the ``level`` places of the visits.

    Read with :func:`warehouse.store.read_visits`; empty when there are no visits.
    """
    from warehouse.jurisdictions import LEVELS, path_column
    from warehouse.store import read_visits

    visits = read_visits(home)
    columns = list(LEVELS[: LEVELS.index(level) + 1])
    if len(visits) == 0 or any(c not in visits.columns for c in columns):
        return []
    return sorted({str(p) for p in path_column(visits[columns].dropna(), level)})


def unknown_name_message(level: str, name: str, known: list[str]) -> str:
    """Refusal of an unknown jurisdiction with the closest known names suggested (difflib)."""
    import difflib

    tails = {p.rsplit("/", 1)[-1]: p for p in known}
    close = [
        tails.get(c, c) for c in difflib.get_close_matches(name, [*known, *tails], n=3, cutoff=0.6)
    ]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"no {level} named {name!r} in the warehouse ({len(known)} {level} names known){hint}"


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI app."""
    group = typer.Typer(help="Issue and revoke API bearer tokens.", no_args_is_help=True)

    @group.command("issue")
    def issue(
        role: str = typer.Option(
            ..., "--role", help=f"One of {', '.join(ROLES)} ({roles_help()})."
        ),
        name: str = typer.Option(
            ..., "--name", help="Label: the unit or service the token is for."
        ),
        county: str | None = typer.Option(None, "--county", help="Jurisdiction: a county."),
        township: str | None = typer.Option(
            None, "--township", help="Jurisdiction: a township, as 县/乡镇 or an unambiguous name."
        ),
        village: str | None = typer.Option(
            None, "--village", help="Jurisdiction: a village, as 县/乡镇/村 or an unambiguous name."
        ),
        expires: str = typer.Option(
            "180d", "--expires", help="Validity: 90d, 12w, … (default 180 days) or 'never'."
        ),
        force: bool = typer.Option(
            False,
            "--force",
            help="Issue even when the warehouse is empty (the jurisdiction cannot be checked).",
        ),
        home: Path | None = HomeOption,
        wait: float | None = WaitOption,
    ) -> None:
        """Issue a token and print it once (only its SHA-256 hash is stored).

        The jurisdiction must be a county, township or village of the warehouse;
        an empty warehouse refuses too, unless ``--force``.
        """
        from serving.auth import TokenStore, parse_validity
        from serving.errors import TokenStoreError

        valid_for = None
        if expires.strip().lower() != "never":
            try:
                valid_for = parse_validity(expires)
            except ValueError as err:
                raise typer.BadParameter(str(err), param_hint="--expires") from err
        given = [
            (lvl, v)
            for lvl, v in (("county", county), ("township", township), ("village", village))
            if v
        ]
        if len(given) > 1:
            fail("give at most one of --county, --township or --village")
        level, jurisdiction = given[0] if given else (None, None)
        if role not in ROLES:
            raise typer.BadParameter(
                f"expected one of {', '.join(ROLES)}, got {role!r}", param_hint="--role"
            )
        if role in SCOPED_ROLES and level is None:
            fail(
                f"{'an' if role[0] in 'aeiou' else 'a'} {role} token needs a jurisdiction (--county, --township or --village)"
            )
        if level is not None and jurisdiction is not None:
            from serving.config import ServingSettings

            warehouse_home = ServingSettings().with_overrides(home=home).home
            known = known_jurisdictions(warehouse_home, level)
            if not known and not force:
                fail(
                    f"cannot check the {level} {jurisdiction!r}: the warehouse under "
                    f"{str(warehouse_home)!r} has no visits yet (run revisit ingest first, "
                    "or pass --force to issue the token anyway)"
                )
            if known:
                from warehouse.jurisdictions import AmbiguousPlace, PlaceIndex, UnknownPlace

                try:  # tokens hold the full path: names repeat across the prefecture
                    jurisdiction = PlaceIndex(level, known).resolve(jurisdiction)
                except AmbiguousPlace as err:
                    fail(f"{err}. Candidates:\n  " + "\n  ".join(err.candidates))
                except UnknownPlace:
                    fail(unknown_name_message(level, jurisdiction, known))
        path = _tokens_path(home)
        try:
            with locked_home(_serving_home(home), wait):
                token, record = TokenStore(path).issue(
                    role, level=level, jurisdiction=jurisdiction, label=name, valid_for=valid_for
                )
        except (ValueError, TokenStoreError) as err:
            fail(str(err))
            return
        scope = f"{record.level} {record.jurisdiction}" if record.level else "all jurisdictions"
        until = f"expires {record.expires}" if record.expires else "never expires"
        typer.echo(
            f"token id {record.token_id}: role {record.role}, {scope}, {until} ({path})", err=True
        )
        typer.echo("Keep this token now; it is not stored and cannot be shown again:", err=True)
        typer.echo(token)

    @group.command("revoke")
    def revoke(
        token_id: str = typer.Argument(..., help="The token id (the part after rv_)."),
        home: Path | None = HomeOption,
        wait: float | None = WaitOption,
    ) -> None:
        """Revoke a token by its id; the API refuses it from its next request on."""
        from serving.auth import TokenStore
        from serving.errors import TokenStoreError

        try:
            with locked_home(_serving_home(home), wait):
                record = TokenStore(_tokens_path(home)).revoke(token_id)
        except KeyError:
            fail(f"no token with id {token_id!r}")
            return
        except TokenStoreError as err:
            fail(str(err))
            return
        typer.echo(f"revoked token {record.token_id} ({record.role}, {record.label})")

    @group.command("list")
    def list_tokens(home: Path | None = HomeOption) -> None:
        """List tokens: id, role, jurisdiction, label, expiry, last use (from the audit log)."""
        from rich.console import Console
        from rich.table import Table

        from serving.auth import TokenStore
        from serving.errors import TokenStoreError

        try:
            records = TokenStore(_tokens_path(home)).records()
        except TokenStoreError as err:
            fail(str(err))
            return
        last_use = _last_use(home)
        table = Table(title=f"{len(records)} tokens")
        for column in ("id", "role", "jurisdiction", "label", "expires", "last use", "state"):
            table.add_column(column)
        for r in sorted(records.values(), key=lambda r: r.created):
            state = "revoked" if r.revoked else ("expired" if r.expired() else "active")
            table.add_row(
                r.token_id,
                r.role,
                f"{r.level} {r.jurisdiction}" if r.level else "all",
                r.label,
                r.expires or "never",
                last_use.get(r.token_id, "never"),
                state,
            )
        Console(width=160).print(table)

    app.add_typer(group, name="token")


def _last_use(home: Path | None) -> dict[str, str]:
    """Latest audit time (UTC) per token id; empty when there is no audit log yet."""
    import sqlite3

    from serving.config import ServingSettings

    path = ServingSettings().with_overrides(home=home).audit_db
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT token_id, MAX(at) FROM audit GROUP BY token_id").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {str(t): str(at) for t, at in rows}
