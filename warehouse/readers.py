"""Reading field exports: find the files, tell their kind by their bytes, decode their text.

* Kind by content, not by name: a workbook saved as ``.csv`` starts with the ZIP
  signature ``PK\\x03\\x04`` and is read as a workbook; an old binary ``.xls`` (OLE
  signature) is refused with a plain message; Parquet starts with ``PAR1``.
* Text encodings: strict UTF-8 (with or without BOM) first; otherwise
  charset-normalizer chooses between GB18030 (a superset of GBK) and Big5 on a
  sample, and the whole file must then decode strictly in the chosen encoding.
  Text that reads as garbage in every candidate is refused (no mojibake in the
  warehouse: a Big5 file once went in as GB18030 garbage).
* Workbooks: every sheet that holds cells is read (a second sheet is never
  silently left out); an empty sheet is skipped.
* CSV lines with more fields than the header (ragged lines) are not parsed:
  each becomes a quarantined line with its row number, the rest of the file goes on.

Row numbers are spreadsheet rows: header = row 1, blank lines keep their numbers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from warehouse.errors import FileRejectedError, NoInputFilesError

logger = logging.getLogger(__name__)

#: File suffixes read by ingestion (a folder is scanned for these).
SUPPORTED_SUFFIXES: Final[tuple[str, ...]] = (".xlsx", ".csv", ".parquet")
#: Rows per chunk when reading a CSV export (bounds memory, drives the progress bar).
CSV_CHUNK_ROWS: Final = 250_000
#: Bytes of a text export given to charset-normalizer to choose its encoding.
ENCODING_SAMPLE_BYTES: Final = 1 << 19
#: Highest charset-normalizer "chaos" (share of odd characters) accepted as real text.
MAX_TEXT_CHAOS: Final = 0.25
#: Legacy Chinese encodings told apart by charset-normalizer (Python codec names).
LEGACY_ENCODINGS: Final[tuple[str, ...]] = ("gb18030", "big5")

_ZIP_MAGIC: Final = b"PK\x03\x04"
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PARQUET_MAGIC: Final = b"PAR1"


class EncodingNotDetectedError(FileRejectedError):
    """A text export is in none of the supported encodings, or reads as garbage in all of them."""


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


def _read_xlsx_calamine(path: Path, sheet: int = 0) -> pd.DataFrame | None:
    """Read one sheet (by position) with python-calamine, as ``pd.read_excel(..., dtype=object)`` would.

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
            rows = book.get_sheet_by_index(sheet).to_python(skip_empty_area=False)
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


def sniff_kind(path: Path) -> str:
    """The kind of an export by its first bytes: ``"xlsx"``, ``"xls"``, ``"parquet"`` or ``"text"``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
    """
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        return "xls"
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    return "text"


def _decodes(path: Path, encoding: str, chunk_bytes: int = 1 << 22) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_bytes):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """Choose the text encoding of a CSV export: UTF-8, GB18030 (GBK) or Big5.

    Strict UTF-8 first (a BOM selects ``utf-8-sig``); otherwise charset-normalizer
    ranks GB18030 and Big5 on the first :data:`ENCODING_SAMPLE_BYTES` bytes, and
    the first candidate that decodes the whole file strictly and reads as text
    (chaos at most :data:`MAX_TEXT_CHAOS`) wins.

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
        ``"utf-8-sig"``, ``"utf-8"``, ``"gb18030"`` or ``"big5"``.

    Raises
    ------
    EncodingNotDetectedError
        If no candidate decodes the file, or each one gives garbled text.
    """
    from charset_normalizer import from_bytes

    path = Path(path)
    with open(path, "rb") as fh:
        sample = fh.read(ENCODING_SAMPLE_BYTES)
    if _decodes(path, "utf-8"):
        return "utf-8-sig" if sample.startswith(codecs.BOM_UTF8) else "utf-8"
    # Cut the sample at a line end so that no character is split.
    cut = sample.rfind(b"\n")
    if 0 < cut < len(sample) - 1:
        sample = sample[: cut + 1]
    valid = [e for e in LEGACY_ENCODINGS if _decodes(path, e)]
    if not valid:
        raise EncodingNotDetectedError(
            f"expected a CSV file in UTF-8, UTF-8 with BOM, GBK/GB18030 or Big5; got bytes "
            f"that are valid in none of them in {path.name!r}"
        )
    matches = from_bytes(sample, cp_isolation=list(valid))
    for m in matches:
        if m.encoding in valid and m.chaos <= MAX_TEXT_CHAOS:
            return str(m.encoding)
    raise EncodingNotDetectedError(
        f"{path.name!r} reads as garbled text in {' and '.join(valid)}: expected a CSV "
        "export in UTF-8, GBK/GB18030 or Big5; open it in Excel/WPS and save it as CSV UTF-8"
    )


