"""Calibration figures of a simulated prefecture, measured from the files written.

Everything is computed from the exports (as ingestion would see them, after
dropping re-sent duplicates and malformed rows) and from ``ground_truth/``,
not from the simulator's memory, so the figures check what was written.

Targets (DESIGN.md / issue #3): dispute share per campaign visit ~9.7 %
(65 200 / 675 000), hazards per campaign visit ~0.22 (151 000 / 675 000),
campaign coverage ~70 % in 38 days, 0.3-1 % of households escalating within
30 days, about half of escalations in the riskiest 5 % of households, oracle
AUC 0.80-0.92 and the best single visible feature clearly below it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from simulation.errors import SimulationError
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    INCIDENT_CATEGORIES,
    INCIDENT_COLUMNS,
    RESOLUTION_STATUSES,
    VISIT_COLUMNS,
)

H = {c.name: c.headers[0] for c in VISIT_COLUMNS}
HI = {c.name: c.headers[0] for c in INCIDENT_COLUMNS}


def read_export(path: Path) -> pd.DataFrame:
    """Read one export file as text cells (``str`` columns, empty cells NaN)."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return pd.read_excel(path, engine="calamine", dtype=str)


def parse_local(values: pd.Series) -> pd.Series:
    """Parse the simulator's mixed date formats to naive local datetimes (NaT if unreadable)."""
    text = (
        values.str.replace("年", "-")
        .str.replace("月", "-")
        .str.replace("日", "")
        .str.replace("/", "-")
    )
    return pd.to_datetime(text, format="%Y-%m-%d %H:%M", errors="coerce")


def _read_all(out_dir: Path, kind: str) -> pd.DataFrame:
    files = sorted(out_dir.glob(f"{kind}_*.csv")) + sorted(out_dir.glob(f"{kind}_*.xlsx"))
    if not files:
        raise SimulationError(f"no {kind} exports under {str(out_dir)!r}")
    return pd.concat([read_export(f) for f in files], ignore_index=True)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < y.size else float("nan")


