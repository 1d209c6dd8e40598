"""Who is responsible (包保) for a listed household.

Rule: the roster's officer of the household's village when a roster is given and
names one; otherwise the officer who made the most approved visits to the household
in the year before the as-of date (ties: the most recent of them), counting only
visits known (``recorded_at``) before the as-of date; otherwise nobody (``None``).
"""

from __future__ import annotations

import pandas as pd

#: Days of visit history that decide the most-visiting officer.
OFFICER_LOOKBACK_DAYS = 365


def responsible_officers(
    households: pd.DataFrame,
    visits: pd.DataFrame,
    as_of: pd.Timestamp,
    roster: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The responsible officer of each household and where the answer came from.

    Parameters
    ----------
    households : DataFrame of shape (n, ≥ 4)
        ``household_id, county, township, village`` (str).
    visits : DataFrame
        Canonical visits (``household_id, officer_id, visited_at, recorded_at,
        review_status``; times ``datetime64[ns, Asia/Shanghai]``).
    as_of : Timestamp
        Local midnight (Asia/Shanghai) of the publication.
    roster : DataFrame or None
        ``officer_id, county, township, village``.

    Returns
    -------
    DataFrame of shape (n, 3)
        ``household_id``, ``officer_id`` (str or None) and ``officer_source``
        (``roster``, ``visits`` or ``none``), in the order of ``households``.
    """
    out = households[["household_id", "county", "township", "village"]].copy()
    out["officer_id"] = None
    out["officer_source"] = "none"
    if roster is not None and len(roster):
        keyed = out.merge(
            roster[["officer_id", "county", "township", "village"]].rename(
                columns={"officer_id": "_roster"}
            ),
            on=["county", "township", "village"],
            how="left",
        )
        hit = keyed["_roster"].notna().to_numpy()
        out.loc[hit, "officer_id"] = keyed.loc[hit, "_roster"].to_numpy()
        out.loc[hit, "officer_source"] = "roster"
    need = out["officer_id"].isna().to_numpy()
    if need.any() and len(visits):
        start = as_of - pd.Timedelta(days=OFFICER_LOOKBACK_DAYS)
        v = visits[
            visits["household_id"].isin(out.loc[need, "household_id"])
            & (visits["review_status"] == "approved")
            & (visits["recorded_at"] < as_of)
            & (visits["visited_at"] >= start)
            & visits["officer_id"].notna()
        ]
        if len(v):
            stats = (
                v.groupby(["household_id", "officer_id"], observed=True)["visited_at"]
                .agg(["size", "max"])
                .reset_index()
                .sort_values(
                    ["household_id", "size", "max", "officer_id"],
                    ascending=[True, False, False, True],
                )
                .drop_duplicates("household_id")
                .set_index("household_id")["officer_id"]
            )
            found = out["household_id"].map(stats)
            fill = need & found.notna().to_numpy()
            out.loc[fill, "officer_id"] = found[fill].to_numpy()
            out.loc[fill, "officer_source"] = "visits"
    return out[["household_id", "officer_id", "officer_source"]].reset_index(drop=True)
