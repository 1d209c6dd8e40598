"""Bias audit of the per-township lists officers actually receive, per week and pooled.

The list is each township's top ``k`` (20) households of each as-of date by the
model's score. For every group of an attribute (county, township, an
audit-only attribute) and every scope (each test week, and all weeks pooled):

* support in distinct households: households in the group, households with an
  event, households on a list;
* rates: selection rate (rows on a list / rows), precision (events among rows
  on a list), recall (rows with an event that were on a list);
* each rate's ratio to the reference group's (the group with the most
  households), with a household-clustered bootstrap 95 % interval (households
  are resampled with all their rows, the same draws for every group);
* a flag only where the interval excludes parity (1.0): a disparity the data
  can distinguish from chance, never a ratio computed on a handful of rows.

Aggregates only: no household id leaves this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from training.reviewers import top_k_per_group
from warehouse.contract import LABEL_COLUMN

RATES: tuple[str, ...] = ("selection_rate", "precision", "recall")


def _rates(
    g: np.ndarray, n_groups: int, w: np.ndarray, sel: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """(3, n_groups) selection rate, precision, recall for row weights ``w``."""
    rows = np.bincount(g, weights=w, minlength=n_groups)
    chosen = np.bincount(g, weights=w * sel, minlength=n_groups)
    pos = np.bincount(g, weights=w * y, minlength=n_groups)
    tp = np.bincount(g, weights=w * sel * y, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.vstack([chosen / rows, tp / chosen, tp / pos])


def _audit_scope(
    part: pd.DataFrame, attribute: str, n_boot: int, rng: np.random.Generator
) -> list[dict]:
    g, groups = pd.factorize(part[attribute].astype(str), sort=True)
    hh, _ = pd.factorize(part["household_id"])
    n_hh = int(hh.max()) + 1 if len(hh) else 0
    sel = part["selected"].to_numpy(dtype=np.float64)
    y = part[LABEL_COLUMN].to_numpy(dtype=np.float64)
    households = part.groupby(g)["household_id"].nunique().to_numpy()
    ref = int(np.argmax(households))
    point = _rates(g, len(groups), np.ones(len(part)), sel, y)
    draws = np.empty((n_boot, len(RATES), len(groups)))
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, n_hh, n_hh), minlength=n_hh)[hh].astype(np.float64)
        r = _rates(g, len(groups), w, sel, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            draws[b] = r / r[:, [ref]]
    pos_hh = part[y == 1].groupby(g[y == 1])["household_id"].nunique()
    sel_hh = part[sel == 1].groupby(g[sel == 1])["household_id"].nunique()
    out = []
    for j, name in enumerate(groups):
        row = {
            "attribute": attribute,
            "group": str(name),
            "reference_group": str(groups[ref]),
            "households": int(households[j]),
            "households_with_event": int(pos_hh.get(j, 0)),
            "households_on_list": int(sel_hh.get(j, 0)),
        }
        for i, rate in enumerate(RATES):
            value = float(point[i, j])
            ratio = value / float(point[i, ref]) if point[i, ref] else math.nan
            d = draws[:, i, j]
            d = d[np.isfinite(d)]
            lo, hi = (
                np.quantile(d, [0.025, 0.975])
                if d.size >= max(10, n_boot // 2)
                else (math.nan, math.nan)
            )
            row[rate] = value
            row[f"{rate}_ratio"] = ratio
            row[f"{rate}_ratio_low"] = float(lo)
            row[f"{rate}_ratio_high"] = float(hi)
            row[f"{rate}_flag"] = (
                bool(lo > 1.0 or hi < 1.0)
                if j != ref and np.isfinite(lo) and np.isfinite(hi)
                else False
            )
        out.append(row)
    return out


def list_bias_audit(
    scored: pd.DataFrame,
    score_col: str,
    attributes: Sequence[str] = ("county", "township"),
    *,
    k: int = 20,
    group_col: str = "township",
    n_boot: int = 200,
    random_state: int = 0,
) -> pd.DataFrame:
    """Bias audit of the per-``group_col`` top-``k`` lists, per as-of date and pooled.

    Parameters
    ----------
    scored : DataFrame
        Scored test rows: ``household_id``, ``as_of``, ``group_col``, the label,
        ``score_col`` and the attribute columns.
    score_col : str
        The model's score.
    attributes : sequence of str
        Attribute columns audited.
    k : int
        List length per group and as-of date.
    group_col : str
        The list's jurisdiction.
    n_boot : int
        Household-clustered bootstrap resamples.
    random_state : int
        Seed.

    Returns
    -------
    DataFrame
        One row per (scope, attribute, group): ``scope`` (``pooled`` or the ISO
        as-of date), the support columns, and per rate of ``RATES`` the rate, its
        ratio to the reference group with ``_low``/``_high`` bounds, and a bool
        ``_flag`` (interval excludes 1.0).
    """
    frame = scored.copy()
    frame["selected"] = top_k_per_group(frame, score_col, k, group_col).to_numpy(dtype=bool)
    rng = np.random.default_rng(random_state)
    rows = []
    scopes = [("pooled", frame)] + [
        (pd.Timestamp(str(d)).date().isoformat(), part)
        for d, part in frame.groupby("as_of", sort=True)
    ]
    for scope, part in scopes:
        for attribute in attributes:
            if attribute not in part.columns:
                continue
            for row in _audit_scope(part.reset_index(drop=True), attribute, n_boot, rng):
                rows.append({"scope": scope, **row})
    return pd.DataFrame(rows)
