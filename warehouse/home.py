"""The Revisit home folder: one writer at a time, atomic private files.

Every command that writes under the home (``ingest``, ``features``, ``train``,
``promote``, ``token issue``/``revoke``) holds :func:`home_lock` for the whole
of its work. A second writer waits, with a message, and gives up with
:class:`HomeLockedError` after ``wait_s`` seconds. The lock is an advisory
``flock`` on ``<home>/.revisit.lock`` taken through the ``filelock`` package; the
kernel releases it when the process dies, so a killed run never leaves the
home locked.

Files are written through :func:`atomic_path` / :func:`atomic_write_bytes`: a
temporary file ``.<name>.<random>.revisit-tmp`` in the same folder, created
0600, renamed over the target with :func:`os.replace`. A reader sees the old
file or the new one, never a half-written one. A run killed between the two
leaves its temporary file behind; the next holder of the lock removes such
files (:func:`remove_stray_temp_files`), and only the holder may, since a
writer's temporary file exists only while it holds the lock.

This module imports nothing of Revisit's, so every layer may use it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TextIO

logger = logging.getLogger(__name__)

#: Name of the lock file directly under the home.
LOCK_NAME: Final = ".revisit.lock"
#: Suffix of every temporary file written by :func:`atomic_path`.
TEMP_SUFFIX: Final = ".revisit-tmp"
#: Mode of every file Revisit writes under the home (owner read/write only).
FILE_MODE: Final = 0o600
#: Mode of the folders Revisit creates under the home.
DIR_MODE: Final = 0o700

# Homes whose lock this process holds, with a hold count: a command that already holds
# the lock may call code that asks for it again without waiting on itself.
_HELD: dict[Path, int] = {}
_HELD_GUARD = threading.Lock()


class HomeLockedError(RuntimeError):
    """Another process holds the home's lock and did not release it within the wait."""


def _key(home: Path) -> Path:
    return Path(home).expanduser().resolve()


def holds_lock(home: Path) -> bool:
    """Whether this process holds the lock of ``home`` (through :func:`home_lock`)."""
    with _HELD_GUARD:
        return _HELD.get(_key(home), 0) > 0


@contextmanager
def home_lock(
    home: Path,
    wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the write lock of ``home`` for the body of a ``with`` block.

    Parameters
    ----------
    home : Path
        The Revisit home (created 0700 when missing).
    wait_s : float or None, default None
        Seconds to wait for another writer to finish; ``None`` waits for as
        long as it takes, ``0`` does not wait.
    on_wait : callable or None
        Called once with a plain-words message when the lock is busy and this
        process starts waiting (the CLI prints it); ``None`` logs it.

    Yields
    ------
    Path
        The lock file, ``<home>/.revisit.lock``.

    Raises
    ------
    HomeLockedError
        If the lock is still held by another process after ``wait_s`` seconds.

    Notes
    -----
    Re-entrant within one process: a nested ``home_lock`` on the same home
    returns at once. On acquiring the lock, temporary files left by a killed
    writer are removed (:func:`remove_stray_temp_files`).
    """
    from filelock import FileLock, Timeout

    key = _key(home)
    with _HELD_GUARD:
        nested = _HELD.get(key, 0) > 0
        if nested:
            _HELD[key] += 1
    if nested:
        try:
            yield key / LOCK_NAME
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    ensure_private_dir(key)
    path = key / LOCK_NAME
    lock = FileLock(str(path), mode=FILE_MODE, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        how_long = "until it finishes" if wait_s is None else f"up to {wait_s:g} s"
        message = (
            f"another revisit command is writing to {str(key)!r}; waiting {how_long} "
            "(--wait sets how long)"
        )
        (on_wait or logger.warning)(message)
        try:
            lock.acquire(timeout=-1 if wait_s is None else max(float(wait_s), 0.0))
        except Timeout as err:
            raise HomeLockedError(
                f"expected the home {str(key)!r} to be free within {wait_s:g} s, but another "
                "revisit command (ingest, features, train, promote or token) still holds its "
                f"lock {str(path)!r}; try again when it has finished, or pass a longer --wait"
            ) from err
    with _HELD_GUARD:
        _HELD[key] = 1
    try:
        removed = remove_stray_temp_files(key)
        if removed:
            logger.info("removed %d temporary file(s) left by an interrupted run", removed)
        yield path
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        lock.release()


def remove_stray_temp_files(home: Path) -> int:
    """Delete the temporary files (``*.revisit-tmp``) an interrupted writer left under ``home``.

    Call only while holding :func:`home_lock` (no writer is running then).

    Parameters
    ----------
    home : Path

    Returns
    -------
    int
        Number of files removed.
    """
    n = 0
    home = Path(home)
    if not home.is_dir():
        return 0
    for path in home.rglob(f"*{TEMP_SUFFIX}"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            n += 1
    return n


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; folders created here are 0700.

    Parameters
    ----------
    path : Path

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    The temporary file is created empty with mode 0600 and the final file
    keeps that mode. On any exception the temporary file is removed and
    ``path`` is left as it was.

    Parameters
    ----------
    path : Path
        The file to (re)write.

    Yields
    ------
    Path
        Where the caller writes the new content.
    """
    path = Path(path)
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + rename), mode 0600.

    Parameters
    ----------
    path : Path
    data : bytes

    Returns
    -------
    Path
        ``path``.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, mode 0600 (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


def open_private_append(path: Path, encoding: str = "utf-8") -> TextIO:
    """Open ``path`` for appending text, creating it with mode 0600 when missing.

    Parameters
    ----------
    path : Path
    encoding : str, default "utf-8"

    Returns
    -------
    text file object
        The caller closes it (``with open_private_append(p) as fh``).
    """
    path = Path(path)
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    return os.fdopen(fd, "a", encoding=encoding)