@dataclass
class Part:
    """One table of an export: a whole CSV/Parquet file, or one sheet of a workbook.

    Attributes
    ----------
    label : str
        ``source_file`` of its rows: the file name, plus ``#<sheet>`` for a
        workbook's second and later sheets.
    chunks : iterable of DataFrame
        Raw cells (original headers), in row order; the first data row is sheet row 2.
    bad_lines : list of (int, str)
        Rows that could not be split into the header's fields (row number, reason);
        they count as read and quarantined.
    """

    label: str
    chunks: Iterable[pd.DataFrame]
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def _csv_with_ragged_lines(path: Path, encoding: str) -> Part:
    """Read a CSV with Python's csv module; lines longer than the header become bad lines."""
    with open(path, encoding=encoding, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise pd.errors.EmptyDataError("no columns to parse from file")
    header = rows[0]
    width = len(header)
    bad: list[tuple[int, str]] = []
    cells: list[list[Any]] = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) > width:
            bad.append(
                (i, f"ragged line: {len(row)} fields where the header has {width}; not read")
            )
            cells.append([None] * width)
        else:
            cells.append([c if c != "" else None for c in row] + [None] * (width - len(row)))
    frame = pd.DataFrame(cells, columns=header, dtype="str") if cells else None
    if frame is None:
        frame = pd.DataFrame({h: pd.Series([], dtype="str") for h in header})
    return Part(path.name, [frame], bad)


def _read_csv(path: Path) -> Part:
    encoding = detect_encoding(path)
    fast = _read_csv_arrow(path, encoding)
    if fast is not None:
        return Part(path.name, fast)
    try:
        # The C reader stops at the first ragged line; then the csv module reads the file.
        # (Chunks are read up front so that a ragged line is found before any is used.)
        frames = list(
            pd.read_csv(
                path,
                encoding=encoding,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=False,
                chunksize=CSV_CHUNK_ROWS,
            )
        )
    except pd.errors.ParserError:
        return _csv_with_ragged_lines(path, encoding)
    return Part(path.name, frames)


def _sheet_has_cells(frame: pd.DataFrame) -> bool:
    return len(frame.columns) > 0 and not all(str(c).startswith("Unnamed: ") for c in frame.columns)


def _read_workbook(path: Path) -> list[Part]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    try:
        names = list(book.sheet_names)
    finally:
        book.close()
    parts: list[Part] = []
    for i, name in enumerate(names):
        sheet = _read_xlsx_calamine(path, i)
        if sheet is None:
            try:
                sheet = pd.read_excel(path, engine="calamine", sheet_name=i, dtype=object)
            except ValueError as err:
                if "empty" in str(err).lower():
                    continue
                raise
        if not _sheet_has_cells(sheet) and sheet.empty:
            continue
        label = path.name if not parts else f"{path.name}#{name}"
        parts.append(Part(label, [sheet]))
    return parts


def read_parts(path: Path) -> list[Part]:
    """Read an export into its tables (raw cells, original headers), by the file's bytes.

    Parameters
    ----------
    path : Path
        A .csv, .xlsx or .parquet export (the suffix may lie: the bytes decide).

    Returns
    -------
    list of Part
        One for a CSV or Parquet file; one per non-empty sheet of a workbook.

    Raises
    ------
    FileRejectedError
        If the file cannot be read: empty, unknown encoding or garbled text,
        an old .xls, a damaged workbook or Parquet file, no sheet with cells.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileRejectedError(
            f"expected a .xlsx, .csv or .parquet file, got suffix {path.suffix!r}"
        )
    kind = sniff_kind(path)
    try:
        if kind == "xls":
            raise FileRejectedError(
                "an old binary Excel workbook (.xls): open it in Excel/WPS and save it as .xlsx "
                "or as CSV UTF-8"
            )
        if kind == "xlsx":
            if suffix != ".xlsx":
                logger.warning(
                    "%s: an Excel workbook named %s; read as a workbook", path.name, suffix
                )
            parts = _read_workbook(path)
            if not parts:
                raise FileRejectedError("the workbook has no sheet with cells")
            return parts
        if kind == "parquet":
            return [Part(path.name, [pd.read_parquet(path)])]
        if suffix == ".parquet":
            raise FileRejectedError(
                "not a readable Parquet file: the file is damaged or another format renamed "
                "to .parquet"
            )
        if suffix == ".xlsx" and path.stat().st_size > 0 and not _looks_like_text(path):
            raise FileRejectedError(
                "not a readable Excel workbook (.xlsx): the file is damaged, password-protected "
                "or another format renamed to .xlsx (save an old .xls or a .csv as .xlsx in "
                "Excel/WPS, or export it as .csv)"
            )
        return [_read_csv(path)]
    except FileRejectedError:
        raise
    except pd.errors.EmptyDataError as err:
        raise FileRejectedError(
            "the file is empty: expected a header row with columns such as "
            "走访编号, 户编号, 走访时间 (visits) or 警情编号, 户编号, 报警时间 (incidents)"
        ) from err
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise FileRejectedError(f"cannot read the file: {type(err).__name__}") from err
    except Exception as err:  # calamine / pyarrow raise their own error types
        if kind == "xlsx" or suffix == ".xlsx":
            raise FileRejectedError(
                "not a readable Excel workbook (.xlsx): the file is damaged, password-protected "
                "or another format renamed to .xlsx (save an old .xls or a .csv as .xlsx in "
                "Excel/WPS, or export it as .csv)"
            ) from err
        if kind == "parquet":
            raise FileRejectedError(
                "not a readable Parquet file: the file is damaged or another format renamed "
                "to .parquet"
            ) from err
        raise FileRejectedError(f"cannot read the file: {type(err).__name__}") from err


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b"\x00" not in head and (b"," in head or b"\n" in head)
