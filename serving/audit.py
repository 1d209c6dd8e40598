"""The audit log of reads: evidence, written before the answer (SQLite ``<home>/audit.db``).

Rows hold the time (``at``: UTC ISO with a ``+00:00`` offset, as stored), token
id, role, jurisdiction asked (a full path), endpoint, the household ids returned
(JSON list), model version, as-of date, the outcome (``ok``, ``forbidden``,
``not_found``, ``ambiguous``, ``unauthorized``, ``invalid``, ``error``) and the
token's label (for ``revisit rank``: token id and role ``cli``, the operator's
OS account as label). Exports add ``at_local``: the same instant in
Asia/Shanghai (``+08:00``). No names, notes or other personal data.

Guarantees:

* Durable before answered. :meth:`AuditLog.record` returns only after the row's
  transaction has committed with ``synchronous=FULL`` in WAL mode (the WAL is
  fsynced at commit), so a process killed right after an answer keeps its row.
  If the row cannot be written (disk full, file removed or replaced, database
  locked past ``busy_timeout_s``) it raises :class:`AuditWriteError`, and the
  API answers 503 instead of the read. Concurrent requests share commits: one
  writer thread takes whatever is queued as one transaction (group commit).
* Tamper-evident. Each row stores ``prev_hash`` (the previous row's
  ``row_hash``; 64 zeros for the first) and ``row_hash = SHA-256(prev_hash ||
  canonical JSON of the row's stored fields)``. The chain is extended inside a
  ``BEGIN IMMEDIATE`` transaction, so several API workers (processes) chain one
  sequence. :func:`serving.audit_chain.verify` (``revisit audit verify``) finds
  the first altered, inserted or deleted row. Cutting rows off the end leaves a
  valid shorter chain: keep exported copies (or the last hash) elsewhere to
  detect that.
* Private. The database and its WAL/SHM files are made 0600 when opened.

Rows written by older versions (no ``outcome``, no hash) still read and export;
opening an older database adds the missing columns (``ALTER TABLE ... ADD
COLUMN``), and verification starts at the first hashed row.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import csv
import hashlib
import io
import json
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
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
OUTCOMES: tuple[str, ...] = (
    "ok",
    "forbidden",
    "not_found",
    "ambiguous",
    "unauthorized",
    "invalid",
    "error",
)

#: Time zone of the ``at_local`` export column.
LOCAL_TIMEZONE: Final = ZoneInfo("Asia/Shanghai")

#: Columns added after the first release: name -> SQL type (added to older databases on open).
_ADDED_COLUMNS: dict[str, str] = {
    "outcome": "TEXT",
    "label": "TEXT",
    "prev_hash": "TEXT",
    "row_hash": "TEXT",
}
#: ``prev_hash`` of the first row of a chain.
GENESIS_HASH = "0" * 64

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
    label TEXT,
    prev_hash TEXT,
    row_hash TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
"""


class AuditError(Exception):
    """The audit log cannot be opened or read."""


class AuditWriteError(AuditError):
    """A row could not be made durable: the read it records must not be answered."""


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


def connect(path: Path, *, busy_timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open (and create) the audit database: WAL, ``synchronous=FULL``, files 0600.

    Parameters
    ----------
    path : Path
        The SQLite file.
    busy_timeout_s : float
        Seconds a write waits for another writer's lock before failing.

    Raises
    ------
    AuditError
        When the file cannot be opened.
    """
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not Path(path).exists():
            os.close(os.open(str(path), os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
        _add_missing_columns(conn)
        restrict_permissions(Path(path))
    except (sqlite3.Error, OSError) as err:
        raise AuditError(f"could not open the audit log {str(path)!r}: {err}") from err
    return conn


def restrict_permissions(path: Path) -> None:
    """Make the database and its ``-wal``/``-shm`` files readable by their owner only (0600)."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(candidate, 0o600)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add the columns of :data:`_ADDED_COLUMNS` that an older database lacks."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(audit)")}
    for name, sql_type in _ADDED_COLUMNS.items():
        if name not in have:
            try:
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


def row_hash(prev_hash: str, values: Sequence[object]) -> str:
    """SHA-256 (hex) of ``prev_hash`` and the canonical JSON of a row's stored fields.

    Parameters
    ----------
    prev_hash : str
        ``row_hash`` of the previous row (:data:`GENESIS_HASH` for the first).
    values : sequence
        The row's values in the order of :data:`DB_COLUMNS`.
    """
    body = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + "\n" + body).encode("utf-8")).hexdigest()


