"""Turn scores into each township's weekly revisits: capacity, cooldown, lottery at the margin.

Each township revisits at most ``capacity`` households a week. Households revisited
in the last ``cooldown_weeks`` weeks are not eligible (an officer does not go back
every week). Eligible households are ranked by score, ties broken at random. With
``lottery_share`` s > 0, the top ``K - L`` ranks are revisited (``L = round(s K)``)
and the ``L`` remaining slots go by lottery among the next ``ceil(pool L)`` ranks,
"just below the cut": winners and losers of that lottery differ only by chance,
which is what lets :mod:`simulation.policy.estimate` measure the revisit effect
from the records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Arms of the selection log.
ARM_RANKED, ARM_LOTTERY_WIN, ARM_LOTTERY_LOSE, ARM_BELOW_CUT = 0, 1, 2, 3


@dataclass(frozen=True)
class Selection:
    """One week's choice.

    Parameters
    ----------
    revisit : ndarray of int64, shape (n_revisits,)
        Households to revisit.
    log_hh : ndarray of int64, shape (n_logged,)
        Households logged for the estimators: every revisit, every lottery loser and,
        without a lottery, the ``capacity`` households ranked just below the cut.
    log_arm : ndarray of int8, shape (n_logged,)
        ``ARM_*`` of each logged household.
    """

    revisit: np.ndarray
    log_hh: np.ndarray
    log_arm: np.ndarray


def _rank_within(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """0-based position of each element of ``order`` within its group (group sorted)."""
    g = group[order]
    first = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, g.size]))
    return np.arange(g.size) - starts


def select(
    score: np.ndarray,
    township: np.ndarray,
    eligible: np.ndarray,
    capacity: int,
    rng: np.random.Generator,
    *,
    lottery_share: float = 0.0,
    lottery_pool: float = 3.0,
) -> Selection:
    """Choose each township's revisits for the week.

    Parameters
    ----------
    score : ndarray of float64, shape (n_households,)
        Higher = revisit first; ``-inf`` = never (not rankable).
    township : ndarray of int, shape (n_households,)
        Township of each household.
    eligible : ndarray of bool, shape (n_households,)
        Not in cooldown.
    capacity : int
        Revisits per township per week (K >= 0).
    rng : numpy.random.Generator
        Tie-breaks and the lottery.
    lottery_share : float, default 0
        Share of the slots given by lottery, in [0, 1].
    lottery_pool : float, default 3
        Lottery pool size as a multiple of the lottery slots (>= 1).

    Returns
    -------
    Selection

    Raises
    ------
    ValueError
        On a negative capacity, a share outside [0, 1] or a pool below 1.
    """
    if capacity < 0:
        raise ValueError(f"capacity must be >= 0, got {capacity!r}")
    if not 0.0 <= lottery_share <= 1.0:
        raise ValueError(f"lottery_share must be in [0, 1], got {lottery_share!r}")
    if lottery_pool < 1.0:
        raise ValueError(f"lottery_pool must be >= 1, got {lottery_pool!r}")
    cand = np.flatnonzero(eligible & np.isfinite(score))
    tie = rng.random(cand.size)
    order = np.lexsort((tie, -score[cand], township[cand]))
    hh = cand[order]
    rank = _rank_within(township[cand], order)
    n_lot = int(round(lottery_share * capacity))
    n_det = capacity - n_lot
    ranked = hh[rank < n_det]
    if n_lot == 0:
        below = hh[(rank >= n_det) & (rank < n_det + capacity)]
        return Selection(
            revisit=ranked,
            log_hh=np.r_[ranked, below].astype(np.int64),
            log_arm=np.r_[
                np.full(ranked.size, ARM_RANKED), np.full(below.size, ARM_BELOW_CUT)
            ].astype(np.int8),
        )
    pool = hh[(rank >= n_det) & (rank < n_det + math.ceil(lottery_pool * n_lot))]
    draw = np.lexsort((rng.random(pool.size), township[pool]))
    win_rank = _rank_within(township[pool], draw)
    winners = pool[draw][win_rank < n_lot]
    losers = pool[draw][win_rank >= n_lot]
    return Selection(
        revisit=np.r_[ranked, winners].astype(np.int64),
        log_hh=np.r_[ranked, winners, losers].astype(np.int64),
        log_arm=np.r_[
            np.full(ranked.size, ARM_RANKED),
            np.full(winners.size, ARM_LOTTERY_WIN),
            np.full(losers.size, ARM_LOTTERY_LOSE),
        ].astype(np.int8),
    )
