"""`revisit serve`: run the HTTP API with uvicorn (one worker, or ``--workers N`` processes).

With several workers uvicorn spawns fresh processes (``spawn``, not ``fork``):
each imports the app factory :func:`serving.app.app_from_environment` and loads
the champion and snapshot itself, so no LightGBM/OpenMP state crosses a fork.
The command line's overrides reach the workers as environment variables. Every
worker audits into the same ``<home>/audit.db``; the hash chain is extended
under SQLite's write lock, so the workers' rows form one chain.
"""

from __future__ import annotations

import errno
import os
import socket
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

ReloadIntervalOption = typer.Option(
    None, "--reload-interval", min=0, help="Seconds between checks for a new champion (0 = off)."
)


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, in plain words, or ``None`` when it can.

    Binds a socket the way uvicorn does (``SO_REUSEADDR``, so connections left in
    TIME_WAIT by a previous server do not count) and closes it at once.

    Parameters
    ----------
    host : str
        Interface name or address, e.g. ``127.0.0.1``.
    port : int
        TCP port, 1–65535.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        return f"cannot resolve the host {host!r}: {err.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use"
            return f"cannot listen on port {port} of {host}: {err.strerror or err}"
    return None


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
        home: Path | None = HomeOption,
        as_of: datetime | None = AsOfOption,
        reload_interval: float | None = ReloadIntervalOption,
        workers: int = typer.Option(
            1, "--workers", min=1, max=64, help="Worker processes (each loads the model itself)."
        ),
        access_log: bool = typer.Option(
            False,
            "--access-log/--no-access-log",
            help="Log every HTTP request line (off: the audit log already records each read).",
        ),
    ) -> None:
        """Serve ranked lists, households, scores and the model card (OpenAPI at /docs)."""
        import uvicorn

        from serving.app import create_app
        from serving.config import ServingSettings

        problem = port_problem(host, port)
        if problem is not None:
            fail(problem)
        configure_logging()
        settings = ServingSettings().with_overrides(
            home=home, as_of=as_of.date() if as_of else None
        )
        if reload_interval is not None:
            settings = settings.model_copy(update={"reload_interval_s": reload_interval})
        typer.echo(
            f"Revisit API on http://{host}:{port} (docs at /docs); home {settings.home}"
            + (f"; {workers} workers" if workers > 1 else ""),
            err=True,
        )
        if workers == 1:
            uvicorn.run(
                create_app(settings),
                host=host,
                port=port,
                workers=1,
                log_level="info",
                access_log=access_log,
            )
            return
        # Workers are spawned processes: hand them the overrides through the environment.
        os.environ["REVISIT_HOME"] = str(settings.home.resolve())
        if settings.as_of is not None:
            os.environ["REVISIT_AS_OF"] = settings.as_of.isoformat()
        os.environ["REVISIT_RELOAD_INTERVAL_S"] = str(settings.reload_interval_s)
        uvicorn.run(
            "serving.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
        )
