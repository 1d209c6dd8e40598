"""Ingestion of officers' field exports into the canonical Parquet warehouse.

Flow of one run (:func:`ingest_paths`), one module per step::

    read (warehouse.readers: kind by bytes, UTF-8/GB18030/Big5 by charset-normalizer,
          every sheet of a workbook, ragged CSV lines quarantined with their row)
      -> map headers (warehouse.headers: normalised, --header-map first; a column
         holding data that resembles a contract header stops the file)
      -> drop personal and protected columns (an ID number may only become a keyed hash);
         a protected attribute the deployment declares audit-only (REVISIT_AUDIT_ONLY)
         goes to <home>/warehouse/audit_attributes.parquet, never to the visits table
      -> parse and validate (warehouse.normalise): bad rows, and rows with personal values
         in kept columns, to <home>/quarantine/<run-id>.csv (warehouse.quarantine)
      -> merge as versions (warehouse.versions): duplicates dropped, a changed household
         quarantined, each new version kept with the time it became known and reported
         in <home>/quarantine/<run-id>-conflicts.csv
      -> write <home>/warehouse/<table>.parquet atomically, append <home>/ingest_log.jsonl

The caller holds the home's write lock (``warehouse.home.home_lock``); every file
written is 0600. With ``dry_run=True`` nothing is written at all.

Counts per file and in total always satisfy
``read = accepted + quarantined + duplicates``.

Personal data never reaches the warehouse, the quarantine files, the log or a
message: personal columns are dropped right after reading, values that look
like ID or mobile numbers are refused or redacted wherever they are typed, and
header cells are shown only when they do not look personal.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from warehouse.contract import TABLE_INCIDENTS, TABLE_VISITS, TIMEZONE
from warehouse.errors import FileRejectedError, IngestError, NoInputFilesError
from warehouse.headers import (
    HOUSEHOLD_HEADERS,
    TABLE_COLUMNS,
    HeaderMap,
    accepted_headers,
    map_headers,
    shown,
    similar_header_error,
)
from warehouse.home import atomic_path, open_private_append
from warehouse.normalise import normalise_chunk
from warehouse.parsing import parse_text
from warehouse.pii import normalise_id_number, pseudonymous_household_id
from warehouse.quarantine import (
    QUARANTINE_COLUMNS,
    QuarantineLedgerError,
    count_repeats,
    file_line,
)
from warehouse.readers import (
    SUPPORTED_SUFFIXES,
    _read_csv_arrow,
    _read_xlsx_calamine,
    discover_files,
    read_parts,
)
from warehouse.store import (
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
from warehouse.versions import CONFLICT_COLUMNS, content_hash, merge_versions

__all__ = [
    "CONFLICT_COLUMNS",
    "HOUSEHOLD_HEADERS",
    "QUARANTINE_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "TABLE_COLUMNS",
    "FileRejectedError",
    "FileReport",
    "IngestError",
    "IngestReport",
    "NoInputFilesError",
    "_read_csv_arrow",
    "_read_xlsx_calamine",
    "accepted_headers",
    "content_hash",
    "discover_files",
    "ingest_paths",
    "map_headers",
    "normalise_id_number",
    "pseudonymous_household_id",
]

logger = logging.getLogger(__name__)

#: Files at least this large (bytes) get a progress bar.
PROGRESS_MIN_BYTES: Final = 5 * 2**20
#: Warning of a file with a header row and no data row.
NO_ROWS: Final = "no rows: the file has a header row but no data rows"


# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------


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
    headers : dict of str to str
        Where each header went: a canonical column, "dropped: personal data",
        "ignored: ...". Personal-looking header cells are redacted.
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
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def no_rows(self) -> bool:
        """Whether the file was read but holds no data row (header only)."""
        return self.rejected is None and self.read == 0

    @property
    def all_quarantined(self) -> bool:
        """Whether every row read was quarantined (nothing of the file could be used)."""
        return self.rejected is None and self.read > 0 and self.quarantined == self.read

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
    dry_run : bool
        Nothing was written (``revisit ingest --dry-run``).
    """

    run_id: str
    started_at: pd.Timestamp
    files: list[FileReport] = field(default_factory=list)
    quarantine_file: Path | None = None
    conflicts_file: Path | None = None
    dry_run: bool = False

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

    @property
    def all_quarantined(self) -> list[FileReport]:
        """Files read whose every row was quarantined."""
        return [f for f in self.files if f.all_quarantined]

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


