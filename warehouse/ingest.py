"""Ingestion of officers' field exports into the canonical Parquet warehouse.

Flow of one run (:func:`ingest_paths`)::

    read (.xlsx via calamine, .csv in UTF-8/UTF-8-BOM/GBK/GB18030, .parquet)
      -> map headers (Simplified, Traditional, English) and recognise the table
      -> drop personal and protected columns (an ID number may only become a keyed hash);
         a protected attribute the deployment declares audit-only (REVISIT_AUDIT_ONLY)
         goes to <home>/warehouse/audit_attributes.parquet, never to the visits table
      -> parse whole columns (warehouse.parsing) -> per-row error masks
      -> validate with the pandera models (warehouse.schemas) -> more error masks
      -> bad rows to <home>/quarantine/<run-id>.csv, good rows on
      -> quarantine implausible rows (entered before the event, reviewed before entry,
         counts above warehouse.schemas.MAX_PERSONS_MET / MAX_DISPUTE_PARTIES)
      -> drop re-sent rows (duplicates), resolve same-id conflicts (later recorded_at wins)
         and report each in <home>/quarantine/<run-id>-conflicts.csv
      -> write <home>/warehouse/<table>.parquet atomically, append <home>/ingest_log.jsonl

Counts per file and in total always satisfy
``read = accepted + quarantined + duplicates``.

Personal data (``warehouse.contract.PERSONAL_HEADERS``) never reaches the
warehouse, the quarantine file or the log: those columns are dropped right
after reading, and quarantine lines carry a value only for non-personal
columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import unicodedata
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pandera.pandas as pa

from warehouse.contract import (
    ID_NUMBER_HEADERS,
    INCIDENT_COLUMNS,
    PERSONAL_HEADERS,
    PROTECTED_HEADERS,
    TABLE_INCIDENTS,
    TABLE_VISITS,
    TIMEZONE,
    VISIT_COLUMNS,
    Column,
)
from warehouse.parsing import (
    TIMESTAMP_DTYPE,
    EncodingNotDetectedError,
    detect_csv_encoding,
    normalise_text,
    parse_bools,
    parse_categories,
    parse_dates,
    parse_datetimes,
    parse_hazard_sets,
    parse_ints,
    parse_text,
)
from warehouse.schemas import (
    CLOCK_TOLERANCE,
    MAX_DISPUTE_PARTIES,
    MAX_PERSONS_MET,
    NOT_IN_FUTURE,
    incidents_schema,
    visits_schema,
)
from warehouse.store import (
    AUDIT_ATTRIBUTE_HEADERS,
    TABLE_DTYPES,
    TABLE_EVENT_TIME,
    TABLE_ID,
    atomic_write_parquet,
    canonical_audit_attributes,
    conform,
    empty_audit_attributes,
    read_audit_attributes,
    read_seen,
    read_table,
    seen_path,
    write_audit_attributes,
    write_table,
)

logger = logging.getLogger(__name__)

#: File suffixes read by ingestion (a folder is scanned for these).
SUPPORTED_SUFFIXES: Final[tuple[str, ...]] = (".xlsx", ".csv", ".parquet")
#: Rows per chunk when reading a CSV export (bounds memory, drives the progress bar).
CSV_CHUNK_ROWS: Final = 250_000
#: Files at least this large (bytes) get a progress bar.
PROGRESS_MIN_BYTES: Final = 5 * 2**20
#: Longest offending value copied into a quarantine line (characters).
MAX_VALUE_CHARS: Final = 60
#: Length of the hex HMAC digest kept in a derived household_id.
HOUSEHOLD_HASH_HEX: Final = 16

#: Headers of the household column (the alternative is 户主身份证号, hashed).
HOUSEHOLD_HEADERS: Final[tuple[str, ...]] = next(
    (*c.headers, c.name) for c in VISIT_COLUMNS if c.name == "household_id"
)
TABLE_COLUMNS: Final[dict[str, tuple[Column, ...]]] = {
    TABLE_VISITS: VISIT_COLUMNS,
    TABLE_INCIDENTS: INCIDENT_COLUMNS,
}
_LINEAGE: Final = ("source_file", "source_row")
CLOCK_TOLERANCE_TEXT: Final = "1 hour"


# ---------------------------------------------------------------------------
# Errors and reports
# ---------------------------------------------------------------------------


class IngestError(Exception):
    """Base class of ingestion errors (turned into exit codes by the CLI only)."""


class FileRejectedError(IngestError):
    """A whole export cannot be ingested (unreadable, unknown table, missing column)."""


class NoInputFilesError(IngestError):
    """The given paths hold no supported export (.xlsx, .csv, .parquet) at all."""


@dataclass
class FileReport:
    """Counts of one ingested file.

    Attributes
    ----------
    file : str
        File name (no folder).
    table : str or None
        ``"visits"`` or ``"incidents"``; ``None`` if the file was rejected before
        its table was recognised.
    read, accepted, quarantined, duplicates : int
        Rows; ``read = accepted + quarantined + duplicates``. Fully blank rows
        are not rows.
    conflicts : int
        Accepted rows whose id was already known with different content (the
        later ``recorded_at`` is kept); included in ``accepted``. Each is a
        line of ``<home>/quarantine/<run_id>-conflicts.csv``.
    quarantine_repeats : int
        Quarantined rows whose content was already quarantined by an earlier
        run (the same bad row sent again); included in ``quarantined``.
    rejected : str or None
        Plain-words reason when the whole file was rejected.
    warnings : list of str
        Plain-words warnings (ignored, personal and protected columns, defaults).
    """

    file: str
    table: str | None = None
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantine_repeats: int = 0
    rejected: str | None = None
    warnings: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Assert the counting identity ``read = accepted + quarantined + duplicates``."""
        total = self.accepted + self.quarantined + self.duplicates
        if self.read != total:
            raise AssertionError(
                f"{self.file}: expected read == accepted + quarantined + duplicates, "
                f"got {self.read} != {self.accepted} + {self.quarantined} + {self.duplicates}"
            )


