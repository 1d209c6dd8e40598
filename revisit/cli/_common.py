"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import typer

from revisit.settings import Settings

HomeOption = typer.Option(
    None, "--home", help="Revisit home folder (default: $REVISIT_HOME, else ./revisit-data)."
)


def settings_for(home: Path | None) -> Settings:
    """Build the process's settings from the environment and the ``--home`` option.

    A bad setting (e.g. ``REVISIT_ID_SECRET`` shorter than 32 bytes) exits 1 with
    the setting's name and the reason, never a traceback.
    """
    from pydantic import ValidationError

    try:
        return Settings().with_home(home)
    except ValidationError as err:
        first = err.errors()[0]
        fail(f"bad setting {first['loc'][0]}: {first['msg'].removeprefix('Value error, ')}")
        raise  # unreachable: fail() exits


def configure_logging(level: int = logging.INFO) -> None:
    """Configure logging once, in the entry point (never at import time)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def not_built(command: str) -> None:
    """Say plainly that a command is not built yet, and exit with status 2."""
    typer.echo(f"revisit {command}: not built yet in this version of Revisit.", err=True)
    raise typer.Exit(code=2)


def fail(message: str, code: int = 1) -> None:
    """Print a plain-words error (no stack trace) and exit non-zero."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


WaitOption = typer.Option(
    None,
    "--wait",
    help="Seconds to wait while another revisit command writes to the home "
    "(default: wait until it finishes).",
    min=0,
)


@contextmanager
def locked_home(home: Path, wait: float | None) -> Iterator[None]:
    """Hold the home's write lock for a command; a busy home prints a line, a timeout exits 1.

    While held, the process umask is 077, so that files other libraries create under
    the home (MLflow's store and artifacts, Parquet outputs) are private too.
    """
    from warehouse.home import HomeLockedError, home_lock

    def on_wait(message: str) -> None:
        typer.echo(message, err=True)

    with ExitStack() as stack:
        try:
            stack.enter_context(home_lock(home, wait_s=wait, on_wait=on_wait))
        except HomeLockedError as err:
            fail(str(err))
        previous = os.umask(0o077)
        stack.callback(os.umask, previous)
        yield
