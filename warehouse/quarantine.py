"""Quarantine: what was refused, where it came from and why, with no personal value in it.

One line per (row, problem) in ``<home>/quarantine/<run-id>.csv`` with the columns
:data:`QUARANTINE_COLUMNS`: the file and its sheet row, the record's own id
(走访编号 / 警情编号), the canonical column, a plain-words reason and the
offending value, cut to :data:`MAX_VALUE_CHARS` characters and replaced by
:data:`warehouse.pii.REDACTED` when it looks like an ID or phone number (a
value of a personal column is never shown at all). Fingerprints of quarantined
rows go to ``<home>/quarantine/seen.parquet`` (uint64 hashes only) so that a
bad row sent again is counted as a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from warehouse.pii import REDACTED, personal_mask
from warehouse.store import atomic_write_parquet

#: Longest offending value copied into a quarantine line (characters).
MAX_VALUE_CHARS: Final = 60
#: Columns of a quarantine file, in order.
QUARANTINE_COLUMNS: Final[tuple[str, ...]] = (
    "source_file",
    "source_row",
    "record_id",
    "column",
    "reason",
    "value",
)
#: Ledger of fingerprints of rows quarantined by earlier runs (uint64 hashes only).
QUARANTINE_SEEN_NAME: Final = "seen.parquet"


class QuarantineLedgerError(RuntimeError):
    """The ledger of quarantined-row fingerprints cannot be read."""


def safe_values(raw: pd.Series) -> pd.Series:
    """Raw cells as text for a quarantine line: cut, with personal-looking values redacted.

    Parameters
    ----------
    raw : Series of shape (n,)
        Raw cells, any dtype.

    Returns
    -------
    Series of str, shape (n,), fresh RangeIndex
    """
    raw = raw.reset_index(drop=True)
    text = raw.astype("str").fillna("").str.slice(0, MAX_VALUE_CHARS)
    return text.mask(personal_mask(raw), REDACTED)


@dataclass
class Problems:
    """Per-row problems of one chunk, collected as masks (no per-row loop).

    Parameters
    ----------
    n : int
        Rows of the chunk.
    record_ids : Series or None
        The chunk's raw id cells (走访编号 / 警情编号), shown on each line.
    """

    n: int
    record_ids: pd.Series | None = None
    items: list[tuple[np.ndarray, str, str, pd.Series | None]] = field(default_factory=list)

    def add(self, mask: np.ndarray, column: str, reason: str, raw: pd.Series | None) -> None:
        """Record ``reason`` for the rows of ``mask``; ``raw`` holds the cells to show (or None)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.items.append((mask, column, reason, raw))

    def row_mask(self) -> np.ndarray:
        """Rows with at least one problem."""
        out = np.zeros(self.n, dtype=bool)
        for mask, *_ in self.items:
            out |= mask
        return out

    def has(self, column: str) -> np.ndarray:
        """Rows with a problem in ``column``."""
        out = np.zeros(self.n, dtype=bool)
        for mask, col, *_ in self.items:
            if col == column:
                out |= mask
        return out

    def records(self, source_file: str, source_row: np.ndarray) -> pd.DataFrame:
        """The quarantine lines (:data:`QUARANTINE_COLUMNS`) of this chunk."""
        ids = (
            safe_values(self.record_ids)
            if self.record_ids is not None
            else pd.Series([""] * self.n, dtype="str")
        )
        frames = []
        for mask, column, reason, raw in self.items:
            idx = np.flatnonzero(mask)
            if raw is None:
                values = pd.Series([""] * len(idx), dtype="str")
            else:
                values = safe_values(raw.iloc[idx])
            frames.append(
                pd.DataFrame(
                    {
                        "source_file": source_file,
                        "source_row": source_row[idx],
                        "record_id": ids.iloc[idx].fillna("").to_numpy(),
                        "column": column,
                        "reason": reason,
                        "value": values.to_numpy(),
                    }
                )
            )
        if not frames:
            return empty_quarantine()
        return pd.concat(frames, ignore_index=True).astype({"record_id": "str", "value": "str"})


def empty_quarantine() -> pd.DataFrame:
    """An empty quarantine frame (columns :data:`QUARANTINE_COLUMNS`)."""
    dtypes = {c: "str" for c in QUARANTINE_COLUMNS} | {"source_row": "int64"}
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})


def file_line(source_file: str, source_row: int, reason: str) -> pd.DataFrame:
    """One quarantine line for a whole physical line of a file (e.g. a ragged CSV line)."""
    return pd.DataFrame(
        {
            "source_file": [source_file],
            "source_row": [int(source_row)],
            "record_id": [""],
            "column": [""],
            "reason": [reason],
            "value": [""],
        }
    ).astype({"source_row": "int64"})


def count_repeats(qdir: Path, hashes: dict[int, np.ndarray]) -> dict[int, int]:
    """Count rows already quarantined by earlier runs; add this run's fingerprints to the ledger.

    Parameters
    ----------
    qdir : Path
        ``<home>/quarantine``.
    hashes : dict of int to ndarray of uint64
        Fingerprints of this run's quarantined rows, per file index.

    Returns
    -------
    dict of int to int
        Per file index, how many of its rows an earlier run quarantined already.

    Raises
    ------
    QuarantineLedgerError
        If the ledger exists but cannot be read.
    """
    path = qdir / QUARANTINE_SEEN_NAME
    if path.exists():
        try:
            seen = pd.read_parquet(path)["row_hash"].to_numpy(dtype="uint64")
        except (OSError, ValueError, KeyError) as err:
            raise QuarantineLedgerError(
                f"cannot read the quarantine ledger {str(path)!r}: {err}"
            ) from err
    else:
        seen = np.zeros(0, dtype="uint64")
    repeats = {i: int(np.isin(h, seen).sum()) for i, h in hashes.items()}
    fresh = np.unique(np.concatenate([seen, *hashes.values()])) if hashes else seen
    if len(fresh) != len(seen):
        atomic_write_parquet(pd.DataFrame({"row_hash": fresh}), path)
    return repeats
