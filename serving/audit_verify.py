"""Checking the audit log's hash chain (``revisit audit verify``).

Each row's ``row_hash`` is SHA-256 of the previous row's hash and the row's
stored fields (see :mod:`serving.audit`). Walking the rows in insertion order
(``id``) and recomputing finds the first row that was altered (its hash no
longer matches its fields), inserted or deleted (its ``prev_hash`` no longer
matches the row before it). Rows written before hashing existed come first
and are counted, not checked.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from serving.audit import DB_COLUMNS, GENESIS_HASH, AuditError, row_hash


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify`.

    Attributes
    ----------
    ok : bool
        Whether every hashed row checks.
    n_rows : int
        Rows in the log.
    n_checked : int
        Hashed rows checked before the first problem (all of them when ``ok``).
    n_unhashed : int
        Rows written before hashing existed (not checked).
    first_bad_id : int or None
        ``id`` of the first row that fails, when not ``ok``.
    problem : str or None
        What is wrong with that row, in plain words.
    last_hash : str
        ``row_hash`` of the last row checked (keep it elsewhere to detect later truncation).
    """

    ok: bool
    n_rows: int
    n_checked: int
    n_unhashed: int
    first_bad_id: int | None
    problem: str | None
    last_hash: str


def verify(path: Path) -> ChainReport:
    """Recompute the hash chain of the audit log at ``path``.

    Raises
    ------
    AuditError
        When the file does not exist or cannot be read as an audit log.
    """
    if not Path(path).exists():
        raise AuditError(f"expected an audit log at {str(path)!r}, found none")
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise AuditError(f"could not open the audit log {str(path)!r}: {err}") from err
    try:
        columns = ", ".join(("id", *DB_COLUMNS, "prev_hash", "row_hash"))
        rows = conn.execute(f"SELECT {columns} FROM audit ORDER BY id").fetchall()
    except sqlite3.Error as err:
        raise AuditError(f"could not read the audit log {str(path)!r}: {err}") from err
    finally:
        conn.close()
    n_unhashed = 0
    checked = 0
    prev = GENESIS_HASH
    started = False
    for row in rows:
        row_id, values, stored_prev, stored_hash = (
            row[0],
            row[1 : 1 + len(DB_COLUMNS)],
            row[-2],
            row[-1],
        )
        if stored_hash is None and not started:
            n_unhashed += 1
            continue
        problem = None
        if stored_hash is None:
            problem = "has no hash although earlier rows have (inserted without the chain)"
        elif stored_prev != prev:
            problem = "does not follow the row before it (a row before it was deleted or inserted)"
        elif row_hash(prev, values) != stored_hash:
            problem = "does not match its hash (the row was altered)"
        if problem is not None:
            return ChainReport(
                ok=False,
                n_rows=len(rows),
                n_checked=checked,
                n_unhashed=n_unhashed,
                first_bad_id=int(row_id),
                problem=problem,
                last_hash=prev,
            )
        started = True
        prev = str(stored_hash)
        checked += 1
    return ChainReport(
        ok=True,
        n_rows=len(rows),
        n_checked=checked,
        n_unhashed=n_unhashed,
        first_bad_id=None,
        problem=None,
        last_hash=prev,
    )
