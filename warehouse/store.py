"""The canonical Parquet warehouse: column layout, dtypes, reading and atomic writing.

Layout under the Revisit home (``warehouse.contract.warehouse_path``)::

    <home>/warehouse/visits.parquet      one row per visit_id
    <home>/warehouse/incidents.parquet   one row per incident_id
    <home>/warehouse/visits.seen.parquet    (id, content_hash) of every row content
    <home>/warehouse/incidents.seen.parquet ever accepted, so re-sent rows stay duplicates
    <home>/warehouse/audit_attributes.parquet  audit-only protected attributes (bias audit
                                               only; never read by features/)

Dtypes are those of ``docs/interfaces.md``; timestamps are
``datetime64[ns, Asia/Shanghai]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from warehouse.contract import TABLE_INCIDENTS, TABLE_VISITS, TIMEZONE, warehouse_path

TS: Final = f"datetime64[ns, {TIMEZONE}]"

#: Canonical visits columns and their pandas dtypes, in warehouse order.
VISITS_DTYPES: Final[dict[str, str]] = {
    "visit_id": "str",
    "household_id": "str",
    "visited_at": TS,
    "recorded_at": TS,
    "officer_id": "str",
    "station": "str",
    "county": "str",
    "township": "str",
    "village": "str",
    "persons_met": "Int64",
    "household_type": "str",
    "has_dispute": "boolean",
    "dispute_type": "str",
    "dispute_severity": "str",
    "dispute_parties": "Int64",
    "risk_hazards": "str",
    "resolution_status": "str",
    "mediation_agreement": "boolean",
    "followup_due": TS,
    "review_status": "str",
    "reviewed_at": TS,
    "source_file": "str",
    "source_row": "int64",
}

#: Canonical incidents columns and their pandas dtypes, in warehouse order.
INCIDENTS_DTYPES: Final[dict[str, str]] = {
    "incident_id": "str",
    "household_id": "str",
    "reported_at": TS,
    "recorded_at": TS,
    "category": "str",
    "county": "str",
    "township": "str",
    "village": "str",
    "source_file": "str",
    "source_row": "int64",
}

TABLE_DTYPES: Final[dict[str, dict[str, str]]] = {
    TABLE_VISITS: VISITS_DTYPES,
    TABLE_INCIDENTS: INCIDENTS_DTYPES,
}
#: Primary key of each table.
TABLE_ID: Final[dict[str, str]] = {TABLE_VISITS: "visit_id", TABLE_INCIDENTS: "incident_id"}
#: Event time of each table (when the visit happened / the incident was reported).
TABLE_EVENT_TIME: Final[dict[str, str]] = {
    TABLE_VISITS: "visited_at",
    TABLE_INCIDENTS: "reported_at",
}


#: Canonical audit-only attribute of each accepted protected-attribute header
#: (``warehouse.contract.PROTECTED_HEADERS``); compared after ``normalise_text``.
AUDIT_ATTRIBUTE_HEADERS: Final[dict[str, str]] = {
    "民族": "ethnicity",
    "ethnicity": "ethnicity",
    "宗教": "religion",
    "宗教信仰": "religion",
    "religion": "religion",
    "性别": "sex",
    "性別": "sex",
    "sex": "sex",
    "gender": "sex",
}
#: Columns of ``audit_attributes.parquet``: one row per (household_id, attribute).
AUDIT_ATTRIBUTES_DTYPES: Final[dict[str, str]] = {
    "household_id": "str",
    "attribute": "str",
    "value": "str",
    "recorded_at": TS,
    "source_file": "str",
    "source_row": "int64",
}
#: File name of the audit-only attribute table under ``<home>/warehouse/``.
AUDIT_ATTRIBUTES_FILE: Final = "audit_attributes.parquet"


class WarehouseError(RuntimeError):
    """The warehouse on disk cannot be read or does not follow the canonical layout."""


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series([], dtype=d) for c, d in TABLE_DTYPES[table].items()},
        index=pd.RangeIndex(0),
    )


def empty_visits() -> pd.DataFrame:
    """Return an empty canonical visits frame.

    Returns
    -------
    DataFrame of shape (0, 23)
        Columns and dtypes of :data:`VISITS_DTYPES`.
    """
    return _empty(TABLE_VISITS)


def empty_incidents() -> pd.DataFrame:
    """Return an empty canonical incidents frame.

    Returns
    -------
    DataFrame of shape (0, 10)
        Columns and dtypes of :data:`INCIDENTS_DTYPES`.
    """
    return _empty(TABLE_INCIDENTS)


def conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Select the canonical columns of ``table`` in order and cast them to canonical dtypes.

    Parameters
    ----------
    frame : DataFrame
        Holds at least every canonical column of ``table``.
    table : {"visits", "incidents"}

    Returns
    -------
    DataFrame
        A new frame with a fresh ``RangeIndex``.

    Raises
    ------
    WarehouseError
        If a canonical column is missing or cannot be cast.
    """
    dtypes = TABLE_DTYPES[table]
    missing = [c for c in dtypes if c not in frame.columns]
    if missing:
        raise WarehouseError(f"expected the canonical {table} columns, missing {missing!r}")
    try:
        out = frame.loc[:, list(dtypes)].astype(dtypes)
    except (TypeError, ValueError) as err:
        raise WarehouseError(f"cannot cast {table} to its canonical dtypes: {err}") from err
    return out.reset_index(drop=True)


