"""The audit log of list and household reads (SQLite ``<home>/audit.db``).

Rows hold the time (``at``: UTC ISO with a ``+00:00`` offset, as stored), token
id, role, jurisdiction asked, endpoint, the household ids returned (JSON list),
model version, as-of date, the outcome (``ok``, ``forbidden``, ``not_found``) and
the token's label (for ``revisit rank``: token id and role ``cli``, the operator's
OS account as label). Exports add ``at_local``: the same instant in Asia/Shanghai
(``+08:00``). No names, notes or other personal data. Refused reads are audited
too; rows written before the ``outcome`` column existed export as ``ok`` (only
answered reads were recorded then). Opening an older database adds the missing
columns (``ALTER TABLE ... ADD COLUMN``), so no migration step is needed. Writes go through a queue to one background
writer thread (batched, WAL mode), so a request never waits on the disk;
:meth:`AuditLog.close` flushes what is queued. The writer lets events gather for
``linger_s`` (50 ms) before each transaction, so under load it commits a few
times a second instead of once per request (each commit would take the GIL from
the request thread).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final, TextIO
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

#: Columns stored per row, in the order of :class:`AuditEvent`'s fields.
DB_COLUMNS: tuple[str, ...] = (
    "at",
    "token_id",
    "role",
    "level",
    "jurisdiction",
    "endpoint",
    "household_ids",
    "model_version",
    "as_of",
    "outcome",
    "label",
)

#: Columns of :func:`read_events` and :func:`export`: the stored ones, then ``at_local``.
COLUMNS: tuple[str, ...] = (*DB_COLUMNS, "at_local")

#: Outcomes of an audited read.
OUTCOMES: tuple[str, ...] = ("ok", "forbidden", "not_found", "ambiguous")

#: Time zone of the ``at_local`` export column.
LOCAL_TIMEZONE: Final = ZoneInfo("Asia/Shanghai")

#: Columns added after the first release: name -> SQL type (added to older databases on open).
_ADDED_COLUMNS: dict[str, str] = {"outcome": "TEXT", "label": "TEXT"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    token_id TEXT NOT NULL,
    role TEXT NOT NULL,
    level TEXT,
    jurisdiction TEXT,
    endpoint TEXT NOT NULL,
    household_ids TEXT NOT NULL,
    model_version TEXT,
    as_of TEXT,
    outcome TEXT,
    label TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
"""


class AuditError(Exception):
    """The audit log cannot be opened or read."""


@dataclass(frozen=True)
class AuditEvent:
    """One read: who (token id, role, label), what (jurisdiction, endpoint, ids), with which
    model, and whether it was answered (``outcome``: ``ok``, ``forbidden`` or ``not_found``)."""

    at: str
    token_id: str
    role: str
    level: str | None
    jurisdiction: str | None
    endpoint: str
    household_ids: str
    model_version: str | None
    as_of: str | None
    outcome: str = "ok"
    label: str | None = None

    @classmethod
    def make(
        cls,
        *,
        token_id: str,
        role: str,
        level: str | None,
        jurisdiction: str | None,
        endpoint: str,
        household_ids: Sequence[str] = (),
        model_version: str | None,
        as_of: str | None,
        household_ids_json: str | None = None,
        outcome: str = "ok",
        label: str | None = None,
    ) -> AuditEvent:
        """Build an event stamped now (UTC).

        ``household_ids_json``, when given, is stored as is instead of encoding
        ``household_ids`` (a cached page carries its ids already encoded).

        Raises
        ------
        ValueError
            When ``outcome`` is not one of :data:`OUTCOMES`.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"expected an outcome in {OUTCOMES!r}, got {outcome!r}")
        return cls(
            at=datetime.now(UTC).isoformat(timespec="microseconds"),
            token_id=token_id,
            role=role,
            level=level,
            jurisdiction=jurisdiction,
            endpoint=endpoint,
            household_ids=(
                household_ids_json
                if household_ids_json is not None
                else json.dumps(list(household_ids), ensure_ascii=False)
            ),
            model_version=model_version,
            as_of=as_of,
            outcome=outcome,
            label=label,
        )


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the audit database in WAL mode.

    Raises
    ------
    AuditError
        When the file cannot be opened.
    """
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        _add_missing_columns(conn)
    except sqlite3.Error as err:
        raise AuditError(f"could not open the audit log {str(path)!r}: {err}") from err
    return conn


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add the columns of :data:`_ADDED_COLUMNS` that an older database lacks."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(audit)")}
    for name, sql_type in _ADDED_COLUMNS.items():
        if name not in have:
            try:
                with conn:
                    conn.execute(f"ALTER TABLE audit ADD COLUMN {name} {sql_type}")
            except sqlite3.OperationalError as err:
                # Another process added it between our check and our ALTER.
                if "duplicate column" not in str(err).lower():
                    raise