@dataclass
class IngestReport:
    """Result of one ingestion run.

    Attributes
    ----------
    run_id : str
        ``YYYYmmddTHHMMSS-xxxxxx`` (local time, Asia/Shanghai).
    started_at : Timestamp
        Ingestion time (tz-aware); visits/incidents after it are quarantined.
    files : list of FileReport
        One per file, in the order read.
    quarantine_file : Path or None
        ``<home>/quarantine/<run_id>.csv`` when a row was quarantined.
    conflicts_file : Path or None
        ``<home>/quarantine/<run_id>-conflicts.csv`` when an id arrived with
        different content (:data:`CONFLICT_COLUMNS`).
    """

    run_id: str
    started_at: pd.Timestamp
    files: list[FileReport] = field(default_factory=list)
    quarantine_file: Path | None = None
    conflicts_file: Path | None = None

    @property
    def totals(self) -> dict[str, int]:
        """Totals of ``read, accepted, quarantined, duplicates, conflicts, quarantine_repeats``."""
        keys = ("read", "accepted", "quarantined", "duplicates", "conflicts", "quarantine_repeats")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    # Convenience accessors named after the interface (docs/interfaces.md).
    @property
    def read(self) -> int:
        """Total rows read."""
        return self.totals["read"]

    @property
    def accepted(self) -> int:
        """Total rows accepted."""
        return self.totals["accepted"]

    @property
    def quarantined(self) -> int:
        """Total rows quarantined."""
        return self.totals["quarantined"]

    @property
    def duplicates(self) -> int:
        """Total duplicate rows."""
        return self.totals["duplicates"]

    @property
    def rejected(self) -> list[FileReport]:
        """Files that could not be ingested at all."""
        return [f for f in self.files if f.rejected is not None]

    def to_json(self) -> dict[str, Any]:
        """One JSON-serialisable record of the run (the ingest-log line)."""
        return {
            "run_id": self.run_id,
            "time": self.started_at.isoformat(),
            "files": [asdict(f) for f in self.files],
            "totals": self.totals,
            "quarantine_file": self.quarantine_file.name if self.quarantine_file else None,
            "conflicts_file": self.conflicts_file.name if self.conflicts_file else None,
        }


# ---------------------------------------------------------------------------
# Household pseudonyms
# ---------------------------------------------------------------------------


def normalise_id_number(value: Any) -> str:
    """Normalise a Chinese resident ID number: NFKC, no spaces or dashes, upper-case ``X``.

    Parameters
    ----------
    value : Any
        As read from the export (text, or a number from a spreadsheet).

    Returns
    -------
    str
        ``""`` when the cell is empty.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(ch for ch in text if ch not in " -\t").upper()


def pseudonymous_household_id(id_number: str, secret: str) -> str:
    """Derive ``household_id`` from the household head's ID number.

    ``"h_" + hex(HMAC-SHA256(key=secret, msg=normalised id number))[:16]``
    (DESIGN.md, "visits"): the same number always gives the same id; without
    the secret the number cannot be recovered or tested.

    Parameters
    ----------
    id_number : str
        Raw ID number (normalised with :func:`normalise_id_number`).
    secret : str
        ``REVISIT_ID_SECRET``.

    Returns
    -------
    str
        ``h_`` followed by 16 lower-case hex digits.
    """
    digest = hmac.new(
        secret.encode("utf-8"), normalise_id_number(id_number).encode("utf-8"), hashlib.sha256
    )
    return "h_" + digest.hexdigest()[:HOUSEHOLD_HASH_HEX]


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


#: Folder of the simulator's ground truth, skipped when a folder is scanned.
GROUND_TRUTH_DIRNAME = "ground_truth"


def discover_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders into their supported files (sorted), keep files as given.

    Parameters
    ----------
    paths : sequence of Path
        Files or folders (scanned recursively for .xlsx, .csv, .parquet;
        Excel lock files ``~$*`` are skipped, and so is any folder named
        ``ground_truth``: the simulator's evaluation-only truth must never
        enter the warehouse).

    Returns
    -------
    list of Path

    Raises
    ------
    FileRejectedError
        If a path does not exist.
    NoInputFilesError
        If the paths hold no supported file at all.
    """
    out: list[Path] = []
    empty: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in SUPPORTED_SUFFIXES
                and not f.name.startswith(("~$", "."))
                and GROUND_TRUTH_DIRNAME not in f.relative_to(p).parts
            )
            out.extend(found)
            if not found:
                empty.append(str(p))
        elif p.exists():
            out.append(p)
        else:
            raise FileRejectedError(f"{str(p)!r}: no such file or folder")
    if not out:
        where = ", ".join(repr(e) for e in empty) or "the given paths"
        raise NoInputFilesError(
            f"no export to ingest in {where}: expected files ending in "
            f"{', '.join(SUPPORTED_SUFFIXES)} (Excel lock files ~$*, hidden files and "
            f"{GROUND_TRUTH_DIRNAME}/ folders are skipped)"
        )
    for e in empty:
        logger.warning("%s: no .xlsx, .csv or .parquet file in this folder", e)
    return out


class _SentinelTail:
    """Binary stream: the bytes of ``path`` followed by ``tail`` (read by pyarrow)."""

    def __init__(self, path: Path, tail: bytes) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by pyarrow / close()
        self._tail = tail
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        if size < 0 or len(data) < size:
            extra = self._tail if size < 0 else self._tail[: size - len(data)]
            self._tail = self._tail[len(extra) :]
            data += extra
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()
        self.closed = True


#: Value of every cell of the sentinel row appended after a CSV export (see _read_csv_arrow).
_SENTINEL: Final = "__revisit_end_of_export_sentinel__"


