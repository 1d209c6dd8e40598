"""The one-date feature snapshot of a large warehouse, built one partition of townships at a time.

Why
---
The feature job holds the whole warehouse prepared in memory: 7.6 GB for the
1 000 000-household reference prefecture (10 M visits), measured with
``python -m benchmarks.bench_scale``. Serving builds this snapshot at start-up
and should stay within 4 GB (issue #12). Every feature but the context rates is
a function of one household's own records, and the context rates need whole
villages and townships, so the job gives the same rows on any partition of the
households that keeps whole townships (:mod:`features.distributed`, which does
the same on a Dask cluster, says why and names the one exception: a household
that moved between townships). Here the partitions run one after another in
the calling process, each reading only its households' rows (Parquet filters).

Each partition reads its rows by position (the partition of every row comes from
the household column alone), one record batch at a time. Suspect visits
(``exclude_suspect_visits``) are judged on the whole visits table, because the
officer review scores officers over all their households; the review reads only
its window's rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.prepare import INCIDENT_COLUMNS_NEEDED, VISIT_COLUMNS_NEEDED
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DEFAULT_HORIZON_DAYS,
    TABLE_INCIDENTS,
    TABLE_VISITS,
    warehouse_path,
)
from warehouse.memory import release_memory

logger = logging.getLogger(__name__)

#: Visit columns the feature job reads: those it needs and the two it uses when present.
_VISIT_COLUMNS = (*VISIT_COLUMNS_NEEDED, "dispute_parties", "followup_due")

#: Visits per partition: about 150 000 households of the reference prefecture, whose
#: feature job peaks near 1 GB. A warehouse with fewer visits is built in one piece.
VISITS_PER_PARTITION = 1_500_000


def warehouse_visit_rows(home: Path) -> int:
    """Rows of ``<home>/warehouse/visits.parquet`` from its footer (0 when absent)."""
    import pyarrow.parquet as pq

    path = warehouse_path(Path(home), TABLE_VISITS)
    if not path.exists():
        return 0
    return int(pq.ParquetFile(path).metadata.num_rows)


def partitions_for(n_visits: int, visits_per_partition: int | None = None) -> int:
    """Partitions of whole townships for a warehouse of ``n_visits`` visit rows (at least 1)."""
    per = VISITS_PER_PARTITION if visits_per_partition is None else visits_per_partition
    return max(1, math.ceil(n_visits / max(1, per)))


def build_snapshot_in_parts(
    home: Path,
    as_of: pd.Timestamp,
    n_partitions: int,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    escalation_categories: Sequence[str] = DEFAULT_ESCALATION_CATEGORIES,
    with_labels: bool = True,
    exclude_suspect_visits: bool = False,
    known_suspects: tuple[pd.Timestamp, np.ndarray] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Feature rows of one as-of date, computed one partition of whole townships at a time.

    Parameters
    ----------
    home : Path
        Revisit home holding ``warehouse/``.
    as_of : pandas.Timestamp
        The as-of date (time-zone aware, Asia/Shanghai).
    n_partitions : int
        Partitions of about equal visit counts (:func:`features.distributed.township_partitions`).
    horizon_days, escalation_categories, with_labels
        As :func:`features.build.build_features`.
    exclude_suspect_visits : bool, default False
        Treat the visits the officer review finds suspect at ``as_of`` (judged on the
        whole table) as missing evidence, as :func:`features.build.build_features` does.
    known_suspects : (Timestamp, ndarray of int64), optional
        ``(as_of, positions)`` of the suspect visits a caller already found with
        :func:`suspect_visit_rows` (serving marks those households too): used when
        its date is ``as_of``, so that the review window is not read twice.
    progress : bool, default False
        A progress bar over the partitions.

    Returns
    -------
    DataFrame
        As :func:`features.build.build_features` for ``[as_of]``: one row per household
        of the cohort, sorted by ``household_id``.

    """
    from features.build import FeatureJob
    from features.distributed import township_partition_rows
    from warehouse.store import read_rows

    parts, visit_part = township_partition_rows(home, n_partitions)
    incident_part = _row_partitions(home, TABLE_INCIDENTS, parts)
    release_memory()
    suspect = None
    if exclude_suspect_visits:
        if known_suspects is not None and known_suspects[0] == as_of:
            suspect = np.asarray(known_suspects[1], dtype=np.int64)
        else:
            suspect = suspect_visit_rows(home, as_of)[0]
    frames = []
    iterator: Any = enumerate(parts)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(parts), desc="snapshot partitions", unit="part")
    for k, _ in iterator:
        mine = np.flatnonzero(visit_part == k)  # positions in the file, ascending
        visits = read_rows(home, TABLE_VISITS, mine, _VISIT_COLUMNS)
        incidents = read_rows(
            home, TABLE_INCIDENTS, np.flatnonzero(incident_part == k), INCIDENT_COLUMNS_NEEDED
        )
        exclude = None
        if suspect is not None:
            exclude = np.searchsorted(mine, suspect[np.isin(suspect, mine)])
        job = FeatureJob(
            visits,
            incidents,
            horizon_days=horizon_days,
            escalation_categories=escalation_categories,
        )
        del visits, incidents
        rows = job.rows_at(as_of, with_labels=with_labels, exclude_rows=exclude)
        frames.append(job.assemble([rows], with_labels=with_labels))
        del job, rows
        release_memory()  # the next partition reuses nothing of this one's job
    frame = _merge_sorted(frames)
    logger.info("snapshot of %d households built in %d partitions", len(frame), len(parts))
    return frame