def last_hash(conn: sqlite3.Connection) -> str:
    """``row_hash`` of the newest hashed row, or :data:`GENESIS_HASH` when there is none."""
    row = conn.execute(
        "SELECT row_hash FROM audit WHERE row_hash IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else GENESIS_HASH


def append_rows(conn: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
    """Append ``events`` as one durable transaction, extending the hash chain.

    ``BEGIN IMMEDIATE`` takes the write lock before the last hash is read, so
    concurrent writers (other processes) cannot fork the chain.

    Raises
    ------
    sqlite3.Error
        When the transaction fails (rolled back; nothing is written).
    """
    columns = (*DB_COLUMNS, "prev_hash", "row_hash")
    sql = f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    conn.execute("BEGIN IMMEDIATE")
    try:
        prev = last_hash(conn)
        rows = []
        for event in events:
            values = astuple(event)
            digest = row_hash(prev, values)
            rows.append((*values, prev, digest))
            prev = digest
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


class AuditLog:
    """Append-only, hash-chained audit log whose writes return once durable.

    Parameters
    ----------
    path : Path
        SQLite file (``<home>/audit.db``).
    batch_size : int
        Most rows committed in one transaction.
    linger_s : float
        Seconds the writer waits for more events before a commit; ``0`` (default):
        commit at once (callers wait for their commit, so lingering adds latency).
    busy_timeout_s : float
        Seconds a commit waits for another writer's lock before the write fails.

    Notes
    -----
    One writer thread owns the connection. :meth:`record` queues the event and
    blocks until the transaction holding it committed (or failed); requests that
    arrive while a commit is under way share the next one. :meth:`arecord` is the
    same for the event loop.
    """

    _STOP = object()

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 500,
        linger_s: float = 0.0,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.linger_s = max(0.0, float(linger_s))
        self.busy_timeout_s = busy_timeout_s
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._hurry = threading.Event()
        self._file: tuple[int, int] | None = None

    def start(self) -> None:
        """Open the database and start the writer thread (idempotent).

        Raises
        ------
        AuditError
            When the database cannot be opened.
        """
        with self._lock:
            if self._thread is not None:
                return
            conn = connect(self.path, busy_timeout_s=self.busy_timeout_s)
            self._file = _file_id(self.path)
            self._thread = threading.Thread(
                target=self._run, args=(conn,), name="revisit-audit", daemon=True
            )
            self._thread.start()

    def submit(self, event: AuditEvent) -> Future[None]:
        """Queue one event; the future completes when its row is durable (or fails).

        Raises
        ------
        AuditWriteError
            When the writer cannot be started.
        """
        if self._thread is None:
            try:
                self.start()
            except AuditError as err:
                raise AuditWriteError(str(err)) from err
        future: Future[None] = Future()
        self._queue.put((event, future))
        return future

    def record(self, event: AuditEvent, timeout_s: float | None = 60.0) -> None:
        """Write one event and return once it is durable.

        Inside an API request (see :mod:`serving.audit_middleware`) the event is
        handed to the request's audit step instead, which writes it before the
        response leaves.

        Raises
        ------
        AuditWriteError
            When the row could not be written; the caller must not answer the read.
        """
        pending = PENDING.get()
        if pending is not None:
            pending["event"] = event
            return
        try:
            self.submit(event).result(timeout=timeout_s)
        except AuditWriteError:
            raise
        except Exception as err:  # a timeout
            raise AuditWriteError(f"the audit row was not written in time: {err!r}") from err

    async def arecord(self, event: AuditEvent) -> None:
        """:meth:`record` for the event loop (awaits the commit without blocking the loop).

        Raises
        ------
        AuditWriteError
            When the row could not be written.
        """
        await asyncio.wrap_future(self.submit(event))

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

    def _check_file(self) -> None:
        """Refuse to write into a database file that was removed or replaced under us."""
        now = _file_id(self.path)
        if now is None or now != self._file:
            raise AuditWriteError(
                f"the audit log {str(self.path)!r} was removed or replaced while in use; "
                f"reads are refused until the service restarts"
            )

    def _run(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is not self._STOP and self.linger_s > 0:
                    self._hurry.wait(self.linger_s)
                self._hurry.clear()
                batch = [item]
                while len(batch) < self.batch_size:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(x is self._STOP for x in batch)
                work = [x for x in batch if isinstance(x, tuple)]
                try:
                    if work:
                        self._check_file()
                        append_rows(conn, [event for event, _ in work])
                        restrict_permissions(self.path)
                except (sqlite3.Error, OSError, AuditWriteError) as err:
                    logger.error("could not write %d audit rows: %s", len(work), err)
                    failure = (
                        err
                        if isinstance(err, AuditWriteError)
                        else AuditWriteError(f"could not write the audit log: {err}")
                    )
                    for _, future in work:
                        future.set_exception(failure)
                else:
                    for _, future in work:
                        future.set_result(None)
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if stop:
                    return
        finally:
            conn.close()


#: The pending audit event of the current API request (set by the audit middleware).
PENDING: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "revisit_audit_pending", default=None
)


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


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str | None:
    """A cell value that no spreadsheet evaluates: ``'`` before a leading ``= + - @`` (tab, CR)."""
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "xlsx")


def export(
    path: Path, out: TextIO, *, since: date | datetime | None = None, fmt: str = "csv"
) -> int:
    """Write the audit rows to ``out`` as CSV (with a header) or JSON lines.

    Columns are :data:`COLUMNS`: ``at`` in UTC and ``at_local`` in Asia/Shanghai.
    CSV cells that a spreadsheet would evaluate as a formula are neutralised
    (:func:`neutralise`); JSON lines keep the stored text.

    Returns
    -------
    int
        Number of rows written.

    Raises
    ------
    ValueError
        When ``fmt`` is not ``csv`` or ``jsonl`` (xlsx: :func:`export_xlsx`).
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
            writer.writerow({k: neutralise(v) for k, v in row.items()})
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


def export_xlsx(path: Path, *, since: date | datetime | None = None) -> tuple[bytes, int]:
    """The audit rows as an xlsx workbook (every cell text, formulas neutralised).

    Returns
    -------
    content : bytes
        The workbook.
    n : int
        Number of rows.

    Raises
    ------
    AuditError
        When the log cannot be read.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "audit"
    sheet.append(list(COLUMNS))
    n = 0
    for row in read_events(path, since):
        sheet.append([neutralise(row[c]) for c in COLUMNS])
        n += 1
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.data_type = "s"  # text, whatever it looks like
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue(), n


def export_text(path: Path, *, since: date | datetime | None = None, fmt: str = "csv") -> str:
    """:func:`export` into a string."""
    buf = io.StringIO()
    export(path, buf, since=since, fmt=fmt)
    return buf.getvalue()