def _local_time(at: str | None) -> str | None:
    """A stored UTC ISO time as Asia/Shanghai ISO time (``None`` or unparsable: as is)."""
    if not at:
        return at
    try:
        instant = datetime.fromisoformat(at)
    except ValueError:
        return at
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(LOCAL_TIMEZONE).isoformat(timespec="microseconds")


class AuditLog:
    """Append-only audit log with a background writer thread.

    Parameters
    ----------
    path : Path
        SQLite file (``<home>/audit.db``).
    batch_size : int
        Most rows written in one transaction.
    linger_s : float
        Seconds the writer waits after the first queued event of a batch for more
        to arrive (cut short by :meth:`flush` and :meth:`close`); ``0``: write at once.
        Events still lingering when the process dies abruptly are lost, like any queued.
    """

    _STOP = object()

    def __init__(self, path: Path, *, batch_size: int = 500, linger_s: float = 0.05) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.linger_s = max(0.0, float(linger_s))
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._hurry = threading.Event()

    def start(self) -> None:
        """Open the database and start the writer thread (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            conn = connect(self.path)
            self._thread = threading.Thread(
                target=self._run, args=(conn,), name="revisit-audit", daemon=True
            )
            self._thread.start()

    def record(self, event: AuditEvent) -> None:
        """Queue one event (returns at once; the writer thread stores it)."""
        if self._thread is None:
            self.start()
        self._queue.put(event)

    def flush(self) -> None:
        """Block until every queued event is written."""
        self._hurry.set()
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is None:
            return
        self._queue.put(self._STOP)
        self._hurry.set()
        thread.join(timeout=30)

    def _run(self, conn: sqlite3.Connection) -> None:
        placeholders = ", ".join("?" for _ in DB_COLUMNS)
        sql = f"INSERT INTO audit ({', '.join(DB_COLUMNS)}) VALUES ({placeholders})"
        try:
            while True:
                item = self._queue.get()
                if (
                    item is not self._STOP
                    and self.linger_s > 0
                    and self._queue.qsize() < self.batch_size
                ):
                    # Sleep rather than block on the queue: puts then wake nobody.
                    self._hurry.wait(self.linger_s)
                self._hurry.clear()
                batch = [item]
                while len(batch) < self.batch_size:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(x is self._STOP for x in batch)
                rows = [astuple(x) for x in batch if isinstance(x, AuditEvent)]
                try:
                    if rows:
                        with conn:
                            conn.executemany(sql, rows)
                except sqlite3.Error as err:
                    logger.error("could not write %d audit rows: %s", len(rows), err)
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if stop:
                    return
        finally:
            conn.close()


def read_events(
    path: Path, since: date | datetime | None = None
) -> Iterator[dict[str, str | None]]:
    """Audit rows in time order, optionally from ``since`` (a UTC date or datetime) on.

    Each row has the keys of :data:`COLUMNS`: ``at`` is UTC, ``at_local`` the same
    instant in Asia/Shanghai; ``outcome`` is ``ok`` for rows stored before it existed.

    Raises
    ------
    AuditError
        When the file does not exist or cannot be read.
    """
    if not Path(path).exists():
        raise AuditError(f"expected an audit log at {str(path)!r}, found none")
    conn = connect(path)
    try:
        stored = [c if c != "outcome" else "COALESCE(outcome, 'ok')" for c in DB_COLUMNS]
        sql = f"SELECT {', '.join(stored)} FROM audit"
        args: tuple[str, ...] = ()
        if since is not None:
            if isinstance(since, datetime):
                start = since if since.tzinfo else since.replace(tzinfo=UTC)
            else:
                start = datetime(since.year, since.month, since.day, tzinfo=UTC)
            sql += " WHERE at >= ?"
            args = (start.astimezone(UTC).isoformat(timespec="microseconds"),)
        sql += " ORDER BY at, id"
        for row in conn.execute(sql, args):
            out: dict[str, str | None] = dict(zip(DB_COLUMNS, row, strict=True))
            out["at_local"] = _local_time(out["at"])
            yield out
    except sqlite3.Error as err:
        raise AuditError(f"could not read the audit log {str(path)!r}: {err}") from err
    finally:
        conn.close()


def export(
    path: Path, out: TextIO, *, since: date | datetime | None = None, fmt: str = "csv"
) -> int:
    """Write the audit rows to ``out`` as CSV (with a header) or JSON lines.

    Columns are :data:`COLUMNS`: ``at`` in UTC and ``at_local`` in Asia/Shanghai.

    Returns
    -------
    int
        Number of rows written.

    Raises
    ------
    ValueError
        When ``fmt`` is not ``csv`` or ``jsonl``.
    AuditError
        When the log cannot be read.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"expected format 'csv' or 'jsonl', got {fmt!r}")
    n = 0
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS)) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in read_events(path, since):
        if writer is not None:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


def export_text(path: Path, *, since: date | datetime | None = None, fmt: str = "csv") -> str:
    """:func:`export` into a string."""
    buf = io.StringIO()
    export(path, buf, since=since, fmt=fmt)
    return buf.getvalue()
