"""The feature job on a Dask cluster: one task per partition of whole townships.

Why partitions of townships
---------------------------
Every feature is a function of one household's own records except the four
context rates, which are leave-one-out rates over the households of the same
village and township at the as-of date (``features.build``). So the job gives
the same rows on any partition of the households that keeps whole townships
(villages lie within townships). A household belongs to the township of its
latest visit; a household that moved between townships keeps all its records
in that one partition (its context rates at dates before the move then see
only that partition: the single-machine job sees both townships; the
simulator's households never move).

How it runs
-----------
The client reads three columns of the visits (household, township, visit
time), assigns townships to ``n_partitions`` partitions of about equal visit
counts (largest first, each to the lightest partition), and submits one task
per partition. Each task reads the warehouse rows of its households itself
(Parquet filters: workers share the home's file system, as a LocalCluster does
and a cluster with a shared volume does), runs :func:`features.build.build_features`
and writes ``part-<k>.parquet`` into the output folder, a Parquet dataset that
``pandas.read_parquet(folder)`` reads as one table. Nothing but counts travels
back to the client.

Addresses: ``local`` or ``local:N`` starts a ``distributed.LocalCluster`` of N
single-threaded worker processes (default 2) for the call; ``tcp://host:port``
connects to a running scheduler (``dask scheduler`` / ``dask worker``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from warehouse.contract import TABLE_INCIDENTS, TABLE_VISITS, warehouse_path

logger = logging.getLogger(__name__)

_LOCAL = re.compile(r"^local(?::(\d+))?$")


class DaskAddressError(ValueError):
    """A ``--dask`` address is neither ``local[:N]`` nor ``tcp://host:port``."""


@dataclass(frozen=True)
class DaskAddress:
    """Where to run: a LocalCluster of ``n_workers`` or an existing scheduler."""

    scheduler: str | None
    n_workers: int = 2

    @property
    def is_local(self) -> bool:
        """Whether a LocalCluster is started for the call."""
        return self.scheduler is None


def parse_address(text: str) -> DaskAddress:
    """Parse ``local``, ``local:N`` or ``tcp://host:port``.

    Raises
    ------
    DaskAddressError
        Any other text, or ``N`` < 1.
    """
    value = text.strip()
    match = _LOCAL.match(value)
    if match:
        n = int(match.group(1) or 2)
        if n < 1:
            raise DaskAddressError(f"local:N needs N >= 1 workers, got {value!r}")
        return DaskAddress(None, n)
    if re.match(r"^(tcp|tls|inproc|ucx)://[^\s]+$", value):
        return DaskAddress(value)
    raise DaskAddressError(
        f"expected a Dask address 'local', 'local:N' or 'tcp://host:port', got {text!r}"
    )


