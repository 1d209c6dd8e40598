"""Reason codes: a household's top feature contributions turned into text.

The contributions are LightGBM's per-feature contributions to the raw score
(``Booster.predict(..., pred_contrib=True)``, i.e. TreeSHAP values in log-odds
units of the *uncalibrated* booster; Lundberg et al. 2020, "From local
explanations to global understanding with explainable AI for trees"). The
calibrator is a monotone map of the raw score, so the features that push the
raw score up are the ones that push the calibrated probability up.

Texts come from the feature catalogue (``features.catalogue.FEATURES[name]``,
templates ``reason_en`` / ``reason_zh`` formatted with ``value``, and
``reason_en_one`` when the shown value is 1); a feature that is not in the
catalogue, or whose template cannot be formatted with the value, gets the
generic text ``"{feature} = {value}"`` in both languages.

Which features may be reasons is declared in the catalogue too
(``FeatureSpec.reason``, ``reason_min``, ``reason_max``; the rule is in the
docstring of ``features.catalogue``): :func:`top_reasons` takes the ``top_k``
largest positive contributions among the eligible features only. The model
itself still uses every feature.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from warehouse import contract

logger = logging.getLogger(__name__)

#: Absolute values below this are treated as zero when deciding whether a
#: value reads well in a reason ("0 unresolved disputes" does not).
ZERO_TOLERANCE = 1e-9

# Category code -> Simplified Chinese label, for every vocabulary of the contract.
_ZH_LABEL_VOCABULARIES = (
    contract.HOUSEHOLD_TYPES,
    contract.DISPUTE_TYPES,
    contract.DISPUTE_SEVERITIES,
    contract.RISK_HAZARDS,
    contract.RESOLUTION_STATUSES,
    contract.INCIDENT_CATEGORIES,
)


@dataclass(frozen=True)
class Reason:
    """One reason why a household ranks high.

    Parameters
    ----------
    code : str
        Stable reason code: the catalogue's ``code`` when it declares one, else
        the feature name upper-cased (e.g. ``"DISPUTES_90D_UNRESOLVED"``).
    feature : str
        Feature column name.
    value : float or str
        The household's value of the feature (float for numeric features, in
        the feature's unit; the category label for category features).
    contribution : float
        Contribution to the booster's raw score, in log-odds units (> 0).
    text_en, text_zh : str
        Reason text in English and Simplified Chinese.
    """

    code: str
    feature: str
    value: float | str
    contribution: float
    text_en: str
    text_zh: str

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (JSON-serialisable)."""
        return asdict(self)


def load_catalogue() -> Mapping[str, Any]:
    """The feature catalogue, or an empty mapping when it cannot be imported.

    Imported lazily (never at import time of this module) because
    ``features/catalogue.py`` is optional for the model: without it every
    reason gets the generic text.

    Returns
    -------
    Mapping of str to FeatureSpec
        ``features.catalogue.FEATURES``, or ``{}``.
    """
    try:
        from features.catalogue import FEATURES
    except ImportError as err:
        logger.warning("feature catalogue not importable (%s); reasons use generic texts", err)
        return {}
    return FEATURES


def zh_label(value: str) -> str:
    """Simplified Chinese label of a contract category code, else the value itself."""
    for vocabulary in _ZH_LABEL_VOCABULARIES:
        if value in vocabulary:
            return vocabulary[value][0]
    return value


