"""Vectorised parsing of field-export values into canonical warehouse values.

Every parser takes a whole column (a :class:`pandas.Series` as read from a
.csv, .xlsx or .parquet export: text, numbers, Excel date cells or a mix) and
returns the parsed column together with a boolean mask of the cells that could
not be parsed. Parsing works on the distinct values of a column
(:func:`pandas.factorize`), so the Python-level work grows with the number of
distinct labels, not with the number of rows.

Conventions
-----------
* Timestamps are local time of Asia/Shanghai (``warehouse.contract.TIMEZONE``);
  naive inputs are taken as local time, aware inputs are converted. The result
  dtype is ``datetime64[ns, Asia/Shanghai]``.
* Excel serial numbers count days from 1899-12-30 (the origin used by Excel's
  1900 date system once its 1900-02-29 bug is accounted for, see
  https://learn.microsoft.com/en-us/office/troubleshoot/excel/wrongly-assumes-1900-is-leap-year).
* An empty cell (``None``, ``NaN``, ``""`` or only whitespace) is missing, never
  malformed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from warehouse.contract import (
    FALSE_VALUES,
    HAZARD_INPUT_SEPARATORS,
    HAZARD_SEPARATOR,
    TIMEZONE,
    TRUE_VALUES,
)

#: Dtype of every timestamp column of the warehouse.
TIMESTAMP_DTYPE: Final = pd.DatetimeTZDtype(unit="ns", tz=TIMEZONE)

#: Origin of Excel serial day numbers (1900 date system).
EXCEL_EPOCH: Final = pd.Timestamp("1899-12-30")
#: Plausible Excel serial day numbers: 1900-01-01 .. 9999-12-31.
EXCEL_SERIAL_RANGE: Final[tuple[float, float]] = (1.0, 2958465.0)

_NUMERIC_RE: Final = re.compile(r"^[+-]?\d+(\.\d+)?$")
_OFFSET_RE: Final = re.compile(r"\d(?:Z|[+-]\d{2}:?\d{2})$")
_HAZARD_SPLIT_RE: Final = re.compile("|".join(re.escape(s) for s in HAZARD_INPUT_SEPARATORS))
# 2024年1月5日 14:20 / 2024/1/5 9:30 / 2024.1.5 -> 2024-1-5 14:20
_CJK_DATE_RE: Final = re.compile(r"^\s*(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?")
_CJK_TIME_RE: Final = re.compile(
    r"(\d{1,2})\s*[时時点點:：]\s*(?:(\d{1,2})\s*分?)?\s*(?:[:：]?\s*(\d{1,2})\s*秒)?(?::(\d{1,2}))?"
)


def normalise_text(value: str) -> str:
    """Normalise a header or label for matching: NFKC, stripped, lower-case.

    NFKC folds full-width forms (``（``, ``Ａ``) into their ASCII forms, so
    ``县（市、新区）`` and ``县(市、新区)`` compare equal.

    Parameters
    ----------
    value : str
        Header or label as written in the export.

    Returns
    -------
    str
        The normalised form (BOM and surrounding whitespace removed).
    """
    return unicodedata.normalize("NFKC", value).replace("\ufeff", "").strip().lower()


def detect_csv_encoding(path: Path) -> str:
    """Encoding of a CSV export: see :func:`warehouse.readers.detect_encoding`.

    Kept under this name for callers of the parsing module; UTF-8 (BOM:
    ``utf-8-sig``), else GB18030 or Big5 as charset-normalizer ranks them.

    Raises
    ------
    warehouse.readers.EncodingNotDetectedError
        If no supported encoding reads the file as text.
    """
    from warehouse.readers import detect_encoding

    return detect_encoding(path)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _factorized(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (``-1`` for missing) and distinct non-missing values of a column."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    blank = np.fromiter((_is_missing(u) for u in uniq), dtype=bool, count=len(uniq))
    if blank.any():
        # Whitespace-only strings are missing too: send their codes to -1.
        remap = np.arange(len(uniq))
        remap[blank] = -1
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return np.asarray(codes), uniq


def _map_uniques(
    values: pd.Series, fn: Callable[[Any], Any], missing: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``fn`` to each distinct value; ``fn`` returns a result or raises ValueError.

    Returns the per-row results (object array, ``missing`` for empty cells) and
    the per-row mask of cells where ``fn`` raised.
    """
    codes, uniq = _factorized(values)
    results = np.empty(len(uniq) + 1, dtype=object)
    bad = np.zeros(len(uniq) + 1, dtype=bool)
    for i, u in enumerate(uniq):
        try:
            results[i] = fn(u)
        except ValueError:
            results[i] = missing
            bad[i] = True
    results[-1] = missing  # code -1 indexes the last slot
    return results[codes], bad[codes]


