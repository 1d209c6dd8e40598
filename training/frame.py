"""The labelled weekly training frame, in pieces on disk: one Parquet file per as-of date.

Rule
----
The frame is the feature job's rows (``features.build.FeatureJob``) of every
labelled weekly as-of date, never held in memory at once: each date is
computed, sampled and written to ``<home>/training_frame/as_of=<date>.parquet``
before the next one is computed. Features are float32 (counts, days and
shares; float32 has 24 bits of mantissa, exact for counts below 16 million and
about 7 significant digits for days and shares) and the household type is a
categorical code; text columns are the keys and jurisdiction only.

Case-control sampling
---------------------
Of each date, every positive row (escalation within the horizon) and a seeded
share ``s`` of the negative rows are *in the sample* (``in_sample``); a sampled
negative weighs ``1 / s`` (``weight``), a positive 1, so the weighted sample
has the population's base rate and LightGBM, early stopping and calibration
fit the population (Breslow 1996, "Statistics in epidemiology: the
case-control study"; King & Zeng 2001, "Logistic regression in rare events
data" call it weighting). The draw of row ``i`` of date ``t`` is
``default_rng([random_state, t's day number]).random(n_t)[i] < s``, so a date's
sample does not depend on the other dates. Dates that are evaluation weeks
(the test weeks of any rolling-origin fold) are written *in full*, so that
precision@k is computed on every household of those weeks; their rows not in
the sample are marked ``in_sample = False``. ``s = 1`` keeps every row
(the full frame).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from warehouse.contract import LABEL_COLUMN

logger = logging.getLogger(__name__)

#: Folder of the pieces under the Revisit home.
FRAME_FOLDER = "training_frame"
#: Columns added to the feature job's rows.
IN_SAMPLE, WEIGHT = "in_sample", "weight"


class FrameError(ValueError):
    """The training frame cannot be built or read as asked."""


@dataclass
class FramePieces:
    """Where the pieces are and what they hold.

    Attributes
    ----------
    folder : Path
        Folder of the Parquet pieces, one per as-of date.
    dates : list of pandas.Timestamp
        Labelled as-of dates written, ascending (Asia/Shanghai).
    full_dates : frozenset of pandas.Timestamp
        Dates written in full (evaluation weeks).
    negative_share : float
        Share ``s`` of negatives in the sample, in (0, 1].
    rows : dict of pandas.Timestamp to int
        Population rows (the cohort) per date.
    sampled_rows : dict of pandas.Timestamp to int
        Rows in the sample per date.
    positives : dict of pandas.Timestamp to int
        Positive rows per date.
    n_households : int
        Distinct households in any date's cohort.
    feature_names : list of str
        Feature columns, catalogue order.
    peak_piece_rows : int
        Rows of the largest piece written.
    suspect_visits : dict of pandas.Timestamp to int
        Visits the review found suspect at each date (empty when not asked); those of
        households with no other known visit stay in.
    """

    folder: Path
    dates: list[pd.Timestamp]
    full_dates: frozenset[pd.Timestamp]
    negative_share: float
    rows: dict[pd.Timestamp, int] = field(default_factory=dict)
    sampled_rows: dict[pd.Timestamp, int] = field(default_factory=dict)
    positives: dict[pd.Timestamp, int] = field(default_factory=dict)
    n_households: int = 0
    feature_names: list[str] = field(default_factory=list)
    peak_piece_rows: int = 0
    suspect_visits: dict[pd.Timestamp, int] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Labelled household-weeks of the population (every cohort row of every date)."""
        return int(sum(self.rows.values()))

    @property
    def n_sampled(self) -> int:
        """Rows in the case-control sample, all dates."""
        return int(sum(self.sampled_rows.values()))

    def path(self, as_of: pd.Timestamp) -> Path:
        """The piece of one as-of date."""
        return self.folder / f"as_of={as_of.date().isoformat()}.parquet"

    def read(
        self,
        dates: Iterable[pd.Timestamp],
        *,
        sampled: bool,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of some dates as one frame.

        Parameters
        ----------
        dates : iterable of pandas.Timestamp
            As-of dates (those not written are an error).
        sampled : bool
            Only the rows in the case-control sample (training, validation),
            or every row written (evaluation weeks: the whole cohort).
        columns : sequence of str, optional
            Columns to read (default: all).

        Returns
        -------
        DataFrame
            Rows in date order, a fresh ``RangeIndex``.

        Raises
        ------
        FrameError
            When a date has no piece.
        """
        parts = [self.read_one(d, sampled=sampled, columns=columns) for d in dates]
        if not parts:
            raise FrameError("expected at least one as-of date to read, got none")
        if len(parts) == 1:
            return parts[0]
        return pd.concat(parts, ignore_index=True)

    def read_one(
        self, as_of: pd.Timestamp, *, sampled: bool, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Rows of one as-of date (see :meth:`read`)."""
        path = self.path(as_of)
        if not path.exists():
            raise FrameError(f"expected the training-frame piece {path}, got none")
        wanted = None if columns is None else list(dict.fromkeys([*columns, IN_SAMPLE]))
        frame = pd.read_parquet(
            path, columns=wanted, filters=[(IN_SAMPLE, "==", True)] if sampled else None
        )
        if columns is not None and IN_SAMPLE not in columns:
            frame = frame.drop(columns=IN_SAMPLE)
        return frame.reset_index(drop=True)

    def read_at_most(
        self,
        dates: Iterable[pd.Timestamp],
        max_rows: int,
        *,
        columns: Sequence[str] | None = None,
        random_state: int = 0,
    ) -> pd.DataFrame:
        """Case-control sample rows of some dates, thinned to about ``max_rows`` rows.

        When the dates' sample holds more than ``max_rows`` rows, each piece
        keeps a seeded share ``max_rows / rows`` of its rows as it is read, so
        that no more rows than that are ever held (every training row at
        1 000 000 households is about 5 GB); otherwise every row is read.
        """
        dates = list(dates)
        n_rows = sum(self.sampled_rows.get(d, 0) for d in dates)
        if n_rows <= max_rows:
            return self.read(dates, sampled=True, columns=columns)
        rng = np.random.default_rng(random_state)
        share = max_rows / n_rows
        parts = [
            b[rng.random(len(b)) < share] for b in self.blocks(dates, sampled=True, columns=columns)
        ]
        return pd.concat(parts, ignore_index=True)

    def blocks(
        self, dates: Iterable[pd.Timestamp], *, sampled: bool, columns: Sequence[str] | None = None
    ) -> PieceBlocks:
        """The rows of some dates as blocks read one at a time (one block per date).

        For :meth:`models.risk_model.EscalationModel.fit_blocks`, which never
        holds every training row in one frame.
        """
        return PieceBlocks(self, tuple(dates), sampled, None if columns is None else tuple(columns))

    def iter_full(
        self, dates: Iterable[pd.Timestamp], columns: Sequence[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        """Every row of each date in turn (scoring evaluation weeks piece by piece)."""
        for as_of in dates:
            yield self.read_one(as_of, sampled=False, columns=columns)


@dataclass(frozen=True)
class PieceBlocks:
    """Rows of some as-of dates, one block per date, read on demand (see :meth:`FramePieces.blocks`)."""

    pieces: FramePieces
    dates: tuple[pd.Timestamp, ...]
    sampled: bool
    columns: tuple[str, ...] | None

    def __len__(self) -> int:
        return len(self.dates)

    def __getitem__(self, i: int) -> pd.DataFrame:
        return self.pieces.read_one(self.dates[i], sampled=self.sampled, columns=self.columns)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for i in range(len(self.dates)):
            yield self[i]


def sample_mask(
    labels: np.ndarray, as_of: pd.Timestamp, share: float, random_state: int
) -> np.ndarray:
    """Rows of one date in the case-control sample: every positive, a seeded share of negatives.

    Parameters
    ----------
    labels : ndarray of int8, shape (n_rows,)
        0/1 labels of the date's cohort.
    as_of : pandas.Timestamp
        The date (its day number seeds the draw with ``random_state``).
    share : float
        Share of negatives kept, in (0, 1].
    random_state : int
        Seed.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
    """
    if share >= 1.0:
        return np.ones(len(labels), dtype=bool)
    day = int(as_of.value // (86_400 * 10**9))
    draw = np.random.default_rng([int(random_state), day]).random(len(labels))
    return (labels == 1) | (draw < share)


def capped_share(share: float, rows: int, max_negative_rows: int | None) -> float:
    """The case-control share, lowered so that about ``max_negative_rows`` negatives are kept.

    Parameters
    ----------
    share : float
        Share of negatives asked for, in (0, 1].
    rows : int
        Rows the sample is drawn from (an upper bound of the negatives).
    max_negative_rows : int or None
        Negatives kept at most (in expectation); ``None``: no cap.

    Returns
    -------
    float
        ``min(share, max_negative_rows / rows)``.
    """
    if max_negative_rows is None or rows * share <= max_negative_rows:
        return float(share)
    return float(max_negative_rows) / float(rows)


def build_frame_pieces(
    visits: pd.DataFrame,
    incidents: pd.DataFrame,
    dates: Sequence[pd.Timestamp],
    full_dates: Iterable[pd.Timestamp],
    folder: Path,
    *,
    horizon_days: int,
    escalation_categories: Sequence[str],
    negative_share: float,
    random_state: int,
    progress: bool = False,
    on_piece: Any = None,
    exclude_suspect_visits: bool = False,
    max_negative_rows: int | None = None,
) -> FramePieces:
    """Compute, sample and write the labelled weekly frame, one as-of date at a time.

    Parameters
    ----------
    visits, incidents : DataFrame
        Canonical warehouse tables (released by the caller after this returns).
    dates : sequence of pandas.Timestamp
        Weekly as-of dates (Asia/Shanghai); dates whose horizon is not fully
        observed are skipped.
    full_dates : iterable of pandas.Timestamp
        Dates written in full (evaluation weeks).
    folder : Path
        Output folder; emptied first.
    horizon_days : int
        Label horizon in days.
    escalation_categories : sequence of str
        Categories that make the label 1.
    negative_share : float
        Share of negatives in the sample, in (0, 1].
    random_state : int
        Seed of the sample.
    progress : bool, default False
        A progress bar over the dates.
    on_piece : callable (as_of, rows, sampled) -> None, optional
        Called after each piece is written.
    exclude_suspect_visits : bool, default False
        At each date, build the features without the visits the officer review finds
        suspect at that date (``features.visit_review.SuspectVisits``: missing evidence,
        not evidence of calm); a household whose known visits are all suspect keeps them.
        The visits left out per date are counted in ``suspect_visits``.
    max_negative_rows : int, optional
        Lower the share to ``max_negative_rows / (households x labelled dates)``
        when ``negative_share`` would keep more negatives than that (households
        known to the warehouse, an upper bound of each date's cohort); the share
        used is the returned pieces' ``negative_share``.

    Returns
    -------
    FramePieces

    Raises
    ------
    FrameError
        When ``negative_share`` is outside (0, 1] or no date is labelled.
    """
    from features.build import FeatureJob
    from features.catalogue import feature_names as catalogue_feature_names
    from features.visit_review import SuspectVisits

    if not 0.0 < negative_share <= 1.0:
        raise FrameError(f"negative_share must be in (0, 1], got {negative_share!r}")
    full = frozenset(full_dates)
    job = FeatureJob(
        visits, incidents, horizon_days=horizon_days, escalation_categories=escalation_categories
    )
    labelled = [d for d in dates if job.is_labelled(d)]
    if not labelled:
        raise FrameError("no as-of date has a fully observed horizon: ingest a longer history")
    negative_share = capped_share(
        negative_share, job.n_households * len(labelled), max_negative_rows
    )
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    pieces = FramePieces(folder, labelled, full & set(labelled), float(negative_share))
    suspect = SuspectVisits(visits) if exclude_suspect_visits else None
    seen = np.zeros(job.n_households, dtype=bool)
    iterator: Any = labelled
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(labelled, desc="training frame", unit="week")
    for as_of in iterator:
        drop = None if suspect is None else suspect.rows_at(as_of)
        rows = job.rows_at(as_of, dtype=np.float32, exclude_rows=drop)
        if drop is not None:
            pieces.suspect_visits[as_of] = len(drop)
        seen[rows.households] = True
        keep = sample_mask(rows.labels, as_of, negative_share, random_state)
        pieces.rows[as_of] = len(rows.labels)
        pieces.positives[as_of] = int((rows.labels == 1).sum())
        pieces.sampled_rows[as_of] = int(keep.sum())
        if as_of not in full:
            rows = rows.take(np.flatnonzero(keep))
            keep = keep[keep]
        frame = job.assemble([rows])
        frame[LABEL_COLUMN] = frame[LABEL_COLUMN].astype("int8")
        frame[IN_SAMPLE] = keep
        weight = np.where(frame[LABEL_COLUMN].to_numpy() == 1, 1.0, 1.0 / negative_share)
        frame[WEIGHT] = weight.astype(np.float32)
        frame.to_parquet(pieces.path(as_of), index=False)
        pieces.peak_piece_rows = max(pieces.peak_piece_rows, len(frame))
        if on_piece is not None:
            on_piece(as_of, pieces.rows[as_of], pieces.sampled_rows[as_of])
        del frame, rows
    pieces.n_households = int(seen.sum())
    pieces.feature_names = list(catalogue_feature_names())
    logger.info(
        "training frame: %d labelled rows over %d dates, %d in the sample (share %.3g), %d files",
        pieces.n_rows,
        len(labelled),
        pieces.n_sampled,
        negative_share,
        len(labelled),
    )
    return pieces
