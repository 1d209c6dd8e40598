"""Preparing the warehouse tables for the point-in-time feature job (:mod:`features.build`).

The visits and incidents are checked for the columns the job needs, turned into
integer codes and nanosecond times, sorted by household and knowledge time, and
each record version is given the time a later version superseded it (a version
counts at t only while it is the latest known before t). Split from
:mod:`features.build`, which computes the features from these arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.episodes import DISPUTE_CALL_CATEGORIES
from warehouse.contract import (
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    HAZARD_SEPARATOR,
    HOUSEHOLD_TYPES,
    INCIDENT_CATEGORIES,
    JURISDICTION_COLUMNS,
    RISK_HAZARDS,
    TABLE_INCIDENTS,
    TABLE_VISITS,
    TIMEZONE,
)

logger = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max
_NAN = np.nan

VISIT_COLUMNS_NEEDED: tuple[str, ...] = (
    "visit_id", "household_id", "visited_at", "recorded_at", "county", "township", "village",
    "persons_met", "household_type", "has_dispute", "dispute_type", "dispute_severity",
    "risk_hazards", "resolution_status", "mediation_agreement", "review_status", "reviewed_at",
)  # fmt: skip
INCIDENT_COLUMNS_NEEDED: tuple[str, ...] = (
    "incident_id", "household_id", "reported_at", "recorded_at", "category",
)  # fmt: skip

_TYPES = list(DISPUTE_TYPES)
_SEVERITIES = list(DISPUTE_SEVERITIES)
_HAZARDS = list(RISK_HAZARDS)
_HTYPES = list(HOUSEHOLD_TYPES)
_CATEGORIES = list(INCIDENT_CATEGORIES)
_OTHER_TYPE = _TYPES.index("other")
_DISPUTE_CALLS = np.array([_CATEGORIES.index(c) for c in DISPUTE_CALL_CATEGORIES], dtype=np.int64)


class FeatureBuildError(Exception):
    """The feature job could not run on the data it was given."""


class EmptyWarehouseError(FeatureBuildError):
    """The warehouse holds no visits (missing, or empty)."""


class MissingColumnsError(FeatureBuildError):
    """A canonical table lacks columns the feature job needs."""


# ---------------------------------------------------------------------------
# Normalisation: canonical frames -> sorted integer arrays
# ---------------------------------------------------------------------------


def _ns(series: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); missing -> ``_NAT``.

    Naive timestamps are local Asia/Shanghai time; aware ones are converted.
    """
    s = series
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s)
        if not isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(TIMEZONE)
    s = s.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("ns")
    values = s.to_numpy().view("int64").copy()
    values[s.isna().to_numpy()] = _NAT
    return values


