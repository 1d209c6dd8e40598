"""Every version of a record, each with the time it became known.

The warehouse tables are version logs: a record (``visit_id`` / ``incident_id``)
sent again with different content is a new *version*, stored next to the earlier
ones, and its ``recorded_at`` (录入时间, else the ingestion time) is when it became
known. Features at ``t`` use, per record, the latest version with
``recorded_at < t`` (``features.build``); :func:`current_versions` gives the
latest of each for readers that want one row per record.

Rules of a merge (:func:`merge_versions`):

* a row whose id and content (every column but ``recorded_at`` and the
  lineage) are already stored, or appear earlier in the same run, is a
  *duplicate*: nothing is written;
* a row whose id is stored (or arrives earlier in the run) under another
  ``household_id`` is quarantined: a household id is never rewritten (a changed
  header once re-keyed 150 visits and split the households' histories);
* every other row is accepted as a version. When its id was known, one line
  goes to ``<home>/quarantine/<run-id>-conflicts.csv`` (:data:`CONFLICT_COLUMNS`:
  "kept" is the version current after the merge, "replaced" the other one; both
  stay in the warehouse).

Rows are stored in order of ``recorded_at``; among versions with the same
``recorded_at`` the later-ingested one is later in the table and wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from warehouse.store import TABLE_DTYPES, TABLE_ID

LINEAGE: Final = ("source_file", "source_row")
#: Columns left out of a row's content hash: lineage and the knowledge time.
NOT_CONTENT: Final = frozenset({*LINEAGE, "recorded_at"})

#: Columns of ``<home>/quarantine/<run_id>-conflicts.csv``: one line per new version of a
#: known id ("kept": current after the merge; "replaced": the other; both stay stored).
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


def content_hash(frame: pd.DataFrame, table: str) -> np.ndarray:
    """Hash of each row's content: every column but ``recorded_at`` and the lineage.

    The same record entered again (another 录入时间, or none so that the
    ingestion time stands in) is the same content: a duplicate, not a version.

    Parameters
    ----------
    frame : DataFrame
        Canonical rows of ``table``.
    table : {"visits", "incidents"}

    Returns
    -------
    ndarray of uint64, shape (n_rows,)
    """
    cols = [c for c in TABLE_DTYPES[table] if c not in NOT_CONTENT]
    if frame.empty:
        return np.zeros(0, dtype="uint64")
    return pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()


def current_versions(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The current (latest known) version of each record of a stored table.

    Parameters
    ----------
    frame : DataFrame
        A canonical table as stored (versions in order of ``recorded_at``,
        ties in order of ingestion).
    table : {"visits", "incidents"}

    Returns
    -------
    DataFrame
        One row per id, in stored order, fresh RangeIndex.
    """
    ranked = frame.assign(_order=np.arange(len(frame)))
    ranked = ranked.sort_values(["recorded_at", "_order"], kind="stable")
    latest = ranked.drop_duplicates(TABLE_ID[table], keep="last").sort_values("_order")
    return latest.drop(columns="_order").reset_index(drop=True)