def _read_csv_arrow(path: Path, encoding: str) -> list[pd.DataFrame] | None:
    """Read a CSV export with pyarrow's multi-threaded reader, as the pandas reader would.

    Gives the same chunks (``CSV_CHUNK_ROWS`` rows, same index, dtype ``str``,
    ``NaN`` for empty fields) as ``pd.read_csv(dtype=str, keep_default_na=False,
    na_values=[""], skip_blank_lines=False, chunksize=CSV_CHUNK_ROWS)`` for a
    regular file. Returns ``None`` — and the caller falls back to the pandas
    reader — for anything irregular: blank or short/long lines, duplicate or
    empty headers, a header that pandas would read differently, an empty table
    or any reader error.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        names = [str(c) for c in pd.read_csv(path, encoding=encoding, nrows=0, dtype=str).columns]
        if (
            not names
            or len(set(names)) != len(names)
            or any(n.startswith("Unnamed: ") for n in names)
        ):
            return None
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            if fh.tell() == 0:
                return None
            fh.seek(-1, 2)
            ends_line = fh.read(1) in (b"\n", b"\r")
        # A sentinel row after the last line: if the export ends inside a quoted field
        # (which pandas rejects), the sentinel is swallowed and the fast path steps aside.
        tail = ("" if ends_line else "\n") + ",".join([_SENTINEL] * len(names)) + "\n"
        table = pacsv.read_csv(
            _SentinelTail(path, tail.encode("ascii")),
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except Exception:  # any irregularity: the pandas reader decides (and reports it)
        return None
    if table.column_names != names or table.num_rows < 2:
        return None
    last = table.slice(table.num_rows - 1).to_pylist()[0]
    if any(v != _SENTINEL for v in last.values()):
        return None
    table = table.slice(0, table.num_rows - 1)
    if any(
        not pa.types.is_string(t) and not pa.types.is_large_string(t) for t in table.schema.types
    ):
        return None
    chunks = []
    for start in range(0, table.num_rows, CSV_CHUNK_ROWS):
        part = table.slice(start, CSV_CHUNK_ROWS)
        frame = pd.DataFrame(
            {n: pd.Series(part.column(n), dtype="str") for n in names},
        )
        frame.index = pd.RangeIndex(start, start + part.num_rows)
        chunks.append(frame)
    return chunks


def _xlsx_column(cells: Sequence[Any], na_values: set[Any]) -> np.ndarray:
    """One sheet column as ``read_excel(engine="calamine", dtype=object)`` gives it.

    Cells are converted like pandas' calamine reader (integral floats -> int,
    dates -> datetime), then NA spellings become NaN and equal values share one
    object, as pandas' parser does (``sanitize_objects``).
    """
    from pandas._libs import parsers as libparsers  # type: ignore[attr-defined]

    values = np.empty(len(cells), dtype=object)
    values[:] = cells
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind not in ("string", "datetime", "empty"):
        for i, v in enumerate(values):
            if isinstance(v, float):
                if v.is_integer():
                    values[i] = int(v)
            elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
                values[i] = dt.datetime(v.year, v.month, v.day)
    libparsers.sanitize_objects(values, na_values)
    return values


def _read_xlsx_calamine(path: Path) -> pd.DataFrame | None:
    """Read the first sheet with python-calamine, as ``pd.read_excel(..., dtype=object)`` would.

    Skips pandas' per-cell Python parser. Returns ``None`` — and the caller
    falls back to ``pd.read_excel`` — for a sheet whose header row is not
    plain, distinct, non-empty text (pandas would rename such headers), an
    empty sheet, or any reader error.
    """
    try:
        # pandas' own NA spellings of read_excel (keep_default_na=True), as its parser uses them.
        from pandas.io.parsers.readers import _clean_na_values  # type: ignore[attr-defined]
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        try:
            rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        finally:
            book.close()
        na_strings, na_floats = _clean_na_values(None, keep_default_na=True)
    except Exception:  # the pandas reader decides (and reports it)
        return None
    if len(rows) < 2:
        return None
    header = [h for h in rows[0] if isinstance(h, str) and h]
    if (
        not header
        or len(header) != len(rows[0])
        or len(set(header)) != len(header)
        or header[0].startswith("\ufeff")
        or any(len(r) != len(header) for r in rows)
    ):
        return None
    na_values = set(na_strings) | set(na_floats)
    columns = list(zip(*rows[1:], strict=True))
    return pd.DataFrame(
        {
            h: pd.Series(_xlsx_column(c, na_values), dtype=object, copy=False)
            for h, c in zip(header, columns, strict=True)
        },
        index=pd.RangeIndex(len(rows) - 1),
    )


def _read_chunks(path: Path) -> Iterator[pd.DataFrame]:
    """Yield the raw export as frames of raw cells (original headers), in row order."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            encoding = detect_csv_encoding(path)
            fast = _read_csv_arrow(path, encoding)
            if fast is not None:
                yield from fast
                return
            reader = pd.read_csv(
                path,
                encoding=encoding,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=False,
                chunksize=CSV_CHUNK_ROWS,
            )
            with reader:
                yield from reader
        elif suffix == ".xlsx":
            sheet = _read_xlsx_calamine(path)
            if sheet is None:
                sheet = pd.read_excel(path, engine="calamine", sheet_name=0, dtype=object)
            yield sheet
        elif suffix == ".parquet":
            yield pd.read_parquet(path)
        else:
            raise FileRejectedError(
                f"expected a .xlsx, .csv or .parquet file, got suffix {path.suffix!r}"
            )
    except FileRejectedError:
        raise
    except EncodingNotDetectedError as err:
        raise FileRejectedError(str(err)) from err
    except pd.errors.EmptyDataError as err:
        raise FileRejectedError(
            "the file is empty: expected a header row with columns such as "
            "走访编号, 户编号, 走访时间 (visits) or 警情编号, 户编号, 报警时间 (incidents)"
        ) from err
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise FileRejectedError(f"cannot read the file: {err}") from err
    except Exception as err:  # calamine / pyarrow raise their own error types
        if suffix == ".xlsx":
            raise FileRejectedError(
                "not a readable Excel workbook (.xlsx): the file is damaged, password-protected "
                "or another format renamed to .xlsx (save an old .xls or a .csv as .xlsx in "
                "Excel/WPS, or export it as .csv)"
            ) from err
        if suffix == ".parquet":
            raise FileRejectedError(
                "not a readable Parquet file: the file is damaged or another format renamed "
                "to .parquet"
            ) from err
        raise FileRejectedError(f"cannot read the file: {err}") from err


@dataclass
class HeaderMap:
    """How the headers of one export map onto a canonical table."""

    table: str
    columns: dict[str, str]  # raw header -> canonical column
    id_number: str | None  # raw header of the head's ID number, if any
    dropped_personal: list[str]
    dropped_protected: list[str]
    ignored: list[str]
    audit: dict[str, str] = field(default_factory=dict)  # raw header -> audit-only attribute


def _header_index(columns: tuple[Column, ...]) -> dict[str, str]:
    index: dict[str, str] = {}
    for col in columns:
        for header in (col.name, *col.headers):
            index[normalise_text(header)] = col.name
    return index


def accepted_headers(column: Column) -> list[str]:
    """Headers accepted for a canonical column: Simplified, Traditional and English."""
    return [*column.headers, column.name]