def _codes(series: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """Position of each value in ``vocabulary``; ``-1`` for missing or unknown values."""
    return np.asarray(
        pd.Index(vocabulary).get_indexer(pd.Index(series.astype(object))), dtype=np.int64
    )


def _bool(series: pd.Series) -> np.ndarray:
    """A nullable boolean column as a plain bool array (missing -> False)."""
    return series.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _require(frame: pd.DataFrame, needed: Sequence[str], table: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MissingColumnsError(
            f"the {table} table must have the canonical columns {list(needed)!r}; "
            f"missing {missing!r}"
        )


@dataclass
class _Visits:
    """Visit arrays sorted by (household, visited_at, recorded_at, visit_id)."""

    hh: np.ndarray  # int64 household code
    vis: np.ndarray  # int64 ns
    rec: np.ndarray
    rev: np.ndarray  # _NAT when missing
    approved: np.ndarray  # bool
    rejected: np.ndarray  # bool
    persons: np.ndarray  # float64, NaN when missing
    dispute: np.ndarray  # bool
    dtype: np.ndarray  # int64 dispute type code, missing -> "other"
    severity: np.ndarray  # int64, -1 missing
    resolved: np.ndarray  # bool
    mediation: np.ndarray  # bool
    hazards: np.ndarray  # (n, 9) bool
    htype: np.ndarray  # int64, -1 missing
    village: np.ndarray  # int64 code of (county, township, village)
    township: np.ndarray  # int64 code of (county, township)
    dperm: np.ndarray  # positions of dispute rows sorted by (household, type), then time
    sup: np.ndarray  # int64 ns: recorded_at of the next version of the same visit (_NEVER)
    # for features.episodes: parties (float64, NaN unknown), followup_due (int64 ns, _NAT missing)
    parties: np.ndarray = field(default_factory=lambda: np.empty(0))
    followup: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    # int64: the row's position in the visits frame given (for per-date exclusions)
    row: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


@dataclass
class _Incidents:
    """Incident arrays sorted by (household, reported_at)."""

    hh: np.ndarray  # int64 household code, -1 when the household has no visit at all
    rep: np.ndarray
    rec: np.ndarray
    cat: np.ndarray  # int64 category code, -1 unknown
    esc: np.ndarray  # bool
    sup: np.ndarray  # int64 ns: recorded_at of the next version of the same incident (_NEVER)


def _hazard_matrix(series: pd.Series) -> np.ndarray:
    """Parse ``risk_hazards`` (codes joined by ``|``) into an (n, 9) bool matrix."""
    codes, uniques = pd.factorize(series)
    table = np.zeros((len(uniques) + 1, len(_HAZARDS)), dtype=bool)  # last row: missing
    for i, text in enumerate(uniques):
        present = {p.strip() for p in str(text).split(HAZARD_SEPARATOR)}
        table[i] = [h in present for h in _HAZARDS]
    return table[np.where(codes < 0, len(uniques), codes)]


def _sort_visits(
    hh: np.ndarray, vis: np.ndarray, rec: np.ndarray, visit_id: pd.Series
) -> np.ndarray:
    """Order by household, visited_at, recorded_at, then visit_id (ties are rare)."""
    order = np.lexsort((rec, vis, hh))
    if len(order) < 2:
        return order
    kh, kv, kr = hh[order], vis[order], rec[order]
    same = (kh[1:] == kh[:-1]) & (kv[1:] == kv[:-1]) & (kr[1:] == kr[:-1])
    if same.any():
        in_tie = np.zeros(len(order), dtype=bool)
        in_tie[1:] |= same
        in_tie[:-1] |= same
        pos = np.flatnonzero(in_tie)
        block = np.cumsum(np.r_[True, ~same])
        ids = visit_id.to_numpy(dtype=object)[order[pos]]
        sub = pd.DataFrame({"b": block[pos], "id": ids, "p": pos}).sort_values(
            ["b", "id"], kind="stable"
        )
        order[pos] = order[sub["p"].to_numpy()]
    return order


def _superseded_at(ids: pd.Series, rec: np.ndarray) -> np.ndarray:
    """Per row, the ``recorded_at`` (ns) of the next version of the same record; ``_NEVER`` if none.

    Versions of one id are ordered by ``recorded_at``, ties by row order (the
    warehouse stores a later-ingested version later). A version counts at ``t``
    iff ``rec < t <= superseded_at``.
    """
    codes = pd.factorize(ids.astype(str))[0]
    order = np.lexsort((np.arange(len(rec)), rec, codes))
    nxt = np.full(len(rec), _NEVER, dtype=np.int64)
    same = codes[order][1:] == codes[order][:-1]
    nxt[order[:-1][same]] = rec[order][1:][same]
    return nxt


def _prepare(
    visits: pd.DataFrame, incidents: pd.DataFrame, escalation_categories: Sequence[str]
) -> tuple[_Visits, _Incidents, np.ndarray, pd.DataFrame]:
    """Normalise both tables; return arrays, household ids and the geography table."""
    _require(visits, VISIT_COLUMNS_NEEDED, TABLE_VISITS)
    _require(incidents, INCIDENT_COLUMNS_NEEDED, TABLE_INCIDENTS)
    hh, households = pd.factorize(visits["household_id"].astype(str), sort=True)
    hh = hh.astype(np.int64)
    vis = _ns(visits["visited_at"])
    rec = _ns(visits["recorded_at"])
    rec = np.where(rec == _NAT, vis, rec)  # recorded_at defaults to visited_at
    order = _sort_visits(hh, vis, rec, visits["visit_id"])

    county = pd.factorize(visits["county"].astype(str))[0].astype(np.int64)
    township = pd.factorize(visits["township"].astype(str))[0].astype(np.int64)
    village = pd.factorize(visits["village"].astype(str))[0].astype(np.int64)
    t_code = pd.factorize(county * (township.max(initial=0) + 1) + township)[0].astype(np.int64)
    v_code, v_uniques = pd.factorize(t_code * (village.max(initial=0) + 1) + village)
    first_row = pd.Series(np.arange(len(v_code))).groupby(v_code).first().to_numpy()
    geo = pd.DataFrame(
        {c: visits[c].astype(str).to_numpy()[first_row] for c in JURISDICTION_COLUMNS}
    )
    geo["township_code"] = t_code[first_row]

    review = _codes(visits["review_status"], ["approved", "pending", "rejected"])
    dtype = _codes(visits["dispute_type"], _TYPES)
    v = _Visits(
        hh=hh[order],
        vis=vis[order],
        rec=rec[order],
        rev=_ns(visits["reviewed_at"])[order],
        approved=(review == 0)[order],
        rejected=(review == 2)[order],
        persons=visits["persons_met"].astype("Float64").to_numpy(dtype=float, na_value=_NAN)[order],
        dispute=_bool(visits["has_dispute"])[order],
        dtype=np.where(dtype < 0, _OTHER_TYPE, dtype)[order],
        severity=_codes(visits["dispute_severity"], _SEVERITIES)[order],
        resolved=(_codes(visits["resolution_status"], ["resolved"]) == 0)[order],
        mediation=_bool(visits["mediation_agreement"])[order],
        hazards=_hazard_matrix(visits["risk_hazards"])[order],
        htype=_codes(visits["household_type"], _HTYPES)[order],
        village=v_code.astype(np.int64)[order],
        township=t_code[order],
        dperm=np.empty(0, dtype=np.int64),
        sup=_superseded_at(visits["visit_id"], rec)[order],
    )
    v.parties, v.followup = _episode_columns(visits, order)
    v.row = order.astype(np.int64, copy=False)
    drows = np.flatnonzero(v.dispute)
    ident = v.hh[drows] * len(_TYPES) + v.dtype[drows]
    v.dperm = drows[np.argsort(ident, kind="stable")]

    ihh = np.asarray(pd.Index(households).get_indexer(incidents["household_id"].astype(str)))
    rep = _ns(incidents["reported_at"])
    irec = _ns(incidents["recorded_at"])
    irec = np.where(irec == _NAT, rep, irec)
    cat = _codes(incidents["category"], _CATEGORIES)
    esc = np.isin(incidents["category"].astype(str).to_numpy(), list(escalation_categories))
    iorder = np.lexsort((rep, ihh))
    inc = _Incidents(
        hh=ihh.astype(np.int64)[iorder], rep=rep[iorder], rec=irec[iorder],
        cat=cat[iorder], esc=esc[iorder],
        sup=_superseded_at(incidents["incident_id"], irec)[iorder],
    )  # fmt: skip
    return v, inc, np.asarray(households, dtype=object), geo


# ---------------------------------------------------------------------------
# Small aggregation helpers over arrays sorted by household
# ---------------------------------------------------------------------------


def _last_rows(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Of ``rows`` (ascending positions, grouped contiguously), the last one of each group."""
    if len(rows) == 0:
        return rows
    g = groups[rows]
    return rows[np.r_[g[1:] != g[:-1], True]]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), _NAN)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def _episode_columns(visits: pd.DataFrame, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dispute_parties`` (float64, NaN missing) and ``followup_due`` (ns) in visit order.

    Both columns are optional in a warehouse: a missing column reads as unknown.
    """
    n = len(visits)
    parties = (
        pd.to_numeric(visits["dispute_parties"], errors="coerce").astype("float64").to_numpy()
        if "dispute_parties" in visits.columns
        else np.full(n, _NAN)
    )
    due = _ns(visits["followup_due"]) if "followup_due" in visits.columns else np.full(n, _NAT)
    return parties[order], due[order]
