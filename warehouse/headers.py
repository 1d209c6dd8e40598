"""Headers of field exports: normalise, recognise the table, map onto canonical columns.

Field systems write headers as people do: ``户编号(ID)``, ``户编号（ID）``,
``涉及人数,人``, ``金额（元）``, ``[时间]走访时间``, a cell wrapped onto two lines
(``走访\\n时间``), full-width letters. Matching therefore compares

1. the *key*: NFKC (full-width → half-width), BOM and every whitespace and line
   break removed, lower-case; then
2. the *stem*: the key without bracketed notes ``(…)`` ``[…]`` ``【…】`` ``<…>``
   ``《…》`` and without a trailing unit after a comma, slash or colon
   (``,人`` ``/元``).

A header matches a contract header (``warehouse.contract``) when its key equals
the contract header's key, or its stem equals the contract header's stem. A
deployment's own names are mapped first (:func:`load_header_map`, ``--header-map``).

A column that matches nothing but *resembles* a contract header (one contains
the other after normalisation, or they are one edit apart per three
characters) and holds data stops the file (:class:`SimilarHeaderError`): a
silently ignored ``户编号ID`` once made every household id a hash of the head's
ID number and split the households' histories.

Header cells never reach a message when they look like personal data (a file
whose header row is missing has a data row there).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from warehouse.contract import (
    ID_NUMBER_HEADERS,
    INCIDENT_COLUMNS,
    PERSONAL_HEADERS,
    PROTECTED_HEADERS,
    TABLE_INCIDENTS,
    TABLE_VISITS,
    VISIT_COLUMNS,
    Column,
)
from warehouse.errors import FileRejectedError, IngestError
from warehouse.pii import redact
from warehouse.store import AUDIT_ATTRIBUTE_HEADERS, canonical_audit_attributes

TABLE_COLUMNS: Final[dict[str, tuple[Column, ...]]] = {
    TABLE_VISITS: VISIT_COLUMNS,
    TABLE_INCIDENTS: INCIDENT_COLUMNS,
}
#: Headers of the household column (the alternative is 户主身份证号, hashed).
HOUSEHOLD_HEADERS: Final[tuple[str, ...]] = next(
    (*c.headers, c.name) for c in VISIT_COLUMNS if c.name == "household_id"
)
#: Targets of a header-map entry that are not canonical columns.
MAP_IGNORE: Final = "ignore"
MAP_PERSONAL: Final = "personal"

_WHITESPACE_RE: Final = re.compile(r"\s+")
_BRACKETS_RE: Final = re.compile(
    r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|<[^<>]*>|《[^《》]*》|〔[^〔〕]*〕"
)
_UNIT_TAIL_RE: Final = re.compile(r"[,/:;|][^,/:;|]{1,6}$")


class HeaderMapError(IngestError):
    """A ``--header-map`` file cannot be read or names an unknown column."""


class SimilarHeaderError(FileRejectedError):
    """An unrecognised column holding data resembles a contract header."""


def header_key(value: Any) -> str:
    """Normalise a header for exact matching: NFKC, no whitespace or BOM, lower-case.

    Parameters
    ----------
    value : Any
        A header cell as read.

    Returns
    -------
    str
    """
    text = unicodedata.normalize("NFKC", str(value)).replace("\ufeff", "")
    return _WHITESPACE_RE.sub("", text).lower()


def header_stem(value: Any) -> str:
    """The key of a header without bracketed notes and a trailing unit (``户编号(ID)`` → ``户编号``).

    Parameters
    ----------
    value : Any
        A header cell as read.

    Returns
    -------
    str
        The stem, or the key itself when nothing would remain.
    """
    key = header_key(value)
    stem = _BRACKETS_RE.sub("", key)
    stem = _UNIT_TAIL_RE.sub("", stem)
    return stem or key


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two short strings (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def shown(header: str) -> str:
    """A header as a message may show it (personal-looking cells redacted)."""
    return redact(header)


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
    #: Ignored headers that resemble a contract header -> that header (checked against data).
    similar: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, str]:
        """Where each header goes, in plain words (for ``--dry-run`` and the ingest log)."""
        out: dict[str, str] = {}
        for raw, col in self.columns.items():
            out[shown(raw)] = col
        if self.id_number is not None:
            out[shown(self.id_number)] = "household_id (keyed hash of the head's ID number)"
        for raw in self.dropped_personal:
            out.setdefault(shown(raw), "dropped: personal data")
        for raw in self.dropped_protected:
            out[shown(raw)] = "dropped: protected attribute"
        for raw, attribute in self.audit.items():
            out[shown(raw)] = f"audit only: {attribute}"
        for raw in self.ignored:
            out[shown(raw)] = "ignored: not in the data contract"
        return out


def accepted_headers(column: Column) -> list[str]:
    """Headers accepted for a canonical column: Simplified, Traditional and English."""
    return [*column.headers, column.name]


def _all_columns() -> dict[str, Column]:
    out: dict[str, Column] = {}
    for cols in TABLE_COLUMNS.values():
        for c in cols:
            out.setdefault(c.name, c)
    return out


def load_header_map(path: Path) -> dict[str, str]:
    """Read a deployment's header map (TOML): its own header -> canonical column.

    The file has one table ``[headers]``; each key is a header as the
    deployment's exports write it, each value a canonical column name
    (``household_id``), any accepted contract header (``户编号``), ``"ignore"``
    (never stored, never stops the file) or ``"personal"`` (dropped as
    personal data). See ``docs/header_map.example.toml``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    dict of str to str
        Header key (:func:`header_key`) -> canonical column, ``"ignore"`` or
        ``"personal"``.

    Raises
    ------
    HeaderMapError
        If the file cannot be read, is not TOML, has no ``[headers]`` table
        or maps a header to something unknown.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise HeaderMapError(f"cannot read the header map {str(path)!r}: {err}") from err
    headers = data.get("headers")
    if not isinstance(headers, dict) or not headers:
        raise HeaderMapError(
            f"expected a [headers] table in {str(path)!r} mapping your headers to canonical "
            f"columns, got {sorted(data)!r}"
        )
    targets: dict[str, str] = {}
    for name, col in _all_columns().items():
        for h in (name, *col.headers):
            targets[header_key(h)] = name
    out: dict[str, str] = {}
    for raw, target in headers.items():
        if not isinstance(target, str):
            raise HeaderMapError(f"{str(path)!r}: {raw!r} must map to a text, got {target!r}")
        t = header_key(target)
        if t in (MAP_IGNORE, MAP_PERSONAL):
            out[header_key(raw)] = t
        elif t in targets:
            out[header_key(raw)] = targets[t]
        else:
            raise HeaderMapError(
                f"{str(path)!r}: {raw!r} maps to {target!r}, expected a canonical column "
                f"({', '.join(sorted(_all_columns()))}), a contract header, 'ignore' or 'personal'"
            )
    return out