def map_headers(headers: Sequence[Any], audit_only: Collection[str] = ()) -> HeaderMap:
    """Recognise the table of an export and map its headers to canonical columns.

    Parameters
    ----------
    headers : sequence
        Raw header cells, any order; whitespace, full-width forms and case are
        ignored.
    audit_only : collection of str, default ()
        Canonical protected attributes the deployment declares audit-only
        (``ethnicity``, ``religion``, ``sex``). In a visits export their
        headers go to ``HeaderMap.audit`` (the first header of an attribute;
        a second one is dropped); every other protected header is dropped.

    Returns
    -------
    HeaderMap

    Raises
    ------
    FileRejectedError
        If the table cannot be recognised, a required column is missing, or
        two headers name the same column.
    """
    personal = {normalise_text(h) for h in PERSONAL_HEADERS}
    protected = {normalise_text(h) for h in PROTECTED_HEADERS}
    declared = set(canonical_audit_attributes(list(audit_only)))
    audit_index = {normalise_text(h): a for h, a in AUDIT_ATTRIBUTE_HEADERS.items()}
    audit: dict[str, str] = {}
    id_headers = {normalise_text(h) for h in ID_NUMBER_HEADERS}
    indexes = {t: _header_index(cols) for t, cols in TABLE_COLUMNS.items()}
    keys = {str(h): normalise_text(str(h)) for h in headers}
    unique = {
        TABLE_VISITS: set(indexes[TABLE_VISITS].values()) - set(indexes[TABLE_INCIDENTS].values()),
        TABLE_INCIDENTS: set(indexes[TABLE_INCIDENTS].values())
        - set(indexes[TABLE_VISITS].values()),
    }
    scores = {
        t: len({indexes[t][k] for k in keys.values() if k in indexes[t]} & unique[t])
        for t in TABLE_COLUMNS
    }
    if max(scores.values()) == 0:
        raise FileRejectedError(
            "cannot tell whether this is a visits or an incidents export: expected headers "
            f"such as 走访编号/走访时间 or 警情编号/报警时间, got {list(keys)!r}"
        )
    table = max(scores, key=lambda t: scores[t])
    index = indexes[table]
    mapping: dict[str, str] = {}
    id_number = None
    dropped_personal, dropped_protected, ignored = [], [], []
    for raw, key in keys.items():
        if key in id_headers:
            id_number = raw
            dropped_personal.append(raw)
        elif key in index:
            canonical = index[key]
            if canonical in mapping.values():
                raise FileRejectedError(
                    f"two headers name the column {canonical!r}: "
                    f"{[r for r, c in mapping.items() if c == canonical][0]!r} and {raw!r}"
                )
            mapping[raw] = canonical
        elif key in personal:
            dropped_personal.append(raw)
        elif key in protected:
            attribute = audit_index.get(key)
            if table == TABLE_VISITS and attribute in declared and attribute not in audit.values():
                audit[raw] = attribute
            else:
                dropped_protected.append(raw)
        else:
            ignored.append(raw)
    present = set(mapping.values())
    for col in TABLE_COLUMNS[table]:
        if col.required and col.name not in present:
            raise FileRejectedError(
                f"missing required column {col.name!r} of the {table} table; "
                f"accepted headers: {', '.join(accepted_headers(col))}"
            )
    if "household_id" not in present and id_number is None:
        raise FileRejectedError(
            f"missing required column 'household_id' of the {table} table: needs 户编号 "
            f"(household_id) or 户主身份证号; accepted headers: "
            f"{', '.join([*HOUSEHOLD_HEADERS, *ID_NUMBER_HEADERS])}"
        )
    return HeaderMap(table, mapping, id_number, dropped_personal, dropped_protected, ignored, audit)


# ---------------------------------------------------------------------------
# Normalising one chunk
# ---------------------------------------------------------------------------


@dataclass
class _Problems:
    """Per-row problems of one chunk, collected as masks (no per-row loop)."""

    n: int
    items: list[tuple[np.ndarray, str, str, pd.Series | None]] = field(default_factory=list)

    def add(self, mask: np.ndarray, column: str, reason: str, raw: pd.Series | None) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.items.append((mask, column, reason, raw))

    def row_mask(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for mask, *_ in self.items:
            out |= mask
        return out

    def has(self, column: str) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for mask, col, *_ in self.items:
            if col == column:
                out |= mask
        return out

    def records(self, source_file: str, source_row: np.ndarray) -> pd.DataFrame:
        frames = []
        for mask, column, reason, raw in self.items:
            idx = np.flatnonzero(mask)
            if raw is None:
                values = pd.Series([""] * len(idx), dtype="str")
            else:
                values = (
                    raw.iloc[idx]
                    .astype("str")
                    .fillna("")
                    .str.slice(0, MAX_VALUE_CHARS)
                    .reset_index(drop=True)
                )
            frames.append(
                pd.DataFrame(
                    {
                        "source_file": source_file,
                        "source_row": source_row[idx],
                        "column": column,
                        "reason": reason,
                        "value": values,
                    }
                )
            )
        if not frames:
            return _empty_quarantine()
        return pd.concat(frames, ignore_index=True)


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_file": pd.Series([], dtype="str"),
            "source_row": pd.Series([], dtype="int64"),
            "column": pd.Series([], dtype="str"),
            "reason": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="str"),
        }
    )


def _vocabulary_hint(col: Column) -> str:
    assert col.vocabulary is not None
    labels = [labels[0] for labels in col.vocabulary.values()]
    return "、".join(labels)