@contextmanager
def dask_client(address: DaskAddress, memory_limit: str = "auto") -> Iterator[Any]:
    """A ``distributed.Client`` for the address, closed (and its LocalCluster stopped) after.

    Parameters
    ----------
    address : DaskAddress
        From :func:`parse_address`.
    memory_limit : str, default "auto"
        Memory limit per local worker (Dask's syntax, e.g. ``"4GB"``).
    """
    from distributed import Client, LocalCluster

    if address.is_local:
        with (
            LocalCluster(
                n_workers=address.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit=memory_limit,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(address.scheduler) as client:
            yield client


def township_partitions(home: Path, n_partitions: int) -> list[np.ndarray]:
    """Households grouped into partitions of whole townships, of about equal visit counts.

    Parameters
    ----------
    home : Path
        Revisit home.
    n_partitions : int
        Partitions wanted (fewer when there are fewer townships).

    Returns
    -------
    list of ndarray of str
        Household ids of each partition, each sorted.
    """
    return township_partition_rows(home, n_partitions)[0]


def township_partition_rows(home: Path, n_partitions: int) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`township_partitions`, and the partition of every row of the visits file.

    Returns
    -------
    parts : list of ndarray of str
        As :func:`township_partitions`.
    row_part : ndarray of int64, shape (n_visits,)
        Index in ``parts`` of each visit row's household, in file order (the
        snapshot reads each partition's rows by position; one read of the
        household column serves both).
    """
    path = warehouse_path(Path(home), TABLE_VISITS)
    visits = pd.read_parquet(path, columns=["household_id", "county", "township", "visited_at"])
    # integer codes throughout: 1 000 000 households hold 10 M visits
    hh, households = pd.factorize(visits["household_id"].astype(str))
    county, _ = pd.factorize(visits["county"].astype(str))
    township, _ = pd.factorize(visits["township"].astype(str))
    place, places = pd.factorize(county.astype(np.int64) * (int(township.max()) + 2) + township)
    when = pd.to_datetime(visits["visited_at"]).to_numpy(dtype="datetime64[ns]").view(np.int64)
    del visits, county, township
    latest = np.lexsort(
        (when, hh)
    )  # each household's rows by time; its last row is its latest visit
    last = latest[np.r_[np.flatnonzero(np.diff(hh[latest])), hh.size - 1]] if hh.size else latest
    owner = np.empty(len(households), dtype=np.int64)
    owner[hh[last]] = place[last]
    load = np.bincount(owner[hh], minlength=len(places))
    bins: list[list[int]] = [[] for _ in range(max(1, min(n_partitions, int((load > 0).sum()))))]
    weight = np.zeros(len(bins))
    for p in np.argsort(-load, kind="stable"):
        if load[p] == 0:
            break
        k = int(np.argmin(weight))
        bins[k].append(int(p))
        weight[k] += load[p]
    names = np.asarray(households, dtype=object)
    kept = [b for b in bins if b]
    part_of_place = np.full(len(places), -1, dtype=np.int64)
    for k, b in enumerate(kept):
        part_of_place[b] = k
    row_part = part_of_place[owner[hh]] if hh.size else np.zeros(0, dtype=np.int64)
    return [np.sort(names[np.isin(owner, b)].astype(str)) for b in kept], row_part


def read_partition(home: Path, households: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The canonical visits and incidents of some households (Parquet filters: only their rows)."""
    from warehouse.store import conform, read_table

    ids = households.tolist()
    tables = []
    for table in (TABLE_VISITS, TABLE_INCIDENTS):
        path = warehouse_path(home, table)
        if not path.exists():
            tables.append(read_table(home, table))
            continue
        frame = pd.read_parquet(path, filters=[("household_id", "in", ids)])
        tables.append(conform(frame, table).reset_index(drop=True))
    return tables[0], tables[1]


def _partition_task(
    home: str, households: np.ndarray, as_of_dates: list[pd.Timestamp], out: str, k: int, kw: dict
) -> int:
    """Features of one partition's households, written to ``out/part-<k>.parquet``; rows."""
    from features.build import build_features

    visits, incidents = read_partition(Path(home), households)
    frame = build_features(visits, incidents, as_of_dates, **kw)
    frame.to_parquet(Path(out) / f"part-{k:04d}.parquet", index=False)
    return len(frame)


def build_features_dask(
    home: Path,
    as_of_dates: Sequence[Any],
    client: Any,
    out: Path,
    *,
    n_partitions: int | None = None,
    **kw: Any,
) -> int:
    """Feature rows of the home's warehouse, computed on a Dask cluster, as a Parquet dataset.

    Parameters
    ----------
    home : Path
        Revisit home (on a file system every worker reads).
    as_of_dates : sequence of date-like
        As-of dates (see :func:`features.build.build_features`).
    client : distributed.Client
        The cluster.
    out : Path
        Output folder (emptied first): ``part-<k>.parquet`` per partition.
    n_partitions : int, optional
        Partitions (default: twice the workers).
    **kw
        ``horizon_days``, ``escalation_categories``, ``with_labels``.

    Returns
    -------
    int
        Rows written over all partitions.
    """
    import shutil

    from features.asof import normalise_as_of_dates

    dates = list(normalise_as_of_dates(as_of_dates))
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = township_partitions(home, n_partitions or 2 * workers)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    futures = [
        client.submit(
            _partition_task, str(Path(home).resolve()), ids, dates, str(out.resolve()), k, kw,
            pure=False,
        )
        for k, ids in enumerate(parts)
    ]  # fmt: skip
    rows = sum(int(n) for n in client.gather(futures))
    logger.info("dask features: %d rows in %d partitions written to %s", rows, len(parts), out)
    return rows


def snapshot_as_of(home: Path) -> pd.Timestamp:
    """The serving snapshot's as-of date, from the time columns of the warehouse only."""
    from features.build import default_snapshot_as_of

    frames = []
    for table, event in ((TABLE_VISITS, "visited_at"), (TABLE_INCIDENTS, "reported_at")):
        path = warehouse_path(Path(home), table)
        columns = ["recorded_at", event]
        frames.append(
            pd.read_parquet(path, columns=columns)
            if path.exists()
            else pd.DataFrame(columns=columns)
        )
    return default_snapshot_as_of(frames[0], frames[1])


def read_feature_dataset(folder: Path) -> pd.DataFrame:
    """The Parquet dataset of :func:`build_features_dask` as one frame, sorted like ``build_features``."""
    frame = pd.concat(
        [pd.read_parquet(p) for p in sorted(Path(folder).glob("part-*.parquet"))],
        ignore_index=True,
    )
    return frame.sort_values(["as_of", "household_id"], kind="stable").reset_index(drop=True)


__all__ = [
    "DaskAddress",
    "DaskAddressError",
    "build_features_dask",
    "dask_client",
    "parse_address",
    "read_feature_dataset",
    "snapshot_as_of",
    "township_partitions",
]