# ---------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------


def _localise(ts: pd.Series) -> pd.Series:
    """Naive -> Asia/Shanghai local time; aware -> converted; dtype ns."""
    if getattr(ts.dt, "tz", None) is None:
        ts = ts.dt.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="NaT")
    else:
        ts = ts.dt.tz_convert(TIMEZONE)
    return ts.astype(TIMESTAMP_DTYPE)


def _from_serial(days: np.ndarray) -> np.ndarray:
    """Excel serial days (float) -> naive datetime64[ns]; NaT outside the plausible range."""
    lo, hi = EXCEL_SERIAL_RANGE
    ok = np.isfinite(days) & (days >= lo) & (days <= hi)
    # Round to the millisecond: Excel stores times as binary fractions of a day.
    ms = np.where(ok, np.round(np.where(ok, days, 0.0) * 86_400_000.0), 0).astype("int64")
    out = EXCEL_EPOCH.to_datetime64().astype("datetime64[ms]") + ms.astype("timedelta64[ms]")
    out = out.astype("datetime64[ns]")
    out[~ok] = np.datetime64("NaT")
    return out


def _as_ns(ts: pd.Series) -> pd.Series:
    """Naive datetimes of any unit -> datetime64[ns]; NaT outside the ns range (years 1677-2262).

    ``pd.to_datetime`` reads e.g. ``0001-01-01`` or ``-1`` at a coarser unit; casting
    such a value to ns would raise instead of flagging the cell.
    """
    lo, hi = pd.Timestamp.min, pd.Timestamp.max
    return ts.where(ts.isna() | ((ts >= lo) & (ts <= hi))).astype("datetime64[ns]")


def _parse_text_datetimes(text: pd.Series) -> pd.Series:
    """Parse distinct date strings (no missing values) to naive datetime64[ns] (NaT = bad)."""
    text = text.astype(str).str.strip()
    offset = text.str.contains(_OFFSET_RE.pattern, regex=True).to_numpy()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if offset.any():
        aware = pd.to_datetime(text[offset], format="ISO8601", errors="coerce", utc=True)
        parsed[offset] = _as_ns(aware.dt.tz_convert(TIMEZONE).dt.tz_localize(None)).to_numpy()
    if (~offset).any():
        try:
            naive = pd.to_datetime(text[~offset], format="ISO8601", errors="coerce")
        except ValueError:  # an offset our pattern missed: leave it to the checks below
            naive = pd.Series(pd.NaT, index=text[~offset].index, dtype="datetime64[ns]")
        if getattr(naive.dt, "tz", None) is not None:
            naive = naive.dt.tz_convert(TIMEZONE).dt.tz_localize(None)
        parsed[~offset] = _as_ns(naive).to_numpy()
    todo = parsed.isna().to_numpy()
    if todo.any():
        # Leftovers (Excel serials, 2024年1月5日 forms, malformed text) are parsed once per
        # distinct value: every step below is elementwise, so duplicates add nothing.
        codes, uniq = pd.factorize(text[todo])
        rest = pd.Series(np.asarray(uniq, dtype=object), dtype=str)
        rest_parsed = np.full(len(rest), np.datetime64("NaT"), dtype="datetime64[ns]")
        numeric = rest.str.match(_NUMERIC_RE.pattern).to_numpy()
        if numeric.any():
            rest_parsed[numeric] = _from_serial(rest[numeric].astype(float).to_numpy())
        other = rest[~numeric]
        if len(other):
            rest_parsed[~numeric] = _parse_cjk_datetimes(other).to_numpy()
        parsed.iloc[np.flatnonzero(todo)] = rest_parsed[codes]
    return parsed


