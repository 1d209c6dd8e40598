"""`revisit token issue|revoke`: bearer tokens of the API (only their hashes are stored)."""

from __future__ import annotations

from pathlib import Path

import typer

from revisit.cli._common import HomeOption, WaitOption, fail, locked_home


def _serving_home(home: Path | None) -> Path:
    from serving.config import ServingSettings

    return ServingSettings().with_overrides(home=home).home


def _tokens_path(home: Path | None) -> Path:
    from serving.config import ServingSettings

    return ServingSettings().with_overrides(home=home).tokens_file


def known_jurisdictions(home: Path, level: str) -> list[str]:
    """Sorted ``level`` names (county, township or village) of the warehouse's visits.

    Read with :func:`warehouse.store.read_visits`; empty when there are no visits.
    """
    from warehouse.store import read_visits

    visits = read_visits(home)
    if len(visits) == 0 or level not in visits.columns:
        return []
    return sorted({str(v) for v in visits[level].dropna().unique()})


def unknown_name_message(level: str, name: str, known: list[str]) -> str:
    """Refusal of an unknown jurisdiction with the closest known names suggested (difflib)."""
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"no {level} named {name!r} in the warehouse ({len(known)} {level} names known){hint}"


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI app."""
    group = typer.Typer(help="Issue and revoke API bearer tokens.", no_args_is_help=True)

    @group.command("issue")
    def issue(
        role: str = typer.Option(..., "--role", help="officer, supervisor, analyst or admin."),
        name: str = typer.Option(
            ..., "--name", help="Label: the unit or service the token is for."
        ),
        county: str | None = typer.Option(None, "--county", help="Jurisdiction: a county."),
        township: str | None = typer.Option(None, "--township", help="Jurisdiction: a township."),
        village: str | None = typer.Option(None, "--village", help="Jurisdiction: a village."),
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
        from serving.auth import TokenStore
        from serving.errors import TokenStoreError

        given = [
            (lvl, v)
            for lvl, v in (("county", county), ("township", township), ("village", village))
            if v
        ]
        if len(given) > 1:
            fail("give at most one of --county, --township or --village")
        level, jurisdiction = given[0] if given else (None, None)
        if role in ("officer", "supervisor") and level is None:
            fail(f"a {role} token needs a jurisdiction (--county, --township or --village)")
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
            if known and jurisdiction not in known:
                fail(unknown_name_message(level, jurisdiction, known))
        path = _tokens_path(home)
        try:
            with locked_home(_serving_home(home), wait):
                token, record = TokenStore(path).issue(
                    role, level=level, jurisdiction=jurisdiction, label=name
                )
        except (ValueError, TokenStoreError) as err:
            fail(str(err))
            return
        scope = f"{record.level} {record.jurisdiction}" if record.level else "all jurisdictions"
        typer.echo(f"token id {record.token_id}: role {record.role}, {scope} ({path})", err=True)
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

    app.add_typer(group, name="token")