def _warn_headers(hmap: HeaderMap, report: FileReport) -> None:
    """Record header warnings on the file report; log all but the dropped columns.

    Dropped personal and protected columns are expected in every field export, so
    they are logged once per run by :func:`_log_dropped_columns`, not per file.
    """
    msgs = []
    if hmap.ignored:
        msgs.append(f"ignored unknown columns: {', '.join(map(shown, hmap.ignored))}")
    if hmap.dropped_personal:
        msgs.append(f"dropped personal columns: {', '.join(map(shown, hmap.dropped_personal))}")
    if hmap.dropped_protected:
        msgs.append(
            f"dropped protected-attribute columns: {', '.join(map(shown, hmap.dropped_protected))}"
        )
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


# ---------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------


@dataclass
class _FileResult:
    table: str
    good: list[pd.DataFrame] = field(default_factory=list)
    lines: list[pd.DataFrame] = field(default_factory=list)
    bad_hashes: list[np.ndarray] = field(default_factory=list)
    audit: list[pd.DataFrame] = field(default_factory=list)


def _check_similar(hmap: HeaderMap, chunk: pd.DataFrame) -> None:
    """Stop the file when an ignored column that resembles a contract header holds data."""
    for raw, close in hmap.similar.items():
        if chunk[raw].notna().any() and parse_text(chunk[raw]).notna().any():
            raise similar_header_error(raw, close, hmap.table)


def _ingest_file(
    path: Path,
    report: FileReport,
    id_secret: str | None,
    now: pd.Timestamp,
    progress: bool,
    audit_only: Collection[str] = (),
    header_map: Mapping[str, str] | None = None,
) -> _FileResult:
    """Read, map, parse and validate one file (every sheet of a workbook)."""
    from tqdm.auto import tqdm

    result: _FileResult | None = None
    large = path.stat().st_size >= PROGRESS_MIN_BYTES
    parts = read_parts(path)
    with tqdm(
        desc=path.name, unit=" rows", disable=not (progress and large), leave=False, mininterval=0.5
    ) as bar:
        for part in parts:
            hmap: HeaderMap | None = None
            next_row = 2  # header is sheet row 1
            for chunk in part.chunks:
                if hmap is None:
                    try:
                        hmap = map_headers(list(chunk.columns), audit_only, header_map)
                    except FileRejectedError as err:
                        where = "" if part.label == path.name else f"sheet {part.label!r}: "
                        raise FileRejectedError(f"{where}{err}") from err
                    if result is None:
                        result = _FileResult(hmap.table)
                        report.table = hmap.table
                    elif hmap.table != result.table:
                        raise FileRejectedError(
                            f"sheet {part.label!r} holds {hmap.table}, the first sheet "
                            f"{result.table}: expected one table per workbook"
                        )
                    _warn_headers(hmap, report)
                    report.headers.update(hmap.describe())
                assert result is not None  # set with the first header map
                chunk.columns = [str(c) for c in chunk.columns]
                _check_similar(hmap, chunk)
                first_row = next_row
                next_row += len(chunk)
                # Fully blank lines are not rows (they keep their sheet row numbers).
                blank = chunk.isna().all(axis=1).to_numpy().copy()
                keep_cols = list(hmap.columns) + ([hmap.id_number] if hmap.id_number else [])
                body = chunk[keep_cols]
                audit_cells = chunk[list(hmap.audit)]
                del chunk
                frame, qlines, bad = normalise_chunk(
                    body, hmap, part.label, first_row, id_secret, now
                )
                if hmap.audit:
                    result.audit.append(_audit_records(audit_cells, frame, ~bad & ~blank, hmap))
                del audit_cells
                ragged_rows = np.array([r for r, _ in part.bad_lines], dtype="int64")
                if len(ragged_rows):  # ragged lines were read as blank rows: count them here
                    ragged = np.isin(frame["source_row"].to_numpy(), ragged_rows)
                    blank = blank & ~ragged
                    bad = bad | ragged
                    qlines = qlines[~qlines["source_row"].isin(ragged_rows)]
                report.read += int((~blank).sum())
                report.quarantined += int((bad & ~blank).sum())
                if len(qlines):
                    blank_rows = frame["source_row"].to_numpy()[blank]
                    result.lines.append(qlines[~qlines["source_row"].isin(blank_rows)])
                result.good.append(frame[~bad & ~blank])
                if (bad & ~blank).any():
                    result.bad_hashes.append(_bad_row_hashes(body[bad & ~blank], hmap))
                bar.update(len(body))
            if result is not None:
                result.lines.extend(file_line(part.label, r, why) for r, why in part.bad_lines)
    if result is None:  # pragma: no cover - readers always yield at least one frame
        raise FileRejectedError("the file holds no table")
    if report.read == 0:
        report.warnings.append(NO_ROWS)
        logger.warning("%s: %s", path.name, NO_ROWS)
    return result


