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


def _reference(
    attribute: str,
    sizes: pd.Series,
    reference_groups: Mapping[str, Any] | str | None,
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
        # largest group; ties go to the first in sorted group order (deterministic)
        return sizes.sort_index(kind="stable").idxmax()
    if choice not in sizes.index:
        raise AuditInputError(
            f"reference group {choice!r} of {attribute!r} not found; groups are "
            f"{sorted(map(str, sizes.index))!r:.300}"
        )
    return choice


def bias_audit(
    frame: pd.DataFrame,
    *,
    label_col: str,
    selected_col: str,
    attribute_cols: Sequence[str],
    reference_groups: Mapping[str, Any] | str | None = None,
    score_col: str | None = None,
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
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
        group (ties: first in sorted order). A mapping may name some attributes
        only; the others use the largest group.
    score_col : str, optional
        Score column; adds ``mean_score`` per group (same unit as the score).
    tolerance : (float, float), default (0.8, 1.25)
        Disparities inside this closed band are not flagged.

    Returns
    -------
    DataFrame
        One row per (attribute, group), ordered by attribute (as given) then
        group size descending: ``attribute`` (str), ``group`` (str),
        ``reference_group`` (str), ``is_reference`` (bool), ``group_size``,
        ``n_positive``, ``n_selected``, ``tp``, ``fp``, ``fn``, ``tn`` (int64),
        ``group_share`` (share of all rows), then for each rate of
        :data:`RATES` the rate (float64 probability), ``<rate>_disparity``
        (float64 ratio) and ``<rate>_flag`` (``boolean``, ``<NA>`` where the
        disparity is undefined); ``mean_score`` with ``score_col``.

    Raises
    ------
    AuditInputError
        Missing columns, missing or non-binary label/selection values, unknown
        reference group, bad tolerance.
    """
    low, high = tolerance
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
        ref = _reference(attribute, out["group_size"], reference_groups)
        for rate in RATES:
            values = out[rate].to_numpy(dtype=np.float64)
            ref_value = float(out.loc[ref, rate])
            if np.isfinite(ref_value) and ref_value > 0:
                disparity = values / ref_value
            else:
                disparity = np.full(values.shape, np.nan)
            out[f"{rate}_disparity"] = disparity
            flag = pd.array((disparity < low) | (disparity > high), dtype="boolean")
            flag[~np.isfinite(disparity)] = pd.NA
            out[f"{rate}_flag"] = flag
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
        logger.info(
            "bias audit of %r: %d groups, reference %r, %d flagged disparities",
            attribute,
            len(out),
            str(ref),
            n_flags,
        )
    result = pd.concat(parts, ignore_index=True)
    order = ["attribute", "group", "reference_group", "is_reference"]
    return result[order + [c for c in result.columns if c not in order]]