def _normalise_chunk(
    raw: pd.DataFrame,
    hmap: HeaderMap,
    source_file: str,
    first_row: int,
    id_secret: str | None,
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Parse one chunk of raw cells into canonical columns.

    Returns the canonical frame (all rows), the quarantine lines and the mask
    of rows to quarantine. ``first_row`` is the sheet row of the chunk's first
    data row (header = row 1).
    """
    n = len(raw)
    rows = np.arange(first_row, first_row + n, dtype="int64")
    problems = _Problems(n)
    out: dict[str, pd.Series] = {}
    by_name = {canonical: rawname for rawname, canonical in hmap.columns.items()}
    index = pd.RangeIndex(n)
    raw = raw.reset_index(drop=True)

    for col in TABLE_COLUMNS[hmap.table]:
        if col.name not in by_name:
            continue
        values = raw[by_name[col.name]]
        header = by_name[col.name]
        if col.kind == "str":
            out[col.name] = parse_text(values)
        elif col.kind in ("timestamp", "date"):
            parsed, bad = (parse_datetimes if col.kind == "timestamp" else parse_dates)(values)
            out[col.name] = parsed
            what = "date and time" if col.kind == "timestamp" else "date"
            problems.add(
                bad,
                col.name,
                f"{header}: cannot read this {what} (expected e.g. 2024-01-05 14:20, "
                f"2024/1/5 9:30 or 2024年1月5日)",
                values,
            )
        elif col.kind == "int":
            parsed_i, bad = parse_ints(values)
            out[col.name] = parsed_i
            problems.add(bad, col.name, f"{header}: not a whole number", values)
        elif col.kind == "bool":
            parsed_b, bad = parse_bools(values)
            out[col.name] = parsed_b
            problems.add(bad, col.name, f"{header}: expected 是/否 (yes/no)", values)
        elif col.kind in ("category", "ordinal"):
            assert col.vocabulary is not None
            parsed_c, bad = parse_categories(values, col.vocabulary)
            out[col.name] = parsed_c
            problems.add(
                bad,
                col.name,
                f"{header}: unknown category (expected one of {_vocabulary_hint(col)})",
                values,
            )
        elif col.kind == "set":
            assert col.vocabulary is not None
            parsed_s, bad = parse_hazard_sets(values, col.vocabulary)
            out[col.name] = parsed_s
            problems.add(
                bad,
                col.name,
                f"{header}: unknown risk hazard (expected labels among {_vocabulary_hint(col)}, "
                "separated by 、 ; ，)",
                values,
            )

    dtypes = TABLE_DTYPES[hmap.table]
    for name, dtype in dtypes.items():
        if name not in out and name not in _LINEAGE:
            out[name] = pd.Series(pd.NA if dtype != "str" else None, index=index, dtype=dtype)

    # Household: given, or derived from the head's ID number by keyed HMAC.
    household = out["household_id"]
    missing_hh = household.isna().to_numpy()
    if missing_hh.any():
        if hmap.id_number is not None:
            ids = raw[hmap.id_number]
            id_text = ids.map(normalise_id_number, na_action="ignore").fillna("")
            has_id = missing_hh & (id_text != "").to_numpy()
            if has_id.any():
                if id_secret:
                    secret = id_secret
                    derived = id_text[has_id].map(lambda v: pseudonymous_household_id(v, secret))
                    household = household.copy()
                    household[has_id] = derived.to_numpy()
                    out["household_id"] = household.astype("str")
                else:
                    problems.add(
                        has_id,
                        "household_id",
                        "household is identified only by the head's ID number (户主身份证号) "
                        "and REVISIT_ID_SECRET is not set, so no pseudonymous id can be derived",
                        None,
                    )
            missing_hh = missing_hh & ~has_id
        problems.add(
            missing_hh,
            "household_id",
            "household is missing: no 户编号 (household_id) and no 户主身份证号",
            None,
        )

    event = TABLE_EVENT_TIME[hmap.table]
    recorded = out["recorded_at"]
    out["recorded_at"] = recorded.fillna(out[event]).astype(TIMESTAMP_DTYPE)
    if hmap.table == TABLE_VISITS:
        out["risk_hazards"] = out["risk_hazards"].fillna("").astype("str")
        review = out["review_status"]
        if "review_status" in by_name:
            out["review_status"] = review.fillna("pending").where(
                ~problems.has("review_status"), None
            )
        else:
            out["review_status"] = pd.Series("approved", index=index, dtype="str")
    out["source_file"] = pd.Series(source_file, index=index, dtype="str")
    out["source_row"] = pd.Series(rows, index=index, dtype="int64")
    frame = pd.DataFrame(out, index=index)[list(dtypes)].astype(dtypes)

    # Contract checks (pandera) on the parsed frame.
    schema = visits_schema(now) if hmap.table == TABLE_VISITS else incidents_schema(now)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        _add_schema_problems(err.failure_cases, frame, raw, by_name, problems)
    _add_order_problems(frame, hmap.table, by_name, raw, problems)

    return frame, problems.records(source_file, rows), problems.row_mask()


def _add_order_problems(
    frame: pd.DataFrame,
    table: str,
    by_name: dict[str, str],
    raw: pd.DataFrame,
    problems: _Problems,
) -> None:
    """Quarantine records entered before their event, or reviewed before being entered.

    ``recorded_at`` may precede the event time (``visited_at`` / ``reported_at``),
    and ``reviewed_at`` may precede ``recorded_at``, by at most
    :data:`warehouse.schemas.CLOCK_TOLERANCE` (1 hour). Missing values pass, and so do
    rows already quarantined for one of these timestamps (unreadable, or in the
    future): one reason is enough.
    """
    event = TABLE_EVENT_TIME[table]
    flagged = problems.has(event) | problems.has("recorded_at") | problems.has("reviewed_at")
    what = "visit happened" if table == TABLE_VISITS else "incident was reported"
    pairs = [("recorded_at", event, f"entered before the {what}")]
    if table == TABLE_VISITS:
        pairs.append(("reviewed_at", "recorded_at", "reviewed before the record was entered"))
    for later, earlier, phrase in pairs:
        if later not in by_name:  # recorded_at defaulted to the event time: nothing to check
            continue
        gap = frame[earlier] - frame[later]
        mask = (gap > CLOCK_TOLERANCE).to_numpy(dtype=bool, na_value=False) & ~flagged
        header, other = by_name[later], by_name.get(earlier, earlier)
        problems.add(
            mask,
            later,
            f"{header}: {phrase} (more than {CLOCK_TOLERANCE_TEXT} before {other})",
            raw[header],
        )


def _schema_reason(column: str, check: str, header: str) -> str:
    if check == NOT_IN_FUTURE:
        return f"{header}: lies in the future (after the time of ingestion)"
    if check == "not_nullable":
        return f"{header}: required value is empty"
    if check.startswith("greater_than_or_equal_to"):
        return f"{header}: negative count"
    if check.startswith("less_than_or_equal_to"):
        bound = MAX_PERSONS_MET if column == "persons_met" else MAX_DISPUTE_PARTIES
        return f"{header}: implausibly large count (more than {bound})"
    if check.startswith("isin"):
        return f"{header}: unknown category"
    if check.startswith("str_length"):
        return f"{header}: required value is empty"
    return f"{header}: breaks the data contract ({check})"


def _add_schema_problems(
    failures: pd.DataFrame,
    frame: pd.DataFrame,
    raw: pd.DataFrame,
    by_name: dict[str, str],
    problems: _Problems,
) -> None:
    if failures["index"].isna().any():
        # A dtype or column failure: a bug of ours, not a bad row.
        bad = failures[failures["index"].isna()][["column", "check"]].to_dict("records")
        raise IngestError(f"parsed frame does not match the canonical schema: {bad!r}")
    for (column, check), group in failures.groupby(["column", "check"], sort=False):
        col = str(column)
        idx = group["index"].astype("int64").to_numpy()
        mask = np.zeros(len(frame), dtype=bool)
        mask[idx] = True
        mask &= ~problems.has(col)  # already reported as unparseable / missing household
        if col == "household_id":
            continue  # reported above with its own reason
        if col == "recorded_at":
            # Defaulted from the event time: an unreadable event time is reported already.
            mask &= ~problems.has("visited_at") & ~problems.has("reported_at")
        header = by_name.get(col, col)
        raw_values = raw[by_name[col]] if col in by_name else None
        problems.add(mask, col, _schema_reason(col, str(check), header), raw_values)


# ---------------------------------------------------------------------------
# Duplicates, conflicts and the warehouse
# ---------------------------------------------------------------------------


def content_hash(frame: pd.DataFrame, table: str) -> np.ndarray:
    """Hash of each row's content, ignoring ``source_file``/``source_row``.

    Parameters
    ----------
    frame : DataFrame
        Canonical rows of ``table``.
    table : {"visits", "incidents"}

    Returns
    -------
    ndarray of uint64, shape (n_rows,)
    """
    cols = [c for c in TABLE_DTYPES[table] if c not in _LINEAGE]
    if frame.empty:
        return np.zeros(0, dtype="uint64")
    return pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()


#: Columns of ``<home>/quarantine/<run_id>-conflicts.csv``: one line per replaced version.
CONFLICT_COLUMNS: Final[tuple[str, ...]] = (
    "table",
    "id",
    "kept_source_file",
    "kept_source_row",
    "kept_recorded_at",
    "replaced_source_file",
    "replaced_source_row",
    "replaced_recorded_at",
    "differing_columns",
    "changes",
)
#: Canonical columns whose values a conflict line never shows (names only): the
#: household pseudonym may be derived from an ID number, so it is not copied around.
CONFLICT_NAMES_ONLY: Final = frozenset({"household_id"})


def _conflict_value(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _conflict_lines(table: str, kept: pd.DataFrame, replaced: pd.DataFrame) -> pd.DataFrame:
    """One line per replaced version: lineage of both versions and the differing columns.

    ``changes`` reads ``column: replaced value → kept value`` for every differing
    column not in :data:`CONFLICT_NAMES_ONLY`, separated by ``; ``.
    """
    id_col = TABLE_ID[table]
    compared = [c for c in TABLE_DTYPES[table] if c not in _LINEAGE and c != id_col]
    by_id = kept.set_index(id_col)
    lines = []
    for old in replaced.to_dict("records"):
        new = by_id.loc[old[id_col]]
        differing = [c for c in compared if _conflict_value(old[c]) != _conflict_value(new[c])]
        changes = [
            f"{c}: {_conflict_value(old[c])} → {_conflict_value(new[c])}"
            for c in differing
            if c not in CONFLICT_NAMES_ONLY
        ]
        lines.append(
            {
                "table": table,
                "id": old[id_col],
                "kept_source_file": new["source_file"],
                "kept_source_row": int(new["source_row"]),
                "kept_recorded_at": _conflict_value(new["recorded_at"]),
                "replaced_source_file": old["source_file"],
                "replaced_source_row": int(old["source_row"]),
                "replaced_recorded_at": _conflict_value(old["recorded_at"]),
                "differing_columns": ", ".join(differing),
                "changes": "; ".join(changes),
            }
        )
    return pd.DataFrame(lines, columns=list(CONFLICT_COLUMNS))


def _merge_into_warehouse(
    home: Path, table: str, new: pd.DataFrame, file_idx: np.ndarray, reports: list[FileReport]
) -> pd.DataFrame:
    """Drop duplicates, resolve conflicts, update counts and write ``table``.

    Returns the conflict lines (:data:`CONFLICT_COLUMNS`), sorted by id.
    """
    id_col = TABLE_ID[table]
    existing = read_table(home, table)
    seen = read_seen(home, table)
    known = pd.concat(
        [
            seen,
            pd.DataFrame(
                {"id": existing[id_col], "content_hash": content_hash(existing, table)}
            ).astype({"id": "str", "content_hash": "uint64"}),
        ],
        ignore_index=True,
    ).drop_duplicates()

    h = content_hash(new, table)
    keys = pd.DataFrame({"id": new[id_col].to_numpy(), "content_hash": h}).astype(
        {"id": "str", "content_hash": "uint64"}
    )
    already = keys.merge(known.assign(_k=True), on=["id", "content_hash"], how="left")["_k"].notna()
    dup = already.to_numpy() | keys.duplicated(keep="first").to_numpy()
    fresh = ~dup
    fresh_ids = keys["id"][fresh]
    conflict = np.zeros(len(new), dtype=bool)
    conflict[fresh] = (
        fresh_ids.isin(existing[id_col]).to_numpy()
        | fresh_ids.isin(seen["id"]).to_numpy()
        | fresh_ids.duplicated(keep="first").to_numpy()
    )
    for i, rep in enumerate(reports):
        mine = file_idx == i
        rep.duplicates += int((dup & mine).sum())
        rep.accepted += int((fresh & mine).sum())
        rep.conflicts += int((conflict & mine).sum())
    lines = pd.DataFrame(columns=list(CONFLICT_COLUMNS))
    if not fresh.any():
        return lines
    added = new[fresh]
    combined = pd.concat([existing, added], ignore_index=True)
    if not combined[id_col].is_unique:  # same-id conflicts: the later recorded_at wins
        combined["_order"] = np.arange(len(combined))
        combined = combined.sort_values(["recorded_at", "_order"], kind="stable")
        loser = combined[id_col].duplicated(keep="last").to_numpy()
        lines = _conflict_lines(table, combined[~loser], combined[loser])
        lines = lines.sort_values(["id", "replaced_recorded_at"], kind="stable")
        combined = combined[~loser].drop(columns="_order")
    combined = combined.sort_values([TABLE_EVENT_TIME[table], id_col], kind="stable")
    write_table(home, table, combined)
    ledger = pd.concat([known, keys[fresh]], ignore_index=True).drop_duplicates()
    atomic_write_parquet(ledger.reset_index(drop=True), seen_path(home, table))
    return lines


def _new_run_id(now: pd.Timestamp) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _bad_row_hashes(body: pd.DataFrame, hmap: HeaderMap) -> np.ndarray:
    """Fingerprints of quarantined rows: hash of their mapped raw cells as text.

    Columns are renamed to canonical names and sorted, so the same row sent with
    Traditional headers or in another column order has the same fingerprint. The
    head's ID number is left out (only non-personal cells are hashed).
    """
    cells = body[list(hmap.columns)].rename(columns=hmap.columns)
    cells = cells[sorted(cells.columns)].astype("str").fillna("")
    cells.insert(0, "_table", hmap.table)
    return pd.util.hash_pandas_object(cells, index=False).to_numpy(dtype="uint64")


def _audit_records(
    chunk: pd.DataFrame, frame: pd.DataFrame, keep: np.ndarray, hmap: HeaderMap
) -> pd.DataFrame:
    """Audit-only attribute values of the kept rows, long format (no value is logged)."""
    parts = []
    for raw, attribute in hmap.audit.items():
        values = parse_text(chunk[raw].reset_index(drop=True))[keep]
        rows = frame[keep]
        has = values.notna().to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "household_id": rows["household_id"].to_numpy()[has],
                    "attribute": attribute,
                    "value": values.to_numpy()[has],
                    "recorded_at": rows["recorded_at"].to_numpy()[has],
                    "source_file": rows["source_file"].to_numpy()[has],
                    "source_row": rows["source_row"].to_numpy()[has],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else empty_audit_attributes()


def _ingest_file(
    path: Path,
    report: FileReport,
    id_secret: str | None,
    now: pd.Timestamp,
    progress: bool,
    audit_only: Collection[str] = (),
) -> tuple[str, list[pd.DataFrame], list[pd.DataFrame], np.ndarray, list[pd.DataFrame]]:
    """Read, map, parse and validate one file.

    Returns (table, good frames, quarantine lines, fingerprints of the quarantined
    rows, audit-only attribute records of the good rows).
    """
    from tqdm.auto import tqdm

    good: list[pd.DataFrame] = []
    lines: list[pd.DataFrame] = []
    bad_hashes: list[np.ndarray] = []
    audit: list[pd.DataFrame] = []
    hmap: HeaderMap | None = None
    next_row = 2  # header is sheet row 1
    large = path.stat().st_size >= PROGRESS_MIN_BYTES
    with tqdm(
        desc=path.name, unit=" rows", disable=not (progress and large), leave=False, mininterval=0.5
    ) as bar:
        for chunk in _read_chunks(path):
            if hmap is None:
                hmap = map_headers(list(chunk.columns), audit_only)
                report.table = hmap.table
                _warn_headers(hmap, report)
            chunk.columns = [str(c) for c in chunk.columns]
            first_row = next_row
            next_row += len(chunk)
            # Fully blank lines are not rows (they keep their sheet row numbers).
            blank = chunk.isna().all(axis=1).to_numpy()
            keep_cols = list(hmap.columns) + ([hmap.id_number] if hmap.id_number else [])
            body = chunk[keep_cols]
            audit_cells = chunk[list(hmap.audit)]
            del chunk
            frame, qlines, bad = _normalise_chunk(body, hmap, path.name, first_row, id_secret, now)
            if hmap.audit:
                audit.append(_audit_records(audit_cells, frame, ~bad & ~blank, hmap))
            del audit_cells
            report.read += int((~blank).sum())
            report.quarantined += int((bad & ~blank).sum())
            if len(qlines):
                blank_rows = frame["source_row"].to_numpy()[blank]
                lines.append(qlines[~qlines["source_row"].isin(blank_rows)])
            good.append(frame[~bad & ~blank])
            if (bad & ~blank).any():
                bad_hashes.append(_bad_row_hashes(body[bad & ~blank], hmap))
            bar.update(len(body))
    if hmap is None:  # pragma: no cover - readers always yield at least one frame
        raise FileRejectedError("the file holds no table")
    hashes = np.concatenate(bad_hashes) if bad_hashes else np.zeros(0, dtype="uint64")
    return hmap.table, good, lines, hashes, audit


def _warn_headers(hmap: HeaderMap, report: FileReport) -> None:
    """Record header warnings on the file report; log all but the dropped columns.

    Dropped personal and protected columns are expected in every field export, so
    they are logged once per run by :func:`_log_dropped_columns`, not per file.
    """
    msgs = []
    if hmap.ignored:
        msgs.append(f"ignored unknown columns: {', '.join(hmap.ignored)}")
    if hmap.dropped_personal:
        msgs.append(f"dropped personal columns: {', '.join(hmap.dropped_personal)}")
    if hmap.dropped_protected:
        msgs.append(f"dropped protected-attribute columns: {', '.join(hmap.dropped_protected)}")
    if hmap.audit:
        msgs.append(f"{_AUDIT_PREFIX}{', '.join(hmap.audit)}")
    if hmap.table == TABLE_VISITS and "review_status" not in hmap.columns.values():
        msgs.append("no 审核状态 (review_status) column: every row taken as approved")
    for m in msgs:
        if not m.startswith(_DROPPED_PREFIXES):
            logger.warning("%s: %s", report.file, m)
    report.warnings.extend(msgs)


_AUDIT_PREFIX: Final = "audit-only columns kept apart: "
_DROPPED_PREFIXES: Final = (
    "dropped personal columns: ",
    "dropped protected-attribute columns: ",
    _AUDIT_PREFIX,
)


def _log_dropped_columns(files: Sequence[FileReport]) -> None:
    """One warning line per run for each kind of dropped column (headers only, no values)."""
    for prefix in _DROPPED_PREFIXES:
        headers: dict[str, None] = {}
        n_files = 0
        for rep in files:
            for w in rep.warnings:
                if w.startswith(prefix):
                    n_files += 1
                    headers.update(dict.fromkeys(w[len(prefix) :].split(", ")))
        if n_files:
            (logger.info if prefix == _AUDIT_PREFIX else logger.warning)(
                "%s %s from %d file%s",
                prefix.rstrip(": "),
                ", ".join(headers),
                n_files,
                "" if n_files == 1 else "s",
            )


#: Ledger of fingerprints of rows quarantined by earlier runs (uint64 hashes only).
QUARANTINE_SEEN_NAME: Final = "seen.parquet"


def _count_repeats(qdir: Path, hashes: dict[int, np.ndarray], reports: list[FileReport]) -> None:
    """Set ``quarantine_repeats`` per file and add this run's fingerprints to the ledger."""
    path = qdir / QUARANTINE_SEEN_NAME
    if path.exists():
        try:
            seen = pd.read_parquet(path)["row_hash"].to_numpy(dtype="uint64")
        except (OSError, ValueError, KeyError) as err:
            raise IngestError(f"cannot read the quarantine ledger {str(path)!r}: {err}") from err
    else:
        seen = np.zeros(0, dtype="uint64")
    for i, h in hashes.items():
        reports[i].quarantine_repeats = int(np.isin(h, seen).sum())
    fresh = np.concatenate([seen, *hashes.values()]) if hashes else seen
    fresh = np.unique(fresh)
    if len(fresh) != len(seen):
        atomic_write_parquet(pd.DataFrame({"row_hash": fresh}), path)


def _merge_audit_attributes(home: Path, parts: list[pd.DataFrame]) -> int:
    """Add audit-only records to ``audit_attributes.parquet``; latest per household wins.

    Per (household_id, attribute) the row with the latest ``recorded_at`` is kept
    (a tie goes to the later-ingested row). Returns the number of records read.
    """
    new = pd.concat(parts, ignore_index=True) if parts else empty_audit_attributes()
    if new.empty:
        return 0
    combined = pd.concat([read_audit_attributes(home), new], ignore_index=True)
    combined["_order"] = np.arange(len(combined))
    combined = combined.sort_values(["recorded_at", "_order"], kind="stable")
    combined = combined.drop_duplicates(["household_id", "attribute"], keep="last")
    combined = combined.sort_values(["attribute", "household_id"], kind="stable")
    write_audit_attributes(home, combined.drop(columns="_order"))
    return len(new)


def ingest_paths(
    paths: Sequence[Path],
    home: Path,
    id_secret: str | None,
    progress: bool = False,
    now: pd.Timestamp | None = None,
    audit_only: Collection[str] = (),
) -> IngestReport:
    """Ingest field exports into the canonical warehouse under ``home``.

    Parameters
    ----------
    paths : sequence of Path
        Files (.xlsx, .csv, .parquet) or folders scanned for them.
    home : Path
        Revisit home: writes ``warehouse/``, ``quarantine/<run-id>.csv`` (bad rows
        and reasons), ``quarantine/<run-id>-conflicts.csv`` (same id, different
        content: both versions' lineage and the differing columns),
        ``quarantine/seen.parquet`` (fingerprints of quarantined rows, to count
        repeats) and appends ``ingest_log.jsonl``.
    id_secret : str or None
        ``REVISIT_ID_SECRET``: key of the HMAC that derives ``household_id``
        from the head's ID number; without it such rows are quarantined.
    progress : bool, default False
        Show a progress bar per file (stderr).
    now : Timestamp or None
        Ingestion time (tz-aware, default: the current time in Asia/Shanghai);
        rows dated after it are quarantined. Tests pass a fixed time.
    audit_only : collection of str, default ()
        Protected attributes the deployment declares audit-only
        (``REVISIT_AUDIT_ONLY``: ``ethnicity``, ``religion``, ``sex`` or their
        headers). Their values in accepted visits rows go to
        ``warehouse/audit_attributes.parquet`` (household_id, attribute, value,
        recorded_at, source_file, source_row; the latest ``recorded_at`` per
        household and attribute wins) for the bias audit alone, never to the
        visits table; undeclared protected columns are dropped.

    Returns
    -------
    IngestReport
        Per-file and total counts; ``read = accepted + quarantined + duplicates``
        holds for every file. A file that cannot be ingested at all is listed
        with ``rejected`` set and adds no rows; the other files go on.

    Raises
    ------
    FileRejectedError
        If a path does not exist.
    NoInputFilesError
        If the paths hold no .xlsx, .csv or .parquet file.
    AuditAttributeError
        If ``audit_only`` names something other than a protected attribute.
    """
    home = Path(home)
    audit_only = canonical_audit_attributes(list(audit_only))
    now = pd.Timestamp.now(tz=TIMEZONE) if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize(TIMEZONE)
    report = IngestReport(run_id=_new_run_id(now.tz_convert(TIMEZONE)), started_at=now)
    files = discover_files(paths)
    good: dict[str, list[tuple[int, pd.DataFrame]]] = {TABLE_VISITS: [], TABLE_INCIDENTS: []}
    quarantine: list[pd.DataFrame] = []
    bad_hashes: dict[int, np.ndarray] = {}
    audit_parts: list[pd.DataFrame] = []
    for path in files:
        rep = FileReport(file=path.name)
        report.files.append(rep)
        try:
            table, frames, lines, hashes, audit = _ingest_file(
                path, rep, id_secret, now, progress, audit_only
            )
        except FileRejectedError as err:
            rep.rejected = str(err)
            rep.read = rep.quarantined = 0
            logger.error("%s: rejected: %s", path.name, err)
            continue
        good[table].extend((len(report.files) - 1, f) for f in frames)
        quarantine.extend(lines)
        audit_parts.extend(audit)
        if len(hashes):
            bad_hashes[len(report.files) - 1] = hashes
    _log_dropped_columns(report.files)

    conflicts: list[pd.DataFrame] = []
    for table, parts in good.items():
        if not parts:
            continue
        new = conform(pd.concat([f for _, f in parts], ignore_index=True), table)
        file_idx = np.concatenate([np.full(len(f), i) for i, f in parts])
        conflicts.append(_merge_into_warehouse(home, table, new, file_idx, report.files))
    n_audit = _merge_audit_attributes(home, audit_parts)
    if n_audit:
        logger.info("stored %d audit-only attribute values (bias audit only)", n_audit)

    for rep in report.files:
        rep.check()
    qdir = home / "quarantine"
    if bad_hashes:
        qdir.mkdir(parents=True, exist_ok=True)
        _count_repeats(qdir, bad_hashes, report.files)
    cframe = (
        pd.concat([c for c in conflicts if len(c)], ignore_index=True)
        if any(len(c) for c in conflicts)
        else None
    )
    if cframe is not None:
        qdir.mkdir(parents=True, exist_ok=True)
        cpath = qdir / f"{report.run_id}-conflicts.csv"
        cframe.to_csv(cpath, index=False, encoding="utf-8-sig")
        report.conflicts_file = cpath
    qframe = pd.concat(quarantine, ignore_index=True) if quarantine else _empty_quarantine()
    if len(qframe):
        qdir.mkdir(parents=True, exist_ok=True)
        qpath = qdir / f"{report.run_id}.csv"
        qframe.sort_values(["source_file", "source_row"], kind="stable").to_csv(
            qpath, index=False, encoding="utf-8-sig"
        )
        report.quarantine_file = qpath
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "ingest_log.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    totals = report.totals
    logger.info(
        "ingest run %s: read %d, accepted %d, quarantined %d (%d repeats of earlier runs), "
        "duplicates %d, conflicts %d",
        report.run_id,
        totals["read"],
        totals["accepted"],
        totals["quarantined"],
        totals["quarantine_repeats"],
        totals["duplicates"],
        totals["conflicts"],
    )
    return report