def _indexes(columns: tuple[Column, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Key index and stem index (stems that name one column only) of a table's headers."""
    keys: dict[str, str] = {}
    stems: dict[str, set[str]] = {}
    for col in columns:
        for header in (col.name, *col.headers):
            keys[header_key(header)] = col.name
            stems.setdefault(header_stem(header), set()).add(col.name)
    return keys, {s: next(iter(c)) for s, c in stems.items() if len(c) == 1}


def _closest(stem: str, headers: Mapping[str, str]) -> str | None:
    """The contract header ``stem`` resembles (containment or small edit distance), if any."""
    best: tuple[int, str] | None = None
    for h in headers:
        hs = header_stem(h)
        if len(hs) >= 2 and len(stem) >= 2 and (hs in stem or stem in hs):
            d = 0
        else:
            d = edit_distance(stem, hs)
            if d > max(1, len(hs) // 3):
                continue
        if best is None or d < best[0]:
            best = (d, h)
    return None if best is None else best[1]


def map_headers(
    headers: Sequence[Any],
    audit_only: Collection[str] = (),
    header_map: Mapping[str, str] | None = None,
) -> HeaderMap:
    """Recognise the table of an export and map its headers to canonical columns.

    Parameters
    ----------
    headers : sequence
        Raw header cells, any order (see the module docstring for normalisation).
    audit_only : collection of str, default ()
        Canonical protected attributes the deployment declares audit-only
        (``ethnicity``, ``religion``, ``sex``). In a visits export their
        headers go to ``HeaderMap.audit`` (the first header of an attribute;
        a second one is dropped); every other protected header is dropped.
    header_map : mapping or None
        The deployment's own headers (:func:`load_header_map`), applied first.

    Returns
    -------
    HeaderMap
        ``similar`` lists ignored headers that resemble a contract header; the
        caller stops the file when such a column holds data.

    Raises
    ------
    FileRejectedError
        If the table cannot be recognised, a required column is missing, or
        two headers name the same column.
    """
    header_map = dict(header_map or {})
    personal = {header_key(h) for h in PERSONAL_HEADERS} | {
        header_stem(h) for h in PERSONAL_HEADERS
    }
    protected = {header_key(h) for h in PROTECTED_HEADERS}
    declared = set(canonical_audit_attributes(list(audit_only)))
    audit_index = {header_key(h): a for h, a in AUDIT_ATTRIBUTE_HEADERS.items()}
    id_headers = {header_key(h) for h in ID_NUMBER_HEADERS}
    indexes = {t: _indexes(cols) for t, cols in TABLE_COLUMNS.items()}
    raws = [str(h) for h in headers]

    def canonical_of(raw: str, table: str) -> str | None:
        key = header_key(raw)
        mapped = header_map.get(key)
        if mapped is not None:
            return mapped if mapped not in (MAP_IGNORE, MAP_PERSONAL) else None
        keys, stems = indexes[table]
        if key in keys:
            return keys[key]
        if key in id_headers or key in personal or key in protected:
            return None
        return stems.get(header_stem(raw))

    names = {t: {c.name for c in cols} for t, cols in TABLE_COLUMNS.items()}
    unique = {
        TABLE_VISITS: names[TABLE_VISITS] - names[TABLE_INCIDENTS],
        TABLE_INCIDENTS: names[TABLE_INCIDENTS] - names[TABLE_VISITS],
    }
    scores = {t: len({canonical_of(r, t) for r in raws} & unique[t]) for t in TABLE_COLUMNS}
    if max(scores.values()) == 0:
        raise FileRejectedError(
            "cannot tell whether this is a visits or an incidents export: expected headers "
            f"such as 走访编号/走访时间 or 警情编号/报警时间 in the first row, got none of the "
            f"{len(raws)} header cells (is the header row missing? the cells are not shown "
            "because a data row may hold personal data)"
        )
    table = max(scores, key=lambda t: scores[t])
    contract_headers = {h: c.name for c in TABLE_COLUMNS[table] for h in (*c.headers, c.name)}
    mapping: dict[str, str] = {}
    id_number = None
    dropped_personal: list[str] = []
    dropped_protected: list[str] = []
    ignored: list[str] = []
    audit: dict[str, str] = {}
    similar: dict[str, str] = {}
    for raw in raws:
        key, stem = header_key(raw), header_stem(raw)
        mapped = header_map.get(key)
        canonical = canonical_of(raw, table)
        if mapped == MAP_PERSONAL or (mapped is None and (key in personal or stem in personal)):
            if key in id_headers or stem in id_headers:
                id_number = raw
            dropped_personal.append(raw)
        elif mapped is None and key in id_headers:
            id_number = raw
            dropped_personal.append(raw)
        elif canonical is not None and canonical in names[table]:
            if canonical in mapping.values():
                first = next(r for r, c in mapping.items() if c == canonical)
                raise FileRejectedError(
                    f"two headers name the column {canonical!r}: {shown(first)!r} and "
                    f"{shown(raw)!r} (map one of them in --header-map, e.g. to 'ignore')"
                )
            mapping[raw] = canonical
        elif mapped is None and key in protected:
            attribute = audit_index.get(key)
            if table == TABLE_VISITS and attribute in declared and attribute not in audit.values():
                audit[raw] = attribute
            else:
                dropped_protected.append(raw)
        else:
            ignored.append(raw)
            if mapped is None:
                close = _closest(stem, contract_headers)
                if close is not None:
                    similar[raw] = close
    present = set(mapping.values())
    for col in TABLE_COLUMNS[table]:
        if col.required and col.name not in present:
            raise FileRejectedError(
                f"missing required column {col.name!r} of the {table} table; "
                f"accepted headers: {', '.join(accepted_headers(col))} "
                "(or map your own header to it with --header-map)"
            )
    if "household_id" not in present and id_number is None:
        raise FileRejectedError(
            f"missing required column 'household_id' of the {table} table: needs 户编号 "
            f"(household_id) or 户主身份证号; accepted headers: "
            f"{', '.join([*HOUSEHOLD_HEADERS, *ID_NUMBER_HEADERS])}"
        )
    return HeaderMap(
        table, mapping, id_number, dropped_personal, dropped_protected, ignored, audit, similar
    )


def similar_header_error(raw: str, close: str, table: str) -> SimilarHeaderError:
    """The error that stops a file whose unrecognised column ``raw`` resembles ``close``."""
    canonical = {h: c.name for c in TABLE_COLUMNS[table] for h in (*c.headers, c.name)}[close]
    return SimilarHeaderError(
        f"column {shown(raw)!r} holds data but is not a header of the data contract; its "
        f"closest match is {close!r} ({canonical}). Rename the column to {close!r}, or map it "
        f'in a --header-map file ("{shown(raw)}" = "{canonical}", or = "ignore")'
    )
