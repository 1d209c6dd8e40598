"""Declarative feature specification (Feast / DSSG-triage style).

Each feature is declared as data — family, source table, window, metric, dtype,
a sentence of meaning, and reason templates in English and Chinese — and the
feature job generates the columns from these declarations. ``models/`` reads
this module (and only this one from ``features/``) to name reasons.

Names follow ``{family}_{window}_{metric}`` in ASCII, where ``window`` is
``30d``, ``90d``, ``365d`` or ``all``; windows are half-open ``[t - w, t)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    """Declaration of one generated feature column.

    Parameters
    ----------
    name : str
        Column name, ``{family}_{window}_{metric}``, ASCII only.
    family : str
        Feature family (``visits``, ``disputes``, ``hazards``, ``incidents``,
        ``context``, ``quality``).
    source : str
        Warehouse table it is computed from (``visits`` or ``incidents``).
    window : str
        ``30d``, ``90d``, ``365d`` or ``all``; the window is ``[t - w, t)``.
    metric : str
        What is aggregated (``count``, ``days_since_last``, ``share_nobody_met`` …).
    dtype : str
        ``float`` (counts, shares, days: missing stays NaN) or ``category``.
    description : str
        One sentence of meaning, with the unit (days, count, share in [0, 1]).
    reason_en, reason_zh : str
        Reason templates shown to officers, formatted with ``value`` (the
        household's feature value), e.g. ``"{value:g} unresolved disputes"``.
        Chinese has no plural, so one template serves every value.
    reason_en_one : str or None, default None
        English template used when the shown value is exactly 1 (singular,
        e.g. ``"1 prior escalation on record"``); ``None``: ``reason_en``
        always.
    reason : bool, default True
        Whether the feature may be shown to an officer as a reason. The model
        uses every feature; explanations skip the features marked ``False``
        (see the eligibility rule in ``features.catalogue``).
    reason_min, reason_max : float or None, default None
        The feature is shown as a reason only when ``reason_min <= value <=
        reason_max`` (each bound in the feature's unit; ``None``: unbounded).
    whole_days : bool, default False
        The value is a number of days before the as-of date (local midnight,
        Asia/Shanghai); reasons show it as whole calendar days, rounded up
        (an event 0.3 days before the as-of midnight happened yesterday:
        "1 day ago").
    """

    name: str
    family: str
    source: str
    window: str
    metric: str
    dtype: str
    description: str
    reason_en: str
    reason_zh: str
    reason_en_one: str | None = None
    reason: bool = True
    reason_min: float | None = None
    reason_max: float | None = None
    whole_days: bool = False