def _conflict_value(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _conflict_line(table: str, kept: dict[Any, Any], replaced: dict[Any, Any]) -> dict[str, Any]:
    """One conflict line: the version ``kept`` current against ``replaced``."""
    id_col = TABLE_ID[table]
    compared = [c for c in TABLE_DTYPES[table] if c not in LINEAGE and c != id_col]
    differing = [c for c in compared if _conflict_value(replaced[c]) != _conflict_value(kept[c])]
    changes = [
        f"{c}: {_conflict_value(replaced[c])} → {_conflict_value(kept[c])}"
        for c in differing
        if c not in CONFLICT_NAMES_ONLY
    ]
    return {
        "table": table,
        "id": kept[id_col],
        "kept_source_file": kept["source_file"],
        "kept_source_row": int(kept["source_row"]),
        "kept_recorded_at": _conflict_value(kept["recorded_at"]),
        "replaced_source_file": replaced["source_file"],
        "replaced_source_row": int(replaced["source_row"]),
        "replaced_recorded_at": _conflict_value(replaced["recorded_at"]),
        "differing_columns": ", ".join(differing),
        "changes": "; ".join(changes),
    }


@dataclass
class MergeResult:
    """Outcome of :func:`merge_versions`; masks are over the incoming rows."""

    combined: pd.DataFrame  #: the table to store (old and new versions)
    duplicate: np.ndarray  #: already stored, or repeated within the run
    household_changed: np.ndarray  #: quarantined: the id is known under another household
    accepted: np.ndarray  #: stored as a new version
    new_version: np.ndarray  #: accepted while the id was known (one conflict line each)
    conflict_lines: pd.DataFrame  #: :data:`CONFLICT_COLUMNS`
    ledger: pd.DataFrame  #: (id, content_hash) of every content ever accepted


def merge_versions(
    table: str, existing: pd.DataFrame, seen: pd.DataFrame, new: pd.DataFrame
) -> MergeResult:
    """Merge incoming canonical rows into a stored table as versions (rules: module docstring).

    Parameters
    ----------
    table : {"visits", "incidents"}
    existing : DataFrame
        The stored table (all versions, in stored order).
    seen : DataFrame
        Ledger ``id`` (str), ``content_hash`` (uint64) of contents accepted before.
    new : DataFrame
        Incoming canonical rows, in file order, fresh RangeIndex.

    Returns
    -------
    MergeResult
    """
    id_col = TABLE_ID[table]
    known = pd.concat(
        [
            seen,
            pd.DataFrame(
                {"id": existing[id_col], "content_hash": content_hash(existing, table)}
            ).astype({"id": "str", "content_hash": "uint64"}),
        ],
        ignore_index=True,
    ).drop_duplicates()
    keys = pd.DataFrame({"id": new[id_col].to_numpy(), "content_hash": content_hash(new, table)})
    keys = keys.astype({"id": "str", "content_hash": "uint64"})
    already = keys.merge(known.assign(_k=True), on=["id", "content_hash"], how="left")["_k"]
    dup = already.notna().to_numpy() | keys.duplicated(keep="first").to_numpy()

    # The household of an id is fixed by its first stored (or first incoming) version.
    owner = existing.drop_duplicates(id_col, keep="first").set_index(id_col)["household_id"]
    incoming = (
        new.loc[~dup, [id_col, "household_id"]]  # two columns, not a copy of every new row
        .drop_duplicates(id_col, keep="first")
        .set_index(id_col)["household_id"]
    )
    owner = pd.concat([owner, incoming[~incoming.index.isin(owner.index)]])
    expected = new[id_col].map(owner)
    changed = ~dup & (expected.notna() & (expected != new["household_id"])).to_numpy(dtype=bool)

    accepted = ~dup & ~changed
    added_ids = new.loc[accepted, id_col]
    was_known = np.zeros(len(new), dtype=bool)
    was_known[accepted] = (
        added_ids.isin(existing[id_col]).to_numpy() | added_ids.duplicated(keep="first").to_numpy()
    )
    lines = _version_lines(table, existing, new, accepted, was_known)
    combined = _stored_order(existing, new, np.flatnonzero(accepted))
    ledger = pd.concat([known, keys[accepted]], ignore_index=True).drop_duplicates()
    return MergeResult(combined, dup, changed, accepted, was_known, lines, ledger)


def _stored_order(existing: pd.DataFrame, new: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The stored table then the accepted new ``rows``, sorted by ``recorded_at`` (stable).

    Equal to ``concat([existing, new.iloc[rows]]).sort_values("recorded_at",
    kind="stable")`` with a fresh index; the first ingest (nothing stored) takes
    the new rows in their final order in one copy (10 M visits: one copy of the
    table rather than three).
    """
    if len(existing) == 0:
        when = new["recorded_at"].iloc[rows].reset_index(drop=True)
        order = when.sort_values(kind="stable").index.to_numpy()  # as sort_values: NaT last
        return new.take(rows[order]).reset_index(drop=True)
    combined = pd.concat([existing, new.take(rows)], ignore_index=True)
    return combined.sort_values("recorded_at", kind="stable").reset_index(drop=True)


def _version_lines(
    table: str,
    existing: pd.DataFrame,
    new: pd.DataFrame,
    accepted: np.ndarray,
    versions: np.ndarray,
) -> pd.DataFrame:
    """Conflict lines: each new version of a known id against the version current before it."""
    if not versions.any():
        return pd.DataFrame(columns=list(CONFLICT_COLUMNS))
    id_col = TABLE_ID[table]
    ids = set(new.loc[versions, id_col])
    # Current version per id before this run (latest recorded_at; ties: later stored).
    before = current_versions(existing[existing[id_col].isin(ids)], table)
    current: dict[Any, dict[Any, Any]] = {r[id_col]: r for r in before.to_dict("records")}
    lines = []
    for pos in np.flatnonzero(accepted & new[id_col].isin(ids).to_numpy()):
        rec: dict[Any, Any] = new.iloc[pos].to_dict()
        prev = current.get(rec[id_col])
        if prev is None:  # the run's first version of an id not stored before
            current[rec[id_col]] = rec
        elif rec["recorded_at"] >= prev["recorded_at"]:
            lines.append(_conflict_line(table, rec, prev))
            current[rec[id_col]] = rec
        else:  # an older version arriving late: the current one stays current
            lines.append(_conflict_line(table, prev, rec))
    out = pd.DataFrame(lines, columns=list(CONFLICT_COLUMNS))
    return out.sort_values(["id", "replaced_recorded_at"], kind="stable").reset_index(drop=True)
