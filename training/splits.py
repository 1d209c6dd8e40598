"""Rolling-origin out-of-time splits over weekly as-of dates.

Each fold has a training, a validation and a test block of as-of dates, in that
order in time, separated by a gap of H days so that no label window crosses a
split: a row at as-of t in a block has its label window ``[t, t + H)`` end on or
before the first as-of date of the next block (``t + H <= next_start``). Test
blocks of successive folds do not overlap, so pooled test rows are each scored
once. After evaluation, :func:`final_split` gives the blocks on which the final
model is retrained: all labelled dates, with the latest weeks as validation.

Source: rolling-origin evaluation (Tashman 2000, "Out-of-sample tests of
forecasting accuracy", IJF 16(4)), with the label-horizon gap of DSSG triage's
temporal cross-validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


class SplitError(ValueError):
    """The as-of dates are too few for the requested split scheme."""


@dataclass(frozen=True)
class Fold:
    """The as-of dates of one out-of-time fold.

    Parameters
    ----------
    name : str
        ``"fold1"`` (oldest) … ``"foldN"``, or ``"final"``.
    train, validation, test : tuple of pandas.Timestamp
        Sorted as-of dates (tz-aware, Asia/Shanghai) of each block; ``test`` is
        empty for the final fold.
    horizon_days : int
        The label horizon H (days) the gaps were built for.
    """

    name: str
    train: tuple[pd.Timestamp, ...]
    validation: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    horizon_days: int

    def masks(self, as_of: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean row masks of the three blocks for a frame's ``as_of`` column.

        Parameters
        ----------
        as_of : Series of datetime64[ns, Asia/Shanghai], length n_rows

        Returns
        -------
        train, validation, test : ndarray of bool, shape (n_rows,)
        """
        values = pd.Series(as_of)
        return (
            values.isin(self.train).to_numpy(dtype=bool),
            values.isin(self.validation).to_numpy(dtype=bool),
            values.isin(self.test).to_numpy(dtype=bool),
        )

    def describe(self) -> dict[str, str]:
        """First and last date of each block as ISO dates (for params and tags)."""
        out: dict[str, str] = {}
        for block in ("train", "validation", "test"):
            dates = getattr(self, block)
            if dates:
                out[f"{block}_start"] = dates[0].date().isoformat()
                out[f"{block}_end"] = dates[-1].date().isoformat()
        return out


def _sorted_unique(as_of_dates: Iterable[pd.Timestamp]) -> list[pd.Timestamp]:
    return sorted({pd.Timestamp(d) for d in as_of_dates})


def _before_gap(
    dates: Sequence[pd.Timestamp], start: pd.Timestamp, horizon: pd.Timedelta
) -> list[pd.Timestamp]:
    """Dates whose label window ``[t, t + H)`` ends on or before ``start``."""
    return [d for d in dates if d + horizon <= start]


def rolling_origin_splits(
    as_of_dates: Iterable[pd.Timestamp],
    *,
    horizon_days: int,
    n_folds: int = 3,
    test_weeks: int = 4,
    val_weeks: int = 4,
    min_train_weeks: int = 4,
) -> list[Fold]:
    """Out-of-time folds with an H-day gap between train, validation and test.

    The newest fold's test block is the last ``test_weeks`` as-of dates; each
    older fold's test block ends just before the next one's starts. Validation
    is the latest ``val_weeks`` dates whose label window ends by the test
    block's start; training is every earlier date whose label window ends by
    the validation block's start (an expanding window).

    Parameters
    ----------
    as_of_dates : iterable of pandas.Timestamp
        Labelled as-of dates (weekly Mondays, tz-aware); duplicates are ignored.
    horizon_days : int
        Label horizon H in days.
    n_folds : int
        Folds wanted; older folds whose training block would have fewer than
        ``min_train_weeks`` dates are dropped.
    test_weeks, val_weeks, min_train_weeks : int
        Sizes of the blocks, in as-of dates (weeks).

    Returns
    -------
    list of Fold
        Oldest first, named ``fold1`` … ``foldK`` with ``1 <= K <= n_folds``.

    Raises
    ------
    SplitError
        Not even one fold fits the dates given.
    """
    dates = _sorted_unique(as_of_dates)
    horizon = pd.Timedelta(days=horizon_days)
    folds: list[tuple[list[pd.Timestamp], list[pd.Timestamp], list[pd.Timestamp]]] = []
    end = len(dates)
    for _ in range(n_folds):
        if end - test_weeks < 0:
            break
        test = dates[end - test_weeks : end]
        val_pool = _before_gap(dates[: end - test_weeks], test[0], horizon)
        if len(val_pool) < val_weeks:
            break
        validation = val_pool[-val_weeks:]
        train = _before_gap(val_pool[:-val_weeks], validation[0], horizon)
        if len(train) < min_train_weeks:
            break
        folds.append((train, validation, test))
        end -= test_weeks
    if not folds:
        raise SplitError(
            f"expected enough weekly as-of dates for one fold of {min_train_weeks} training, "
            f"{val_weeks} validation and {test_weeks} test weeks with {horizon_days}-day gaps, "
            f"got {len(dates)} dates"
            + (f" ({dates[0].date()} to {dates[-1].date()})" if dates else "")
        )
    folds.reverse()
    return [
        Fold(f"fold{i}", tuple(tr), tuple(va), tuple(te), horizon_days)
        for i, (tr, va, te) in enumerate(folds, start=1)
    ]


def final_split(
    as_of_dates: Iterable[pd.Timestamp],
    *,
    horizon_days: int,
    val_weeks: int = 4,
    min_train_weeks: int = 4,
) -> Fold:
    """Blocks for the final model: all labelled dates, the latest as validation.

    Parameters
    ----------
    as_of_dates : iterable of pandas.Timestamp
        Labelled as-of dates (tz-aware).
    horizon_days, val_weeks, min_train_weeks : int
        As in :func:`rolling_origin_splits`.

    Returns
    -------
    Fold
        Named ``"final"``, with an empty test block.

    Raises
    ------
    SplitError
        Fewer dates than ``min_train_weeks`` + gap + ``val_weeks``.
    """
    dates = _sorted_unique(as_of_dates)
    horizon = pd.Timedelta(days=horizon_days)
    validation = dates[-val_weeks:] if len(dates) >= val_weeks else []
    train = _before_gap(dates[:-val_weeks], validation[0], horizon) if validation else []
    if len(train) < min_train_weeks:
        raise SplitError(
            f"expected at least {min_train_weeks} training weeks before the final "
            f"{val_weeks} validation weeks (gap {horizon_days} days), got {len(train)} "
            f"from {len(dates)} dates"
        )
    return Fold("final", tuple(train), tuple(validation), (), horizon_days)