def _parse_cjk_datetimes(text: pd.Series) -> pd.Series:
    """``2024年1月5日 14:20``, ``2024/1/5 9:30``, ``2024.1.5`` -> naive datetime64[ns]."""
    date = text.str.extract(_CJK_DATE_RE.pattern)
    rest = text.str.replace(_CJK_DATE_RE.pattern, "", regex=True).str.strip()
    time = rest.str.extract(r"^" + _CJK_TIME_RE.pattern + r"\s*$")
    has_rest = rest.str.len().fillna(0).to_numpy() > 0
    time_ok = time[0].notna().to_numpy()
    parts = pd.DataFrame(
        {
            "year": pd.to_numeric(date[0], errors="coerce"),
            "month": pd.to_numeric(date[1], errors="coerce"),
            "day": pd.to_numeric(date[2], errors="coerce"),
            "hour": pd.to_numeric(time[0], errors="coerce").fillna(0),
            "minute": pd.to_numeric(time[1], errors="coerce").fillna(0),
            "second": pd.to_numeric(time[2].fillna(time[3]), errors="coerce").fillna(0),
        }
    )
    out = _as_ns(pd.to_datetime(parts, errors="coerce"))
    # Trailing text that is not a time makes the whole cell unparseable.
    clock_bad = ((parts["hour"] > 23) | (parts["minute"] > 59) | (parts["second"] > 59)).to_numpy()
    return out.mask((has_rest & ~time_ok) | clock_bad)


def _scalar_to_naive(value: Any) -> Any:
    """One distinct cell of a mixed column -> naive Timestamp, or a str to parse later."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        return ts.tz_convert(TIMEZONE).tz_localize(None) if ts.tzinfo is not None else ts
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"expected a date, got boolean {value!r}")
    if isinstance(value, int | float | np.integer | np.floating):
        out = _from_serial(np.asarray([float(value)]))[0]
        if np.isnat(out):
            raise ValueError(f"expected an Excel serial day number, got {value!r}")
        return pd.Timestamp(out)
    return str(value)


def _blank_text(values: pd.Series) -> np.ndarray:
    """Missing cells of a text column: NA, or only whitespace in Python's sense (``str.strip``).

    Only cells without an ASCII digit can be blank, so the Python-level check runs on
    the distinct digit-free values alone (usually none in a date column).
    """
    blank = values.isna().to_numpy().copy()
    has_digit = values.str.contains("[0-9]", regex=True).to_numpy(dtype=bool, na_value=True)
    maybe = ~blank & ~has_digit
    if maybe.any():
        codes, uniq = pd.factorize(values[maybe])
        ub = np.fromiter((not str(u).strip() for u in uniq), dtype=bool, count=len(uniq))
        blank[maybe] = ub[codes]
    return blank


def _parse_str_datetimes(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """:func:`parse_datetimes` of a column of text cells, vectorised over rows.

    Gives the same values and flags as the per-distinct-value path: every
    non-empty cell goes through :func:`_parse_text_datetimes` in one batch
    (ISO 8601 first, then serial numbers and 年月日 forms for the leftovers).
    """
    missing = _blank_text(values)
    present = ~missing
    naive = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    if present.any():
        naive[present] = _parse_text_datetimes(values[present]).to_numpy()
    out = _localise(pd.Series(naive, index=values.index))
    return out, present & out.isna().to_numpy()


def parse_datetimes(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of field-export timestamps to Asia/Shanghai local time.

    Accepted: ``2024-01-05``, ``2024-01-05 14:20[:00]``, ``2024/1/5 9:30``,
    ``2024年1月5日 14:20``, ISO 8601 with an offset, Excel date cells
    (datetime/date objects), Excel serial day numbers (origin 1899-12-30,
    fractions are the time of day) as numbers or numeric text, and columns that
    are already ``datetime64`` (naive = local time).

    Parameters
    ----------
    values : Series of shape (n_rows,)
        Any dtype: ``str``, ``object`` (mixed cells), numeric or ``datetime64``.

    Returns
    -------
    parsed : Series of shape (n_rows,), dtype ``datetime64[ns, Asia/Shanghai]``
        ``NaT`` where the cell is empty or unparseable; same index as ``values``.
    bad : ndarray of bool, shape (n_rows,)
        True where the cell is not empty but could not be parsed.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = _localise(values)
        return out, np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        nums = values.astype("float64").to_numpy()
        naive = pd.Series(_from_serial(nums), index=values.index)
        out = _localise(naive)
        return out, (~np.isnan(nums)) & out.isna().to_numpy()

    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return _parse_str_datetimes(values)
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string":
        return _parse_str_datetimes(values.astype("str"))

    codes, uniq = _factorized(values)
    prepared = np.empty(len(uniq), dtype=object)
    bad_u = np.zeros(len(uniq), dtype=bool)
    for i, u in enumerate(uniq):
        try:
            prepared[i] = _scalar_to_naive(u)
        except (ValueError, OverflowError):
            prepared[i] = pd.NaT
            bad_u[i] = True
    naive_u = pd.Series(pd.NaT, index=range(len(uniq)), dtype="datetime64[ns]")
    is_text = np.fromiter((isinstance(p, str) for p in prepared), dtype=bool, count=len(uniq))
    not_text = ~is_text & ~bad_u
    if not_text.any():
        naive_u[not_text] = (
            pd.to_datetime(pd.Series(prepared[not_text])).astype("datetime64[ns]").to_numpy()
        )
    if is_text.any():
        naive_u[is_text] = _parse_text_datetimes(pd.Series(prepared[is_text], dtype=str)).to_numpy()
    aware_u = _localise(naive_u)
    bad_u = bad_u | aware_u.isna().to_numpy()
    result = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    present = codes >= 0
    if len(aware_u):
        result[present] = aware_u.dt.tz_localize(None).to_numpy()[codes[present]]
    out = pd.Series(result, index=values.index).dt.tz_localize(TIMEZONE).astype(TIMESTAMP_DTYPE)
    bad = np.zeros(len(values), dtype=bool)
    bad[present] = bad_u[codes[present]]
    return out, bad


def parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of calendar dates to local midnight, Asia/Shanghai.

    Same inputs as :func:`parse_datetimes`; any time of day is dropped.

    Parameters
    ----------
    values : Series of shape (n_rows,)

    Returns
    -------
    parsed : Series of shape (n_rows,), dtype ``datetime64[ns, Asia/Shanghai]``
        Local midnight of the date, ``NaT`` where empty or unparseable.
    bad : ndarray of bool, shape (n_rows,)
        True where the cell is not empty but could not be parsed.
    """
    parsed, bad = parse_datetimes(values)
    return parsed.dt.floor("D", ambiguous="NaT", nonexistent="NaT"), bad


