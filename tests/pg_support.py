"""A throwaway PostgreSQL server for the ``postgres`` tests (Debian's ``postgresql`` binaries).

The cluster lives in a temporary folder and listens on a free loopback port with
``trust`` authentication; it is stopped and removed at the end of the session. As
root, the server runs as the ``postgres`` system user (PostgreSQL refuses root).
Where no server can start (binaries missing, no such user), the tests are skipped
with the reason, never silently.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the reason is the message)."""


def start_postgres() -> Iterator[str]:
    """Start a cluster and yield its SQLAlchemy URL; stop and delete it afterwards.

    Raises
    ------
    PgUnavailable
        When the binaries are missing or the server does not start.
    """
    bindir = _bindir()
    if bindir is None:
        raise PgUnavailable(
            "PostgreSQL binaries not found (apt-get install -y postgresql; .ci/run does it)"
        )
    root = Path(tempfile.mkdtemp(prefix="revisit-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise PgUnavailable("running as root without runuser to drop to the postgres user")
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError as err:
            raise PgUnavailable("running as root and no 'postgres' system user exists") from err
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chown(sock, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = root / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C")  # fmt: skip
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        raise PgUnavailable(
            f"PostgreSQL did not start: {detail.decode(errors='replace')[-300:]}"
        ) from err
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