def _merge_sorted(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' frames as one, sorted by ``household_id`` (each is sorted).

    ``pandas.concat`` then ``take`` would hold the float block three times (1 M
    households: 1.2 GB each); here each partition's floats are scattered into one
    block and the partition is dropped, so about one block is held.
    """
    if len(frames) == 1:
        return frames[0]
    columns = list(frames[0].columns)
    floats = [c for c in columns if frames[0][c].dtype == np.float64]
    ids = pd.concat([f["household_id"] for f in frames], ignore_index=True)
    order = ids.argsort(kind="stable").to_numpy()
    dest = np.empty_like(order)
    dest[order] = np.arange(order.size)
    others = {
        c: pd.concat([f[c] for f in frames], ignore_index=True).take(order).reset_index(drop=True)
        for c in columns
        if c not in floats
    }
    block = np.empty((len(floats), order.size), dtype=np.float64)
    offset = 0
    for k in range(len(frames)):
        n = len(frames[k])
        block[:, dest[offset : offset + n]] = frames[k][floats].to_numpy(dtype=np.float64).T
        frames[k] = frames[k].iloc[:0]  # release the partition's rows
        offset += n
    frame = pd.DataFrame(block.T, columns=floats, copy=False)
    for pos, col in enumerate(columns):
        if col in others:
            frame.insert(pos, col, others.pop(col))
    return frame


def _row_partitions(home: Path, table: str, parts: list[np.ndarray]) -> np.ndarray:
    """The partition of each row of a warehouse table (``-1``: a household in none).

    Returns
    -------
    ndarray of int64, shape (n_rows,)
        Partition index of the row's household, in file order.
    """
    from warehouse.store import read_table

    households = read_table(Path(home), table, ["household_id"])["household_id"]
    codes, uniques = pd.factorize(households)
    del households
    owner = pd.Index(np.concatenate(parts)) if parts else pd.Index([], dtype=str)
    part_of = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    where = owner.get_indexer(pd.Index(uniques).astype(str))
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.where(where >= 0, part_of[np.maximum(where, 0)], -1)[codes]


def review_window_rows(home: Path, as_of: pd.Timestamp) -> tuple[np.ndarray, pd.DataFrame]:
    """The visits the officer review at ``as_of`` can read, and their positions in the file.

    The review reads the visits of its window (``visited_at`` in the
    ``ReviewConfig.window_days`` before ``as_of``) and every version of visits
    with several (:class:`features.visit_review.SuspectVisits`); on 10 M visits
    that is a few hundred thousand rows, read here without the others.

    Returns
    -------
    positions : ndarray of int64
        Ascending row positions in ``<home>/warehouse/visits.parquet``.
    visits : DataFrame
        Those rows: the review's columns and ``household_id``, canonical dtypes.
    """
    from features.visit_review import REVIEW_COLUMNS, ReviewConfig
    from warehouse.store import read_rows, read_visits

    keys = read_visits(Path(home), ["visit_id", "visited_at"])
    when = pd.to_datetime(keys["visited_at"])
    start = as_of - pd.Timedelta(days=ReviewConfig().window_days)
    window = ((when >= start) & (when < as_of)).fillna(False).to_numpy()
    ids, _ = pd.factorize(keys["visit_id"])  # duplicated() would copy 10 M strings to objects
    del keys, when
    needed = np.flatnonzero(window | (np.bincount(ids)[ids] > 1))
    return needed, read_rows(Path(home), TABLE_VISITS, needed, [*REVIEW_COLUMNS, "household_id"])


def suspect_visit_rows(home: Path, as_of: pd.Timestamp) -> tuple[np.ndarray, pd.DataFrame]:
    """The visits the officer review finds suspect at ``as_of``, read from the review window.

    Parameters
    ----------
    home : Path
        Revisit home holding ``warehouse/``.
    as_of : pandas.Timestamp
        The as-of date (time-zone aware, Asia/Shanghai).

    Returns
    -------
    positions : ndarray of int64
        Ascending positions in ``<home>/warehouse/visits.parquet`` of the current
        version of each suspect visit (:meth:`features.visit_review.SuspectVisits.at`).
    suspect : DataFrame
        Every version of those visits (the review's columns and ``household_id``),
        for the households they mark (``campaign.officer_review``).
    """
    from features.visit_review import SuspectVisits

    needed, recent = review_window_rows(home, as_of)
    local = SuspectVisits(recent).rows_at(as_of)
    ids = set(recent["visit_id"].iloc[local])
    suspect = recent[recent["visit_id"].isin(ids)].reset_index(drop=True)
    positions = needed[local]
    del recent
    release_memory()
    return positions, suspect