# ---------------------------------------------------------------------------
# Booleans, categories, hazard sets, integers, text
# ---------------------------------------------------------------------------


def parse_bool_scalar(value: Any) -> bool:
    """Parse one boolean cell: 是/否, Y/N, yes/no, true/false, T/F, 1/0, 有/无.

    Raises
    ------
    ValueError
        If the value is not one of the accepted spellings.
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    key = normalise_text(str(value))
    if key in TRUE_VALUES:
        return True
    if key in FALSE_VALUES:
        return False
    raise ValueError(f"expected 是/否, Y/N, true/false or 1/0, got {value!r}")


def parse_bools(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of booleans.

    Parameters
    ----------
    values : Series of shape (n_rows,)
        Text (是/否, Y/N, yes/no, true/false, 1/0, case and width insensitive),
        numbers 0/1 or booleans.

    Returns
    -------
    parsed : Series of shape (n_rows,), dtype ``boolean``
        ``<NA>`` where the cell is empty or unparseable.
    bad : ndarray of bool, shape (n_rows,)
        True where the cell is not empty but could not be parsed.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), np.zeros(len(values), dtype=bool)
    results, bad = _map_uniques(values, parse_bool_scalar, pd.NA)
    return pd.Series(results, index=values.index, dtype="boolean"), bad


def label_lookup(vocabulary: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Map every accepted label of a vocabulary (normalised) to its code.

    Parameters
    ----------
    vocabulary : mapping of str to tuple of str
        ``code -> (Simplified label, Traditional label)`` as in ``warehouse.contract``.

    Returns
    -------
    dict of str to str
        ``normalise_text(label) -> code`` for the code itself, its labels, and
        the code with spaces instead of underscores.
    """
    out: dict[str, str] = {}
    for code, labels in vocabulary.items():
        for label in (code, code.replace("_", " "), *labels):
            out[normalise_text(label)] = code
    return out


