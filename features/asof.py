"""As-of dates and time-zone normalisation for the point-in-time feature job.

Every as-of date is a timezone-aware ``pd.Timestamp`` in Asia/Shanghai
(``warehouse.contract.TIMEZONE``). Dates given without a time zone are read as
local Asia/Shanghai time.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from warehouse.contract import TIMEZONE


class AsOfError(ValueError):
    """An as-of date (or window) could not be understood."""


def to_local(value: object) -> pd.Timestamp:
    """Read a date or timestamp as a timezone-aware Asia/Shanghai timestamp.

    Parameters
    ----------
    value : str, date, datetime or pd.Timestamp
        A naive value is taken as local Asia/Shanghai time; an aware value is
        converted to Asia/Shanghai.

    Returns
    -------
    pd.Timestamp
        Timezone-aware (Asia/Shanghai), nanosecond unit.

    Raises
    ------
    AsOfError
        When ``value`` is not a date or is missing.
    """
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise AsOfError(f"expected a date such as '2025-06-02', got {value!r}") from err
    if ts is pd.NaT or pd.isna(ts):
        raise AsOfError(f"expected a date, got a missing value {value!r}")
    ts = ts.tz_localize(TIMEZONE) if ts.tzinfo is None else ts.tz_convert(TIMEZONE)
    return ts.as_unit("ns")


def local_midnight(value: object) -> pd.Timestamp:
    """Local (Asia/Shanghai) midnight of the day of ``value``.

    Parameters
    ----------
    value : str, date, datetime or pd.Timestamp
        As for :func:`to_local`.

    Returns
    -------
    pd.Timestamp
        Asia/Shanghai midnight starting the local day of ``value``.
    """
    return to_local(value).normalize()


def normalise_as_of_dates(as_of_dates: object) -> list[pd.Timestamp]:
    """Turn one or many as-of values into sorted, unique Asia/Shanghai timestamps.

    Parameters
    ----------
    as_of_dates : date-like or iterable of date-likes
        A single value or a sequence; naive values are local time.

    Returns
    -------
    list of pd.Timestamp
        Sorted ascending, duplicates removed.

    Raises
    ------
    AsOfError
        When a value is not a date, or none is given.
    """
    if isinstance(as_of_dates, (str, bytes, pd.Timestamp, np.datetime64)) or not isinstance(
        as_of_dates, Iterable
    ):
        values: list[object] = [as_of_dates]
    else:
        values = list(as_of_dates)
    if not values:
        raise AsOfError("expected at least one as-of date, got none")
    return sorted({to_local(v) for v in values})


def weekly_as_of_dates(start: object, end: object) -> list[pd.Timestamp]:
    """Every Monday at local midnight (Asia/Shanghai) in ``[start, end]``.

    Parameters
    ----------
    start, end : date-like
        Inclusive bounds (naive values are local time).

    Returns
    -------
    list of pd.Timestamp
        Mondays 00:00 Asia/Shanghai, ascending; empty when none falls inside.

    Raises
    ------
    AsOfError
        When a bound is not a date.
    """
    lo, hi = to_local(start), to_local(end)
    first = lo.normalize()
    first = first + pd.Timedelta(days=(7 - first.weekday()) % 7)
    if first < lo:
        first = first + pd.Timedelta(days=7)
    out: list[pd.Timestamp] = []
    day = first
    while day <= hi:
        out.append(day)
        # Add calendar days in local time (Asia/Shanghai has no DST, but stay correct anyway).
        day = (day.tz_localize(None) + pd.Timedelta(days=7)).tz_localize(TIMEZONE)
    return out
