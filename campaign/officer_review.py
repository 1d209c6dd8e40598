"""Review list of officers whose visit records look perfunctory or made up.

The rules (indicators, peer z-scores, the review list and which visits are
suspect) live in :mod:`features.visit_review`, below :mod:`training`, because the
features treat suspect visits as missing evidence; they are re-exported here,
where the review list, the bulletins and the routes use them.  This module adds
what only lists need: the households with suspect visits and the note shown on
them.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from features.visit_review import (
    DEFAULT_WEIGHTS,
    INDICATORS,
    OfficerReviewError,
    ReviewConfig,
    SuspectVisits,
    officer_indicators,
    reviewed_visits,
    score_officers,
    suspect_visit_ids,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "INDICATORS",
    "SUSPECT_NOTE_EN",
    "SUSPECT_NOTE_ZH",
    "OfficerReviewError",
    "ReviewConfig",
    "SuspectVisits",
    "households_with_suspect_visits",
    "officer_indicators",
    "reviewed_visits",
    "score_officers",
    "suspect_visit_ids",
]


def households_with_suspect_visits(visits: pd.DataFrame, suspect_ids: pd.Series) -> pd.DataFrame:
    """Households whose recent visits include suspect ones.

    Parameters
    ----------
    visits : DataFrame
        Canonical warehouse visits.
    suspect_ids : Series of str
        From :func:`suspect_visit_ids`.

    Returns
    -------
    DataFrame
        ``household_id`` (str), ``suspect_visits`` (int64), ``last_suspect_at``
        (datetime, Asia/Shanghai), one row per household with at least one.
    """
    v = visits[visits["visit_id"].isin(set(suspect_ids))]
    g = v.groupby("household_id")
    return pd.DataFrame(
        {"suspect_visits": g.size().astype("int64"), "last_suspect_at": g["visited_at"].max()}
    ).reset_index()


#: The note shown on a household whose recent visits are suspect.
SUSPECT_NOTE_EN: Final = "records of recent visits may be unreliable: verify in person"
SUSPECT_NOTE_ZH: Final = "近期走访记录可能不实，请实地核查"