def parse_categories(
    values: pd.Series, vocabulary: Mapping[str, tuple[str, ...]]
) -> tuple[pd.Series, np.ndarray]:
    """Map Simplified, Traditional or English category labels to their codes.

    Parameters
    ----------
    values : Series of shape (n_rows,)
    vocabulary : mapping of str to tuple of str
        ``code -> (Simplified, Traditional)`` from ``warehouse.contract``.

    Returns
    -------
    parsed : Series of shape (n_rows,), dtype ``str``
        English code, missing where the cell is empty or unknown.
    bad : ndarray of bool, shape (n_rows,)
        True where the cell is not empty but not a label of the vocabulary.
    """
    lookup = label_lookup(vocabulary)

    def one(value: Any) -> str:
        key = normalise_text(str(value))
        if key not in lookup:
            raise ValueError(value)
        return lookup[key]

    results, bad = _map_uniques(values, one, None)
    return pd.Series(results, index=values.index, dtype="str"), bad


def parse_hazard_scalar(value: Any, lookup: Mapping[str, str]) -> str:
    """Parse one risk-hazard cell to sorted codes joined by ``|``.

    Separators ``、 ; ； , ，`` and ``|`` are accepted; ``无``/``none`` means no hazard.

    Raises
    ------
    ValueError
        If a part is not a hazard label of the vocabulary.
    """
    codes: set[str] = set()
    for part in _HAZARD_SPLIT_RE.split(str(value)):
        key = normalise_text(part)
        if not key or key in {"无", "無", "none", "-"}:
            continue
        if key not in lookup:
            raise ValueError(part)
        codes.add(lookup[key])
    return HAZARD_SEPARATOR.join(sorted(codes))


def parse_hazard_sets(
    values: pd.Series, vocabulary: Mapping[str, tuple[str, ...]]
) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of risk-hazard sets.

    Parameters
    ----------
    values : Series of shape (n_rows,)
        Labels separated by ``、 ; ； , ，`` or ``|``.
    vocabulary : mapping of str to tuple of str
        ``warehouse.contract.RISK_HAZARDS``.

    Returns
    -------
    parsed : Series of shape (n_rows,), dtype ``str``
        Sorted hazard codes joined by ``|``; ``""`` when the cell is empty.
    bad : ndarray of bool, shape (n_rows,)
        True where a part of the cell is not a known hazard.
    """
    lookup = label_lookup(vocabulary)
    results, bad = _map_uniques(values, lambda v: parse_hazard_scalar(v, lookup), "")
    return pd.Series(results, index=values.index, dtype="str"), bad


def parse_ints(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of whole numbers (counts).

    Parameters
    ----------
    values : Series of shape (n_rows,)
        Numbers or numeric text; ``3.0`` is accepted as 3, ``2.5`` is not.

    Returns
    -------
    parsed : Series of shape (n_rows,), dtype ``Int64``
        ``<NA>`` where empty or unparseable (negative values are kept: the
        schema rejects them with their own reason).
    bad : ndarray of bool, shape (n_rows,)
        True where the cell is not empty but not a whole number.
    """
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        text = values.astype("str").str.strip()
        missing = values.isna().to_numpy() | (text == "").fillna(True).to_numpy()
        nums = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64")
    else:
        missing = values.isna().to_numpy()
        nums = pd.to_numeric(values, errors="coerce").astype("float64")
    arr = nums.to_numpy()
    whole = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 2**53)
    bad = ~missing & ~whole
    out = pd.Series(np.where(whole, arr, 0).astype("int64"), index=values.index, dtype="Int64")
    out[~whole] = pd.NA
    return out, bad


def _text_scalar(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_text(values: pd.Series) -> pd.Series:
    """Normalise a text column: NFKC, stripped; numbers from spreadsheets as integers.

    Parameters
    ----------
    values : Series of shape (n_rows,)

    Returns
    -------
    Series of shape (n_rows,), dtype ``str``
        Missing where the cell is empty. ``1001.0`` read from a spreadsheet
        becomes ``"1001"``.
    """
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        out = values.str.strip()
        return out.where(out != "").astype("str")
    results, _ = _map_uniques(values, _text_scalar, None)
    return pd.Series(results, index=values.index, dtype="str")


def first_true(masks: Iterable[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Collect named row masks, dropping the ones that select nothing.

    Parameters
    ----------
    masks : iterable of (reason, ndarray of bool)

    Returns
    -------
    dict of str to ndarray of bool
    """
    return {reason: mask for reason, mask in masks if mask.any()}