def _count_in_window(
    hh: np.ndarray, t: np.ndarray, q_hh: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Number of events of household q_hh with time in [lo, hi) (times in days)."""
    order = np.lexsort((t, hh))
    key = hh[order] * 1e5 + t[order]
    return np.searchsorted(key, q_hh * 1e5 + hi) - np.searchsorted(key, q_hh * 1e5 + lo)


def calibration_report(out_dir: Path, horizon_days: int = 30) -> dict[str, Any]:
    """Measure the calibration figures of a simulation output folder.

    Parameters
    ----------
    out_dir : Path
        Folder written by :func:`simulation.simulate.simulate`.
    horizon_days : int
        Label horizon H (days).

    Returns
    -------
    dict
        ``dispute_share_per_campaign_visit`` (share), ``hazards_per_campaign_visit``
        (items per visit), ``campaign_coverage_38d`` (share of households),
        ``visits_per_officer_day_campaign``, ``handled_share`` (share of dispute
        records not "unresolved"), ``escalation_rate_30d`` (share of household-Mondays),
        ``top5_share`` (share of escalations in the 5 % of households with the highest
        mean oracle probability), ``oracle_auc``, ``visible_auc`` (per visible
        feature), ``best_visible_auc``, ``homicide_share`` and counts.

    Raises
    ------
    SimulationError
        If the folder holds no exports.
    """
    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / "ground_truth" / "manifest.json").read_text(encoding="utf-8"))
    n_households = int(manifest["households"])
    start = pd.Timestamp(manifest["start"])
    end = pd.Timestamp(manifest["end"])

    visits = _read_all(out_dir, "visits").drop_duplicates()
    visits = visits.assign(
        visited=parse_local(visits[H["visited_at"]]), recorded=parse_local(visits[H["recorded_at"]])
    )
    visits = visits[visits["visited"].notna() & visits[H["household_id"]].notna()]
    visits = visits[pd.to_numeric(visits[H["persons_met"]], errors="coerce").fillna(0) >= 0]
    incidents = _read_all(out_dir, "incidents").drop_duplicates()
    incidents = incidents.assign(
        reported=parse_local(incidents[HI["reported_at"]]),
        recorded=parse_local(incidents[HI["recorded_at"]]),
    )
    incidents = incidents[incidents["reported"].notna() & incidents[HI["household_id"]].notna()]
    label_to_code = {v[0]: k for k, v in INCIDENT_CATEGORIES.items()}
    incidents["code"] = incidents[HI["category"]].map(label_to_code)
    incidents = incidents[incidents["code"].notna()]

    # campaign: the first wave that starts inside the window
    waves = [pd.Timestamp(w) for w in manifest["campaign_waves"] if pd.Timestamp(w) >= start]
    report: dict[str, Any] = {"households": n_households}
    if waves:
        w0 = waves[0]
        camp = visits[(visits["visited"] >= w0) & (visits["visited"] < w0 + pd.Timedelta(days=38))]
        has = camp[H["has_dispute"]] == "是"
        hz = camp[H["risk_hazards"]].fillna("")
        n_items = np.where(hz == "", 0, hz.str.count("、") + 1)
        officer_days = camp.groupby([camp[H["officer_id"]], camp["visited"].dt.date]).ngroups
        report |= {
            "reference_wave": w0.date().isoformat(),
            "dispute_share_per_campaign_visit": float(has.mean()),
            "hazards_per_campaign_visit": float(np.mean(n_items)),
            "campaign_coverage_38d": camp[H["household_id"]].nunique() / n_households,
            "visits_per_officer_day_campaign": len(camp) / max(officer_days, 1),
        }
    disputes = visits[visits[H["has_dispute"]] == "是"]
    unresolved = RESOLUTION_STATUSES["unresolved"][0]
    report["handled_share"] = float((disputes[H["resolution_status"]] != unresolved).mean())

    oracle = pd.read_parquet(out_dir / "ground_truth" / "oracle.parquet")
    ids = oracle["household_id"].drop_duplicates().sort_values().to_numpy()
    index = pd.Series(np.arange(ids.size), index=ids)
    as_of = oracle["as_of"].dt.tz_localize(None)
    day0 = start.normalize()
    t_days = ((as_of - day0).dt.total_seconds() / 86400).to_numpy()
    q_hh = index.reindex(oracle["household_id"].to_numpy()).to_numpy()
    observed = (as_of + pd.Timedelta(days=horizon_days) <= end + pd.Timedelta(days=1)).to_numpy()

    esc = incidents[incidents["code"].isin(DEFAULT_ESCALATION_CATEGORIES)]
    e_hh = index.reindex(esc[HI["household_id"]].to_numpy()).to_numpy()
    e_t = ((esc["reported"] - day0).dt.total_seconds() / 86400).to_numpy()
    e_known = (
        (esc["recorded"].fillna(esc["reported"]) - day0).dt.total_seconds() / 86400
    ).to_numpy()
    label = _count_in_window(e_hh, e_t, q_hh, t_days, t_days + horizon_days) > 0
    prob = oracle["oracle_prob"].to_numpy()
    y, p = label[observed], prob[observed]

    # visible features (point in time: recorded before t; approved visits only)
    open_codes = {RESOLUTION_STATUSES[k][0] for k in ("mediating", "unresolved", "referred")}
    ok = visits[H["review_status"]] == "已通过"
    open_v = visits[
        ok & (visits[H["has_dispute"]] == "是") & visits[H["resolution_status"]].isin(open_codes)
    ]
    v_hh = index.reindex(open_v[H["household_id"]].to_numpy()).to_numpy()
    v_t = (
        (open_v["recorded"].fillna(open_v["visited"]) - day0).dt.total_seconds() / 86400
    ).to_numpy()
    features = {
        "open_disputes_recorded_90d": _count_in_window(v_hh, v_t, q_hh, t_days - 90, t_days),
        "prior_escalations_365d": _count_in_window(e_hh, e_known, q_hh, t_days - 365, t_days),
    }
    visible = {k: _auc(y, v[observed].astype(float)) for k, v in features.items()}

    mean_prob = oracle.groupby("household_id")["oracle_prob"].mean()
    top = set(mean_prob.nlargest(max(1, n_households // 20)).index)
    report |= {
        "escalations": len(esc),
        "escalation_rate_30d": float(y.mean()),
        "mean_oracle_prob": float(p.mean()),
        "oracle_auc": _auc(y, p),
        "visible_auc": visible,
        "best_visible_auc": max(visible.values()),
        "top5_share": float(esc[HI["household_id"]].isin(top).mean()),
        "homicide_share": float((esc["code"] == "homicide").mean()),
        "labelled_rows": int(observed.sum()),
        "window": [start.date().isoformat(), end.date().isoformat()],
        "measured_on": dt.date.today().isoformat(),
    }
    return report
