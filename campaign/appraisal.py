"""Monthly appraisal (月考评): rank units on a documented, configurable score.

Each component is a figure of :mod:`campaign.reports` turned into "higher is
better" and scaled to [0, 1] by its percentile rank among the units of the
level (ties share the mean rank), so that components in different units
(shares, counts per household, relative changes) can be added:

* ``coverage``: share of known households visited in the period;
* ``handled_rate``: 处置率 of the disputes found;
* ``overdue``: open disputes past their follow-up date per 100 households known
  (lower is better);
* ``escalation_change``: relative change of escalation incidents against the
  same period a year earlier (lower is better);
* ``suspect``: suspect visits per household visited (lower is better);
* ``list_adherence``: tasks issued in the period and completed (when tasks are
  known).

``score = 100 * sum(w_i * c_i) / sum(w_i)`` over the components a unit has
(a missing component, e.g. no escalations a year ago, drops out with its
weight).  Weights: :data:`DEFAULT_WEIGHTS`, replaceable by the caller.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from campaign.reports import ReportError

DEFAULT_WEIGHTS: Final[dict[str, float]] = {
    "coverage": 0.25,
    "handled_rate": 0.20,
    "overdue": 0.15,
    "escalation_change": 0.15,
    "suspect": 0.15,
    "list_adherence": 0.10,
}
#: Component -> (Chinese label, English label).
COMPONENT_LABELS: Final[dict[str, tuple[str, str]]] = {
    "coverage": ("走访覆盖", "coverage"),
    "handled_rate": ("纠纷处置", "disputes handled"),
    "overdue": ("按期回访", "follow-ups on time"),
    "escalation_change": ("警情同比", "escalations year on year"),
    "suspect": ("走访真实性", "visit records credible"),
    "list_adherence": ("清单执行", "list adherence"),
}


def _raw_components(units: pd.DataFrame) -> pd.DataFrame:
    """Each component's raw value, signed so that higher is better (Float64, may be NA)."""
    known = units["households_known"].astype("Float64")
    visited = units["households_visited"].astype("Float64")
    esc_prev = units["escalations_yoy"].astype("Float64")
    return pd.DataFrame(
        {
            "coverage": units["visited_share"].astype("Float64"),
            "handled_rate": units["handled_rate"].astype("Float64"),
            "overdue": -100 * units["overdue_followups"].astype("Float64") / known.where(known > 0),
            "escalation_change": -(units["escalations"].astype("Float64") - esc_prev)
            / esc_prev.where(esc_prev > 0),
            "suspect": -units["suspect_visits"].astype("Float64") / visited.where(visited > 0),
            "list_adherence": units["list_adherence"].astype("Float64"),
        },
        index=units.index,
    )


def appraise(units: pd.DataFrame, weights: dict[str, float] | None = None) -> pd.DataFrame:
    """Score and rank the units of one level.

    Parameters
    ----------
    units : DataFrame
        One level of a report (:func:`campaign.bulletin.build_report`): figures of the
        period and ``escalations_yoy``.
    weights : dict of str to float or None
        Component weights (default :data:`DEFAULT_WEIGHTS`); keys from
        :data:`COMPONENT_LABELS`.

    Returns
    -------
    DataFrame
        ``units`` plus ``c_<component>`` (Float64 in [0, 1], percentile among units, NA when
        the unit lacks the figure), ``score`` (float64, 0-100) and ``rank`` (int64, 1 best),
        sorted by rank.

    Raises
    ------
    ReportError
        If a weight names no component or all weights are 0.
    """
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(w) - set(COMPONENT_LABELS)
    if unknown or sum(w.values()) <= 0:
        raise ReportError(
            f"weights must be >= 0 over {sorted(COMPONENT_LABELS)!r} with a positive sum, got {w!r}"
        )
    raw = _raw_components(units)
    comps = raw.rank(pct=True, method="average").astype("Float64")
    out = units.copy()
    num = pd.Series(0.0, index=units.index)
    den = pd.Series(0.0, index=units.index)
    for name, weight in w.items():
        c = comps[name]
        out[f"c_{name}"] = c
        have = c.notna().to_numpy(dtype=bool)
        num = num + weight * c.fillna(0).astype("float64")
        den = den + weight * have
    out["score"] = (100 * num / den.where(den > 0)).fillna(0.0).astype("float64")
    out = out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", pd.Series(range(1, len(out) + 1), dtype="int64"))
    return out