def read_table(home: Path, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read one warehouse table, or an empty canonical frame if it does not exist.

    Parameters
    ----------
    home : Path
        Revisit home folder.
    table : {"visits", "incidents"}
    columns : sequence of str, optional
        Read only these canonical columns (a fraction of the memory of the whole
        table: 1 000 000 households hold 10 M visits).

    Returns
    -------
    DataFrame
        Canonical columns and dtypes (``docs/interfaces.md``).

    Raises
    ------
    WarehouseError
        If the file exists but is not a readable canonical table.
    """
    path = warehouse_path(home, table)
    wanted = None if columns is None else list(dict.fromkeys(columns))
    unknown = sorted(set(wanted or ()) - set(TABLE_DTYPES[table]))
    if unknown:
        raise WarehouseError(f"expected canonical {table} columns, got {unknown!r}")
    if not path.exists():
        empty = _empty(table)
        return empty if wanted is None else empty[wanted]
    try:
        frame = pd.read_parquet(path, columns=wanted)
    except (OSError, ValueError) as err:
        raise WarehouseError(f"cannot read warehouse table {str(path)!r}: {err}") from err
    if wanted is None:
        return conform(frame, table)
    try:
        return frame.astype({c: TABLE_DTYPES[table][c] for c in wanted}).reset_index(drop=True)
    except (TypeError, ValueError) as err:
        raise WarehouseError(f"cannot cast {table} to its canonical dtypes: {err}") from err


def read_rows(home: Path, table: str, rows: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """Some rows of a warehouse table, read one record batch at a time.

    Parameters
    ----------
    home : Path
        Revisit home folder.
    table : {"visits", "incidents"}
    rows : ndarray of int64, shape (n,)
        Ascending row positions (0-based) in the table's file.
    columns : sequence of str
        Canonical columns to read.

    Returns
    -------
    DataFrame of shape (n, len(columns))
        Those rows in file order, canonical dtypes, a fresh ``RangeIndex``. Only one
        batch of the other rows is held at a time (the reference prefecture's
        serving snapshot reads its last 90 days of visits this way).

    Raises
    ------
    WarehouseError
        If the file is not a readable canonical table or a position is out of range.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = warehouse_path(home, table)
    wanted = list(dict.fromkeys(columns))
    rows = np.asarray(rows, dtype=np.int64)
    if not path.exists():
        if rows.size:
            raise WarehouseError(f"no warehouse table at {str(path)!r} to read {rows.size} rows of")
        return _empty(table)[wanted]
    try:
        source = pq.ParquetFile(path)
        if rows.size and (rows[0] < 0 or rows[-1] >= source.metadata.num_rows):
            raise WarehouseError(
                f"expected row positions in [0, {source.metadata.num_rows}) of {str(path)!r}, "
                f"got {int(rows[0])}..{int(rows[-1])}"
            )
        kept, start = [], 0
        for batch in source.iter_batches(batch_size=1 << 20, columns=wanted):
            stop = start + batch.num_rows
            lo, hi = np.searchsorted(rows, [start, stop])
            if hi > lo:
                kept.append(batch.take(pa.array(rows[lo:hi] - start)))
            start = stop
        schema = source.schema_arrow
        frame = pa.Table.from_batches(kept, schema=pa.schema([schema.field(c) for c in wanted]))
        return frame.to_pandas().astype({c: TABLE_DTYPES[table][c] for c in wanted})
    except (OSError, ValueError, KeyError) as err:
        raise WarehouseError(f"cannot read warehouse table {str(path)!r}: {err}") from err


def read_visits(home: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``<home>/warehouse/visits.parquet`` (empty canonical frame if absent).

    Parameters
    ----------
    home : Path
    columns : sequence of str, optional
        Only these canonical columns.

    Returns
    -------
    DataFrame of shape (n_visits, 23)
        Canonical visits (dtypes in :data:`VISITS_DTYPES`).
    """
    return read_table(home, TABLE_VISITS, columns)


def read_incidents(home: Path) -> pd.DataFrame:
    """Read ``<home>/warehouse/incidents.parquet`` (empty canonical frame if absent).

    Parameters
    ----------
    home : Path

    Returns
    -------
    DataFrame of shape (n_incidents, 10)
        Canonical incidents (dtypes in :data:`INCIDENTS_DTYPES`).
    """
    return read_table(home, TABLE_INCIDENTS)


def atomic_write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as Parquet atomically (temporary file + ``os.replace``), 0600.

    A reader sees either the old file or the new one, never a partial file
    (``warehouse.home.atomic_path``).

    Parameters
    ----------
    frame : DataFrame
    path : Path
    """
    from warehouse.home import atomic_path

    with atomic_path(Path(path)) as tmp:
        frame.to_parquet(tmp, index=False)


def write_table(home: Path, table: str, frame: pd.DataFrame) -> Path:
    """Conform ``frame`` to the canonical layout and write it atomically.

    Parameters
    ----------
    home : Path
    table : {"visits", "incidents"}
    frame : DataFrame

    Returns
    -------
    Path
        The written file.
    """
    path = warehouse_path(home, table)
    atomic_write_parquet(conform(frame, table), path)
    return path


def seen_path(home: Path, table: str) -> Path:
    """Path of the ledger of row contents ever accepted into ``table``."""
    return Path(home) / "warehouse" / f"{table}.seen.parquet"


def read_seen(home: Path, table: str) -> pd.DataFrame:
    """Read the ledger of accepted contents: columns ``id`` (str), ``content_hash`` (uint64)."""
    path = seen_path(home, table)
    if not path.exists():
        return pd.DataFrame(
            {"id": pd.Series([], dtype="str"), "content_hash": pd.Series([], dtype="uint64")}
        )
    try:
        return pd.read_parquet(path).astype({"id": "str", "content_hash": "uint64"})
    except (OSError, ValueError, KeyError) as err:
        raise WarehouseError(f"cannot read ledger {str(path)!r}: {err}") from err


class AuditAttributeError(ValueError):
    """A declared audit-only attribute is not a known protected attribute."""


def canonical_audit_attributes(names: Sequence[str]) -> tuple[str, ...]:
    """Map declared audit-only names (``REVISIT_AUDIT_ONLY``) to canonical attributes.

    Parameters
    ----------
    names : sequence of str
        Canonical names (``ethnicity``, ``religion``, ``sex``) or accepted
        headers (民族, 宗教, 宗教信仰, 性别, 性別, gender); case and surrounding
        whitespace are ignored, empty entries skipped.

    Returns
    -------
    tuple of str
        Canonical attribute names, sorted, without repeats.

    Raises
    ------
    AuditAttributeError
        If a name is not a protected attribute.
    """
    out = set()
    for name in names:
        key = str(name).strip().casefold()
        if not key:
            continue
        if key not in AUDIT_ATTRIBUTE_HEADERS:
            raise AuditAttributeError(
                f"audit-only attributes must be among {sorted(set(AUDIT_ATTRIBUTE_HEADERS))!r}, "
                f"got {name!r}"
            )
        out.add(AUDIT_ATTRIBUTE_HEADERS[key])
    return tuple(sorted(out))


def audit_attributes_path(home: Path) -> Path:
    """Path of ``<home>/warehouse/audit_attributes.parquet``."""
    return Path(home) / "warehouse" / AUDIT_ATTRIBUTES_FILE


def empty_audit_attributes() -> pd.DataFrame:
    """Return an empty audit-attribute frame (columns of :data:`AUDIT_ATTRIBUTES_DTYPES`)."""
    return pd.DataFrame(
        {c: pd.Series([], dtype=d) for c, d in AUDIT_ATTRIBUTES_DTYPES.items()},
        index=pd.RangeIndex(0),
    )


def read_audit_attributes(home: Path) -> pd.DataFrame:
    """Read the audit-only attribute table, for the bias audit only.

    Never a source of model features: ``features/`` does not call this.

    Parameters
    ----------
    home : Path
        Revisit home folder.

    Returns
    -------
    DataFrame of shape (n, 6)
        One row per (household_id, attribute), the latest ``recorded_at``
        (Asia/Shanghai) kept; dtypes of :data:`AUDIT_ATTRIBUTES_DTYPES`. Empty
        when the file does not exist.

    Raises
    ------
    WarehouseError
        If the file exists but cannot be read or lacks a column.
    """
    path = audit_attributes_path(home)
    if not path.exists():
        return empty_audit_attributes()
    try:
        frame = pd.read_parquet(path)
        return frame.loc[:, list(AUDIT_ATTRIBUTES_DTYPES)].astype(AUDIT_ATTRIBUTES_DTYPES)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WarehouseError(f"cannot read the audit-attribute table {str(path)!r}: {err}") from err


def write_audit_attributes(home: Path, frame: pd.DataFrame) -> Path:
    """Write the audit-only attribute table atomically.

    Parameters
    ----------
    home : Path
    frame : DataFrame
        Columns of :data:`AUDIT_ATTRIBUTES_DTYPES` (extra columns are left out).

    Returns
    -------
    Path
        The written file.
    """
    path = audit_attributes_path(home)
    out = frame.loc[:, list(AUDIT_ATTRIBUTES_DTYPES)].astype(AUDIT_ATTRIBUTES_DTYPES)
    atomic_write_parquet(out.reset_index(drop=True), path)
    return path
