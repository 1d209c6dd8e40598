"""Pandera models of the canonical warehouse tables (the data contract as checks).

The models check a *parsed* frame (English codes, canonical dtypes, see
``docs/interfaces.md``); parsing failures themselves (an unparseable date, an
unknown label) are caught earlier by :mod:`warehouse.parsing`. Ingestion
validates lazily and sends every row with a failure case to quarantine.

Checks that depend on the moment of ingestion (a visit or incident may not lie
in the future) are added by :func:`visits_schema` / :func:`incidents_schema`.
"""

from __future__ import annotations

from typing import Annotated, Final

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from warehouse.contract import (
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    HOUSEHOLD_TYPES,
    INCIDENT_CATEGORIES,
    RESOLUTION_STATUSES,
    REVIEW_STATUSES,
    TIMEZONE,
)

#: Name of the check that rejects timestamps after the ingestion time.
NOT_IN_FUTURE: Final = "not in the future"

# Plausibility bounds. Values beyond them are typing errors (an extra digit, a
# household id typed into the wrong cell), not facts, so such rows are
# quarantined rather than fed to the features.
#: Most people an officer can meet in one household visit (走访人数). A rural household
#: rarely exceeds 10 members; 50 leaves room for a clan gathering and still catches
#: a typed 200 or 1001.
MAX_PERSONS_MET: Final = 50
#: Most people one dispute can involve (涉及人数). Group disputes over land or wages in a
#: village can reach a few hundred; above 500 is a typing error, not a dispute.
MAX_DISPUTE_PARTIES: Final = 500
#: Clock tolerance between an event and its entry into the system: ``recorded_at`` may
#: lie at most this much before ``visited_at``/``reported_at`` and ``reviewed_at`` at most
#: this much before ``recorded_at`` (officers' phones and station PCs disagree by minutes,
#: and hand-typed times are rounded); more is a record entered before it happened.
CLOCK_TOLERANCE: Final = pd.Timedelta(hours=1)

LocalTimestamp = Annotated[pd.DatetimeTZDtype, "ns", TIMEZONE]


class VisitsModel(pa.DataFrameModel):
    """Canonical ``visits`` table: one row per visit (DESIGN.md, "visits")."""

    visit_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    household_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    visited_at: Series[LocalTimestamp] = pa.Field(nullable=False)
    recorded_at: Series[LocalTimestamp] = pa.Field(nullable=False)
    officer_id: Series[str] = pa.Field(nullable=True)
    station: Series[str] = pa.Field(nullable=True)
    county: Series[str] = pa.Field(nullable=False)
    township: Series[str] = pa.Field(nullable=False)
    village: Series[str] = pa.Field(nullable=False)
    persons_met: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=MAX_PERSONS_MET)
    household_type: Series[str] = pa.Field(nullable=True, isin=list(HOUSEHOLD_TYPES))
    has_dispute: Series[pd.BooleanDtype] = pa.Field(nullable=False)
    dispute_type: Series[str] = pa.Field(nullable=True, isin=list(DISPUTE_TYPES))
    dispute_severity: Series[str] = pa.Field(nullable=True, isin=list(DISPUTE_SEVERITIES))
    dispute_parties: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=MAX_DISPUTE_PARTIES)
    risk_hazards: Series[str] = pa.Field(nullable=False)
    resolution_status: Series[str] = pa.Field(nullable=True, isin=list(RESOLUTION_STATUSES))
    mediation_agreement: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    followup_due: Series[LocalTimestamp] = pa.Field(nullable=True)
    review_status: Series[str] = pa.Field(nullable=False, isin=list(REVIEW_STATUSES))
    reviewed_at: Series[LocalTimestamp] = pa.Field(nullable=True)
    source_file: Series[str] = pa.Field(nullable=False)
    source_row: Series[int] = pa.Field(nullable=False, ge=1)

    class Config:
        strict = True
        coerce = False
        ordered = True


class IncidentsModel(pa.DataFrameModel):
    """Canonical ``incidents`` table: one row per police incident (DESIGN.md, "incidents")."""

    incident_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    household_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    reported_at: Series[LocalTimestamp] = pa.Field(nullable=False)
    recorded_at: Series[LocalTimestamp] = pa.Field(nullable=False)
    category: Series[str] = pa.Field(nullable=False, isin=list(INCIDENT_CATEGORIES))
    county: Series[str] = pa.Field(nullable=False)
    township: Series[str] = pa.Field(nullable=False)
    village: Series[str] = pa.Field(nullable=False)
    source_file: Series[str] = pa.Field(nullable=False)
    source_row: Series[int] = pa.Field(nullable=False, ge=1)

    class Config:
        strict = True
        coerce = False
        ordered = True


def _with_not_in_future(
    schema: pa.DataFrameSchema, column: str, now: pd.Timestamp | None
) -> pa.DataFrameSchema:
    if now is None:
        return schema
    checks = [*schema.columns[column].checks, pa.Check.le(now, error=NOT_IN_FUTURE)]
    return schema.update_column(column, checks=checks)


def visits_schema(now: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """Schema of the visits table, optionally rejecting visits after ``now``.

    Parameters
    ----------
    now : Timestamp or None
        Ingestion time (tz-aware); ``visited_at`` must not be later. ``None``
        skips the check (e.g. when re-validating a stored warehouse).

    Returns
    -------
    pandera.DataFrameSchema
    """
    return _with_not_in_future(VisitsModel.to_schema(), "visited_at", now)


def incidents_schema(now: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """Schema of the incidents table, optionally rejecting incidents reported after ``now``.

    Parameters
    ----------
    now : Timestamp or None
        Ingestion time (tz-aware); ``reported_at`` must not be later.

    Returns
    -------
    pandera.DataFrameSchema
    """
    return _with_not_in_future(IncidentsModel.to_schema(), "reported_at", now)
