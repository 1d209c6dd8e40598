"""Group bias audit of a selection (who is put on the revisit list), in the manner of Aequitas.

For each audited attribute (county, township, or an audit-only attribute a
deployment declares, such as ethnicity) and each of its groups, the audit
reports the confusion-matrix rates of the selection and their ratio to a
reference group (Saleiro et al. 2018, "Aequitas: A Bias and Fairness Audit
Toolkit", arXiv:1811.05577):

* ``base_rate`` = P(label = 1 | group) (prevalence),
* ``selection_rate`` = P(selected | group) (predicted positive rate),
* ``precision`` = P(label = 1 | selected, group) (PPV),
* ``fpr`` = P(selected | label = 0, group),
* ``fnr`` = P(not selected | label = 1, group),

each with ``<rate>_disparity`` = rate of the group / rate of the reference
group, and ``<rate>_flag`` = disparity outside the tolerance band (default
[0.8, 1.25], the "four-fifths rule" and its inverse, as Aequitas). A rate that
is undefined (no row in its denominator) or a reference rate of 0 gives a
``nan`` disparity and a missing (``<NA>``) flag: nothing can be judged.

Small groups are not judged either. Each rate has a support, the size of its
denominator (rows for ``base_rate`` and ``selection_rate``, selected rows for
``precision``, negatives for ``fpr``, positives for ``fnr``), reported as
``<rate>_support``. A flag is set only when both the group's and the reference
group's support reach the minimum of :data:`DEFAULT_MIN_SUPPORT` (10 positives,
10 selected, 30 negatives, 30 rows; the ``min_support`` option changes them);
otherwise it is ``<NA>`` and ``<rate>_flag_reason`` says why, e.g. "too few
positives (3)". A ratio of two rates measured on 3 positives each is noise, not
a disparity.

The default ("majority") reference group of an attribute is the largest group
whose every rate is defined and above 0 (at least one true positive, one false
positive and one false negative) and whose supports reach the minimums; if no
group reaches the minimums, the largest group with every rate above 0; if none,
the largest group. Ties go to the first group in sorted order. The largest group
alone may have no positive at all (a township with no escalation in the test
weeks), which would leave every ratio undefined.

Missing attribute values form their own group, ``"(missing)"``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Disparity ratios inside this closed band are not flagged (Aequitas' default).
DEFAULT_TOLERANCE: tuple[float, float] = (0.8, 1.25)
#: Group label of rows whose attribute value is missing.
MISSING_GROUP = "(missing)"
#: Rates compared between groups, in output order.
RATES: tuple[str, ...] = ("base_rate", "selection_rate", "precision", "fpr", "fnr")
#: Denominator of each rate: what its support counts.
SUPPORT_OF: dict[str, str] = {
    "base_rate": "rows",
    "selection_rate": "rows",
    "precision": "selected",
    "fpr": "negatives",
    "fnr": "positives",
}
#: Least support (group and reference group) for a disparity to be flagged or cleared.
DEFAULT_MIN_SUPPORT: dict[str, int] = {"rows": 30, "positives": 10, "negatives": 30, "selected": 10}


class AuditInputError(ValueError):
    """The frame or options given to the bias audit are not usable."""


def _binary(frame: pd.DataFrame, col: str, what: str) -> np.ndarray:
    if col not in frame.columns:
        raise AuditInputError(
            f"{what} column {col!r} not in the frame; columns are {list(frame.columns)!r:.300}"
        )
    values = frame[col]
    if values.isna().any():
        raise AuditInputError(
            f"{what} column {col!r} must not be missing; got {int(values.isna().sum())} missing"
        )
    try:
        arr = values.astype("float64").to_numpy()
    except (TypeError, ValueError) as err:
        raise AuditInputError(
            f"{what} column {col!r} must be 0/1 or bool, got {values.dtype!r}"
        ) from err
    bad = (arr != 0.0) & (arr != 1.0)
    if bad.any():
        raise AuditInputError(
            f"{what} column {col!r} must hold 0/1 or bool, got values {np.unique(arr[bad])[:5]!r}"
        )
    return arr.astype(bool)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """Elementwise num / den, ``nan`` where den is 0."""
    n, d = num.astype("float64"), den.astype("float64")
    return (n / d.where(d > 0)).astype("float64")


def _min_support(min_support: Mapping[str, int] | None) -> dict[str, int]:
    """:data:`DEFAULT_MIN_SUPPORT` updated with ``min_support``; checks keys and values."""
    given = dict(min_support or {})
    unknown = set(given) - set(DEFAULT_MIN_SUPPORT)
    if unknown:
        raise AuditInputError(
            f"min_support keys must be among {sorted(DEFAULT_MIN_SUPPORT)!r}, "
            f"got {sorted(unknown)!r}"
        )
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise AuditInputError(
                f"min_support[{key!r}] must be a whole number >= 0, got {value!r}"
            )
    return {**DEFAULT_MIN_SUPPORT, **{k: int(v) for k, v in given.items()}}


def _supports(table: pd.DataFrame) -> dict[str, pd.Series]:
    """Support counts per kind (rows, positives, negatives, selected), one value per group."""
    return {
        "rows": table["group_size"],
        "positives": table["n_positive"],
        "negatives": table["fp"] + table["tn"],
        "selected": table["n_selected"],
    }


def _majority(table: pd.DataFrame, minimum: Mapping[str, int]) -> Any:
    """The default reference group (rule in the module docstring)."""
    ordered = table.sort_index(kind="stable").sort_values(
        "group_size", ascending=False, kind="stable"
    )
    all_above_zero = (ordered["tp"] > 0) & (ordered["fp"] > 0) & (ordered["fn"] > 0)
    supported = all_above_zero.copy()
    for kind, counts in _supports(ordered).items():
        supported &= counts >= minimum[kind]
    for tier, mask in (("supported", supported), ("every rate above 0", all_above_zero)):
        if mask.any():
            if tier != "supported":
                logger.warning(
                    "no group reaches the minimum support %r: reference is the largest group "
                    "with every rate above 0",
                    dict(minimum),
                )
            return ordered.index[mask.to_numpy()][0]
    logger.warning("no group has every rate above 0: reference is the largest group")
    return ordered.index[0]


def _reference(
    attribute: str,
    table: pd.DataFrame,
    reference_groups: Mapping[str, Any] | str | None,
    minimum: Mapping[str, int],
) -> Any:
    choice: Any = "majority"
    if isinstance(reference_groups, Mapping):
        choice = reference_groups.get(attribute, "majority")
    elif reference_groups is not None and reference_groups != "majority":
        raise AuditInputError(
            f"reference_groups must be 'majority' or a mapping attribute -> group, "
            f"got {reference_groups!r}"
        )
    if choice == "majority":
        return _majority(table, minimum)
    if choice not in table.index:
        raise AuditInputError(
            f"reference group {choice!r} of {attribute!r} not found; groups are "
            f"{sorted(map(str, table.index))!r:.300}"
        )
    return choice


def _flags(
    out: pd.DataFrame,
    ref: Any,
    rate: str,
    minimum: Mapping[str, int],
    tolerance: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, pd.Series, pd.Series]:
    """Support, disparity, flag and flag reason of one rate for every group."""
    low, high = tolerance
    kind = SUPPORT_OF[rate]
    support = _supports(out)[kind].to_numpy(dtype=np.int64)
    ref_support = int(support[out.index.get_loc(ref)])
    values = out[rate].to_numpy(dtype=np.float64)
    ref_value = float(out.loc[ref, rate])
    if np.isfinite(ref_value) and ref_value > 0:
        disparity = values / ref_value
    else:
        disparity = np.full(values.shape, np.nan)
    reasons = np.full(values.shape, None, dtype=object)
    if not np.isfinite(ref_value):
        reasons[:] = f"reference rate undefined (no {kind})"
    elif ref_value == 0:
        reasons[:] = "reference rate is 0"
    elif ref_support < minimum[kind]:
        reasons[:] = f"reference group has too few {kind} ({ref_support})"
    few = support < max(minimum[kind], 1)
    reasons[few] = [f"too few {kind} ({n})" for n in support[few]]
    judged = np.array([r is None for r in reasons]) & np.isfinite(disparity)
    flag = pd.array((disparity < low) | (disparity > high), dtype="boolean")
    flag[~judged] = pd.NA
    reason = pd.Series(reasons, index=out.index, dtype="str")
    return support, disparity, pd.Series(flag, index=out.index), reason


def bias_audit(
    frame: pd.DataFrame,
    *,
    label_col: str,
    selected_col: str,
    attribute_cols: Sequence[str],
    reference_groups: Mapping[str, Any] | str | None = None,
    score_col: str | None = None,
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
    min_support: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Per-group rates of a selection and their disparity against a reference group.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, ...)
        One row per scored unit (household at an as-of date), labels observed.
    label_col : str
        Outcome column, 0/1 or bool, no missing values.
    selected_col : str
        Selection column, bool (or 0/1): the row is on the list (predicted positive).
    attribute_cols : sequence of str
        Attributes to audit (e.g. ``["county", "township"]``); never model features.
    reference_groups : 'majority', mapping of str to value, or None
        Reference group per attribute; ``None`` or ``'majority'``: the largest
        group with every rate above 0 and enough support (rule in the module
        docstring). A mapping may name some attributes only; the others use
        the majority rule. A named group is used even when its support is
        small; its flags are then ``<NA>``.
    score_col : str, optional
        Score column; adds ``mean_score`` per group (same unit as the score).
    tolerance : (float, float), default (0.8, 1.25)
        Disparities inside this closed band are not flagged.
    min_support : mapping of str to int, optional
        Least support for a flag, per kind: ``"rows"``, ``"positives"``,
        ``"negatives"``, ``"selected"``; kinds not given keep
        :data:`DEFAULT_MIN_SUPPORT`. Both the group and the reference group
        must reach it; 0 disables the check (an empty denominator is never judged).

    Returns
    -------
    DataFrame
        One row per (attribute, group), ordered by attribute (as given) then
        group size descending: ``attribute`` (str), ``group`` (str),
        ``reference_group`` (str), ``is_reference`` (bool), ``group_size``,
        ``n_positive``, ``n_selected``, ``tp``, ``fp``, ``fn``, ``tn`` (int64),
        ``group_share`` (share of all rows), then for each rate of
        :data:`RATES` the rate (float64 probability), ``<rate>_support``
        (int64, the rate's denominator), ``<rate>_disparity`` (float64 ratio,
        computed whatever the support), ``<rate>_flag`` (``boolean``, ``<NA>``
        where the disparity is undefined or the support too small) and
        ``<rate>_flag_reason`` (str, why the flag is ``<NA>``; missing where it
        is set); ``mean_score`` with ``score_col``.

    Raises
    ------
    AuditInputError
        Missing columns, missing or non-binary label/selection values, unknown
        reference group, bad tolerance or minimum support.
    """
    low, high = tolerance
    minimum = _min_support(min_support)
    if not 0.0 < low <= 1.0 <= high:
        raise AuditInputError(f"tolerance must satisfy 0 < low <= 1 <= high, got {tolerance!r}")
    if isinstance(attribute_cols, str) or not attribute_cols:
        raise AuditInputError(
            f"attribute_cols must be a non-empty sequence of column names, got {attribute_cols!r}"
        )
    y = _binary(frame, label_col, "label")
    sel = _binary(frame, selected_col, "selected")
    score = None
    if score_col is not None:
        if score_col not in frame.columns:
            raise AuditInputError(f"score column {score_col!r} not in the frame")
        score = frame[score_col].astype("float64").to_numpy()
    n_total = len(frame)
    parts = []
    for attribute in attribute_cols:
        if attribute not in frame.columns:
            raise AuditInputError(
                f"attribute column {attribute!r} not in the frame; "
                f"columns are {list(frame.columns)!r:.300}"
            )
        groups = frame[attribute].astype("object").where(frame[attribute].notna(), MISSING_GROUP)
        cells = pd.DataFrame(
            {
                "group": groups.astype("str").to_numpy(),
                "tp": sel & y,
                "fp": sel & ~y,
                "fn": ~sel & y,
                "tn": ~sel & ~y,
            }
        )
        if score is not None:
            cells["score"] = score
        agg = cells.groupby("group", sort=True).agg(
            tp=("tp", "sum"), fp=("fp", "sum"), fn=("fn", "sum"), tn=("tn", "sum")
        )
        agg = agg.astype("int64")
        out = pd.DataFrame(index=agg.index)
        out["group_size"] = agg.sum(axis=1)
        out["n_positive"] = agg["tp"] + agg["fn"]
        out["n_selected"] = agg["tp"] + agg["fp"]
        out[["tp", "fp", "fn", "tn"]] = agg
        out["group_share"] = out["group_size"] / n_total
        out["base_rate"] = _ratio(out["n_positive"], out["group_size"])
        out["selection_rate"] = _ratio(out["n_selected"], out["group_size"])
        out["precision"] = _ratio(agg["tp"], out["n_selected"])
        out["fpr"] = _ratio(agg["fp"], agg["fp"] + agg["tn"])
        out["fnr"] = _ratio(agg["fn"], out["n_positive"])
        ref = _reference(attribute, out, reference_groups, minimum)
        rate_columns: dict[str, Any] = {}
        for rate in RATES:
            support, disparity, flag, reason = _flags(out, ref, rate, minimum, (low, high))
            rate_columns[f"{rate}_support"] = support
            rate_columns[f"{rate}_disparity"] = disparity
            rate_columns[f"{rate}_flag"] = flag
            rate_columns[f"{rate}_flag_reason"] = reason
        out = out.assign(**rate_columns)
        if score is not None:
            out["mean_score"] = cells.groupby("group", sort=True)["score"].mean()
        out.insert(0, "is_reference", out.index == ref)
        out.insert(0, "reference_group", str(ref))
        out.insert(0, "attribute", attribute)
        out = out.rename_axis("group").reset_index()
        out = out.sort_values(["group_size", "group"], ascending=[False, True], kind="stable")
        parts.append(out)
        n_flags = int(
            sum(out[f"{rate}_flag"].fillna(False).sum() for rate in RATES if rate != "base_rate")
        )
        n_unjudged = int(
            sum(out[f"{rate}_flag"].isna().sum() for rate in RATES if rate != "base_rate")
        )
        logger.info(
            "bias audit of %r: %d groups, reference %r, %d flagged disparities, "
            "%d not judged (undefined or too little support)",
            attribute,
            len(out),
            str(ref),
            n_flags,
            n_unjudged,
        )
    result = pd.concat(parts, ignore_index=True)
    order = ["attribute", "group", "reference_group", "is_reference"]
    return result[order + [c for c in result.columns if c not in order]]
