"""Features that treat suspect visits as missing evidence rather than as evidence of calm.

A made-up or perfunctory visit records "nothing found", which a model reads
as calm, and it resets "days since the last visit".  Here the features at t
are built without the visits the officer review flags at t
(:func:`campaign.officer_review.suspect_visit_ids`), so those households look
as unvisited as they are.  A household whose only visits before t are
suspect would then leave the cohort (and every list); it keeps its features
from all visits instead, and lists mark it "records of recent visits may be
unreliable: verify in person" (:data:`campaign.officer_review.SUSPECT_NOTE_EN`).
"""

from __future__ import annotations

import pandas as pd

from campaign.officer_review import ReviewConfig, suspect_visit_ids
from features.build import build_features


def features_without_suspect_visits(
    visits: pd.DataFrame,
    incidents: pd.DataFrame,
    as_of_dates: list[pd.Timestamp],
    *,
    config: ReviewConfig | None = None,
    **kwargs: object,
) -> pd.DataFrame:
    """Feature frame of :func:`features.build.build_features` with suspect visits left out.

    Parameters
    ----------
    visits, incidents : DataFrame
        Canonical warehouse frames.
    as_of_dates : list of Timestamp
        As-of dates; the suspect visits are those flagged by the review at each date
        (point in time), so the frame is built one date at a time.
    config : ReviewConfig or None
        Officer-review parameters.
    **kwargs
        Passed to :func:`features.build.build_features` (``horizon_days``, ``with_labels``, ...).

    Returns
    -------
    DataFrame
        As :func:`features.build.build_features`, plus ``suspect_visits_excluded`` (bool:
        the household's row was built without its suspect visits) and ``suspect_only``
        (bool: every visit before t was suspect; the row keeps the features of all visits).
    """
    parts = []
    for t in as_of_dates:
        ids = suspect_visit_ids(visits, t, config)
        full = build_features(visits, incidents, [t], **kwargs)  # type: ignore[arg-type]
        if ids.empty:
            parts.append(full.assign(suspect_visits_excluded=False, suspect_only=False))
            continue
        clean = build_features(visits, incidents, [t], exclude_visit_ids=ids, **kwargs)  # type: ignore[arg-type]
        touched = set(visits.loc[visits["visit_id"].isin(set(ids)), "household_id"])
        lost = full[~full["household_id"].isin(set(clean["household_id"]))]
        clean = clean.assign(
            suspect_visits_excluded=clean["household_id"].isin(touched), suspect_only=False
        )
        lost = lost.assign(suspect_visits_excluded=False, suspect_only=True)
        both = pd.concat([clean, lost], ignore_index=True)
        for col in full.columns[full.dtypes.eq("category")]:
            both[col] = pd.Categorical(both[col], categories=full[col].cat.categories)
        parts.append(both.sort_values("household_id", kind="stable"))
    return pd.concat(parts, ignore_index=True)