# ---------------------------------------------------------------------------
# The warehouse
# ---------------------------------------------------------------------------


def _merge_into_warehouse(
    home: Path,
    table: str,
    new: pd.DataFrame,
    file_idx: np.ndarray,
    reports: list[FileReport],
    dry_run: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge one table's accepted rows as versions, update counts, write (unless dry run).

    Returns the conflict lines (:data:`CONFLICT_COLUMNS`) and the quarantine
    lines of rows whose id is known under another household.
    """
    id_col = TABLE_ID[table]
    merged = merge_versions(table, read_table(home, table), read_seen(home, table), new)
    for i, rep in enumerate(reports):
        mine = file_idx == i
        rep.duplicates += int((merged.duplicate & mine).sum())
        rep.accepted += int((merged.accepted & mine).sum())
        rep.quarantined += int((merged.household_changed & mine).sum())
        rep.conflicts += int((merged.new_version & mine).sum())
    moved = new[merged.household_changed]
    header = "户编号" if table == TABLE_VISITS else "户编号 (incidents)"
    qlines = pd.DataFrame(
        {
            "source_file": moved["source_file"].to_numpy(),
            "source_row": moved["source_row"].to_numpy(dtype="int64"),
            "record_id": moved[id_col].to_numpy(),
            "column": "household_id",
            "reason": f"{header}: differs from the household already recorded for this "
            f"{'走访编号' if table == TABLE_VISITS else '警情编号'} (a household id is never "
            "rewritten; correct the export or the earlier record)",
            "value": "",
        },
        columns=list(QUARANTINE_COLUMNS),
    )
    if not dry_run and merged.accepted.any():
        write_table(home, table, merged.combined)
        atomic_write_parquet(merged.ledger.reset_index(drop=True), seen_path(home, table))
    return merged.conflict_lines, qlines


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")


def ingest_paths(
    paths: Sequence[Path],
    home: Path,
    id_secret: str | None,
    progress: bool = False,
    now: pd.Timestamp | None = None,
    audit_only: Collection[str] = (),
    header_map: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """Ingest field exports into the canonical warehouse under ``home``.

    The caller holds the home's write lock (:func:`warehouse.home.home_lock`).

    Parameters
    ----------
    paths : sequence of Path
        Files (.xlsx, .csv, .parquet; the bytes decide the kind) or folders scanned for them.
    home : Path
        Revisit home: writes ``warehouse/`` (every version of each record),
        ``quarantine/<run-id>.csv`` (bad rows and reasons, personal values
        redacted), ``quarantine/<run-id>-conflicts.csv`` (new versions of known
        ids: both versions' lineage and the differing columns),
        ``quarantine/seen.parquet`` (fingerprints of quarantined rows, to count
        repeats) and appends ``ingest_log.jsonl``; every file 0600.
    id_secret : str or None
        ``REVISIT_ID_SECRET``: key of the HMAC that derives ``household_id``
        from the head's ID number (or an ID number typed into 户编号); without
        it such rows are quarantined.
    progress : bool, default False
        Show a progress bar per file (stderr).
    now : Timestamp or None
        Ingestion time (tz-aware, default: the current time in Asia/Shanghai);
        rows dated after it are quarantined, and it is the ``recorded_at`` of
        rows whose export gives no 录入时间. Tests pass a fixed time.
    audit_only : collection of str, default ()
        Protected attributes the deployment declares audit-only
        (``REVISIT_AUDIT_ONLY``: ``ethnicity``, ``religion``, ``sex`` or their
        headers). Their values in accepted visits rows go to
        ``warehouse/audit_attributes.parquet`` for the bias audit alone.
    header_map : mapping or None
        The deployment's own headers (``warehouse.headers.load_header_map``).
    dry_run : bool, default False
        Read, map, parse, validate and count, but write nothing.

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
    IngestError
        If the quarantine ledger cannot be read.
    """
    home = Path(home)
    audit_only = canonical_audit_attributes(list(audit_only))
    now = pd.Timestamp.now(tz=TIMEZONE) if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize(TIMEZONE)
    report = IngestReport(
        run_id=_new_run_id(now.tz_convert(TIMEZONE)), started_at=now, dry_run=dry_run
    )
    files = discover_files(paths)
    good: dict[str, list[tuple[int, pd.DataFrame]]] = {TABLE_VISITS: [], TABLE_INCIDENTS: []}
    quarantine: list[pd.DataFrame] = []
    bad_hashes: dict[int, np.ndarray] = {}
    audit_parts: list[pd.DataFrame] = []
    for path in files:
        rep = FileReport(file=path.name)
        report.files.append(rep)
        try:
            res = _ingest_file(path, rep, id_secret, now, progress, audit_only, header_map)
        except FileRejectedError as err:
            rep.rejected = str(err)
            rep.read = rep.quarantined = 0
            logger.error("%s: rejected: %s", path.name, err)
            continue
        good[res.table].extend((len(report.files) - 1, f) for f in res.good)
        quarantine.extend(res.lines)
        audit_parts.extend(res.audit)
        if res.bad_hashes:
            bad_hashes[len(report.files) - 1] = np.concatenate(res.bad_hashes)
    _log_dropped_columns(report.files)

    conflicts: list[pd.DataFrame] = []
    for table in list(good):
        parts = good.pop(table)  # the chunks go as soon as they are one frame (1 M households:
        if not parts:  # 10 M visits; holding both doubled ingest's peak)
            continue
        file_idx = np.concatenate([np.full(len(f), i) for i, f in parts])
        frames = [f for _, f in parts]
        del parts
        new = pd.concat(frames, ignore_index=True)
        del frames
        new = conform(new, table)
        clines, qlines = _merge_into_warehouse(home, table, new, file_idx, report.files, dry_run)
        del new
        conflicts.append(clines)
        quarantine.append(qlines)
    if not dry_run:
        n_audit = _merge_audit_attributes(home, audit_parts)
        if n_audit:
            logger.info("stored %d audit-only attribute values (bias audit only)", n_audit)

    for rep in report.files:
        rep.check()
    if dry_run:
        return report
    _write_outputs(home, report, quarantine, conflicts, bad_hashes)
    return report


def _write_outputs(
    home: Path,
    report: IngestReport,
    quarantine: list[pd.DataFrame],
    conflicts: list[pd.DataFrame],
    bad_hashes: dict[int, np.ndarray],
) -> None:
    """Write the quarantine and conflict files, the repeat ledger and the ingest-log line."""
    qdir = home / "quarantine"
    if bad_hashes:
        try:
            repeats = count_repeats(qdir, bad_hashes)
        except QuarantineLedgerError as err:
            raise IngestError(str(err)) from err
        for i, n in repeats.items():
            report.files[i].quarantine_repeats = n
    found = [c for c in conflicts if len(c)]
    if found:
        cpath = qdir / f"{report.run_id}-conflicts.csv"
        _write_csv(pd.concat(found, ignore_index=True), cpath)
        report.conflicts_file = cpath
    qparts = [q for q in quarantine if len(q)]
    if qparts:
        qframe = pd.concat(qparts, ignore_index=True)[list(QUARANTINE_COLUMNS)]
        qpath = qdir / f"{report.run_id}.csv"
        _write_csv(qframe.sort_values(["source_file", "source_row"], kind="stable"), qpath)
        report.quarantine_file = qpath
    with open_private_append(home / "ingest_log.jsonl") as fh:
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