def reads_badly(value: object) -> bool:
    """Whether a feature value would make a misleading reason text.

    Missing values (``None``, NaN) and numeric zeros ("0 incidents in the last
    90 days") are not shown as reasons even when their contribution is
    positive: the *absence* of a record is not something an officer can act on.

    Parameters
    ----------
    value : float, str or None
        Feature value of one household.

    Returns
    -------
    bool
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isnan(number) or abs(number) < ZERO_TOLERANCE


def is_eligible(spec: Any, value: object) -> bool:
    """Whether a feature's value may be shown to an officer as a reason.

    Parameters
    ----------
    spec : FeatureSpec or None
        The feature's catalogue entry (``None``: not in the catalogue).
    value : float, str or None
        The household's value of the feature.

    Returns
    -------
    bool
        False when the value is missing; when the catalogue marks the feature
        ``reason=False``; when a numeric value lies outside
        ``[reason_min, reason_max]``; and when the value is zero (see
        :func:`reads_badly`) unless the catalogue declares a ``reason_min``
        (then the bounds alone decide, e.g. "0% of disputes resolved").
    """
    if spec is not None and not getattr(spec, "reason", True):
        return False
    if value is None or isinstance(value, str):
        return not reads_badly(value)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    low = getattr(spec, "reason_min", None)
    high = getattr(spec, "reason_max", None)
    if math.isnan(number) or (low is None and reads_badly(number)):
        return False
    if low is not None and number < low:
        return False
    return high is None or number <= high


def en_label(value: str) -> str:
    """English label of a category code: underscores become spaces (``"living alone"``)."""
    return value.replace("_", " ")


def _format(template: str | None, value: float | str, fallback: str) -> str:
    if not template:
        return fallback
    try:
        return template.format(value=value)
    except (KeyError, IndexError, ValueError, TypeError):
        # e.g. "{value:g}" given a category label: fall back rather than fail.
        return fallback


def make_reason(
    feature: str,
    value: float | str,
    contribution: float,
    catalogue: Mapping[str, Any],
) -> Reason:
    """Build the :class:`Reason` of one feature of one household.

    Parameters
    ----------
    feature : str
        Feature column name.
    value : float or str
        The household's value (category label for category features).
    contribution : float
        Contribution in log-odds units.
    catalogue : Mapping of str to FeatureSpec
        Usually :func:`load_catalogue`.

    Returns
    -------
    Reason
    """
    spec = catalogue.get(feature)
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    value_zh: float | str = zh_label(value) if isinstance(value, str) else value
    shown_zh = f"{value_zh:g}" if isinstance(value_zh, float) else str(value_zh)
    generic_en = f"{feature} = {shown}"
    generic_zh = f"{feature} = {shown_zh}"
    code = getattr(spec, "code", None) or feature.upper()
    # Text values: whole calendar days (rounded up) for days before the as-of
    # midnight, English labels for category codes; Reason.value stays as given.
    text_value: float | str = value
    if isinstance(value, str):
        text_value = en_label(value)
    elif getattr(spec, "whole_days", False) and math.isfinite(value):
        text_value = float(math.ceil(value))
    if not isinstance(value_zh, str):
        value_zh = text_value
    template_en = getattr(spec, "reason_en", None)
    if getattr(spec, "reason_en_one", None) and text_value == 1.0:
        template_en = spec.reason_en_one  # type: ignore[union-attr]
    return Reason(
        code=str(code),
        feature=feature,
        value=value,
        contribution=float(contribution),
        text_en=_format(template_en, text_value, generic_en),
        text_zh=_format(getattr(spec, "reason_zh", None), value_zh, generic_zh),
    )


def top_reasons(
    contributions: np.ndarray,
    values: list[list[float | str | None]],
    feature_names: list[str],
    top_k: int,
    catalogue: Mapping[str, Any] | None = None,
) -> list[list[Reason]]:
    """Pick each row's ``top_k`` largest positive contributions among eligible features.

    A feature is eligible when :func:`is_eligible` accepts its catalogue entry
    and value (features not in the catalogue: when the value is neither missing
    nor zero).

    Parameters
    ----------
    contributions : ndarray of shape (n_rows, n_features) or (n_rows, n_features + 1)
        Per-feature contributions in log-odds units, columns in the order of
        ``feature_names`` (LightGBM's trailing bias column is ignored).
    values : list of n_rows lists of n_features values
        Feature values as shown (float, category label, or None when missing).
    feature_names : list of str
        Feature names, length n_features.
    top_k : int
        Maximum number of reasons per row (>= 0); fewer when fewer eligible
        features have a positive contribution.
    catalogue : Mapping, optional
        Feature catalogue; :func:`load_catalogue` when omitted.

    Returns
    -------
    list of n_rows lists of Reason
        Sorted by decreasing contribution. Ties are broken by feature order,
        so the output is deterministic.
    """
    if catalogue is None:
        catalogue = load_catalogue()
    n_features = len(feature_names)
    contributions = np.asarray(contributions, dtype=np.float64)[:, :n_features]
    out: list[list[Reason]] = []
    for row, row_values in zip(contributions, values, strict=True):
        order = np.argsort(-row, kind="stable")
        reasons: list[Reason] = []
        for j in order:
            if len(reasons) >= top_k or row[j] <= 0.0:
                break
            value = row_values[j]
            if value is None or not is_eligible(catalogue.get(feature_names[j]), value):
                continue
            reasons.append(make_reason(feature_names[j], value, float(row[j]), catalogue))
        out.append(reasons)
    return out
