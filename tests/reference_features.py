"""Brute-force reference of the feature job: plain Python loops, one household at a time.

Deliberately naive and independent of ``features.build``: records are Python
dicts, times are ``pd.Timestamp`` compared directly, every window is a fresh
loop. It follows the definitions written in ``features.catalogue`` and
``features.build`` docstrings, not their code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.catalogue import feature_names
from warehouse.contract import (
    DEFAULT_ESCALATION_CATEGORIES,
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    INCIDENT_CATEGORIES,
    RISK_HAZARDS,
    TIMEZONE,
)

DAY = pd.Timedelta(days=1)
WIN = {"30d": 30, "90d": 90, "365d": 365, "all": None}


def _missing(x: object) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and np.isnan(x))


def _records(frame: pd.DataFrame) -> list[dict]:
    return [dict(r) for r in frame.to_dict(orient="records")]


def _in_window(when: pd.Timestamp, t: pd.Timestamp, w: str) -> bool:
    days = WIN[w]
    return when < t and (days is None or when >= t - pd.Timedelta(days=days))


def _days(t: pd.Timestamp, when: pd.Timestamp) -> float:
    return (t - when).value / 86_400e9


def reference_features(
    visits: pd.DataFrame,
    incidents: pd.DataFrame,
    as_of_dates: Sequence[pd.Timestamp],
    horizon_days: int = 30,
    escalation_categories: Sequence[str] = DEFAULT_ESCALATION_CATEGORIES,
) -> pd.DataFrame:
    """Same columns as ``features.build.build_features``, computed by loops."""
    vrecs = _records(visits)
    irecs = _records(incidents)
    for r in vrecs:
        if _missing(r["recorded_at"]):
            r["recorded_at"] = r["visited_at"]
    for r in irecs:
        if _missing(r["recorded_at"]):
            r["recorded_at"] = r["reported_at"]
    last_date = max([r["recorded_at"] for r in vrecs + irecs])
    esc_set = set(escalation_categories)
    households = sorted({r["household_id"] for r in vrecs})
    by_hh_v: dict[str, list[dict]] = {h: [] for h in households}
    for r in vrecs:
        by_hh_v[r["household_id"]].append(r)
    by_hh_i: dict[str, list[dict]] = {h: [] for h in households}
    for r in irecs:
        if r["household_id"] in by_hh_i:
            by_hh_i[r["household_id"]].append(r)

    rows = []
    for t in sorted(pd.Timestamp(x).tz_convert(TIMEZONE) for x in as_of_dates):
        per_t = {}
        for h in households:
            row = _household_at(by_hh_v[h], by_hh_i[h], t, esc_set)
            if row is None:
                continue
            # label
            if t + pd.Timedelta(days=horizon_days) > last_date:
                row["label"] = pd.NA
            else:
                hit = any(
                    r["category"] in esc_set
                    and t <= r["reported_at"] < t + pd.Timedelta(days=horizon_days)
                    for r in by_hh_i[h]
                )
                row["label"] = 1 if hit else 0
            per_t[h] = row
        # context rates: leave-one-out over the cohort of the same village / township
        for h, row in per_t.items():
            for level, key in (
                ("village", ("county", "township", "village")),
                ("township", ("county", "township")),
            ):
                others = [
                    o
                    for g, o in per_t.items()
                    if g != h and tuple(o[k] for k in key) == tuple(row[k] for k in key)
                ]
                for what, col in (
                    ("dispute", "disputes_365d_count"),
                    ("escalation", "incidents_365d_escalations"),
                ):
                    name = f"context_365d_{level}_{what}_rate"
                    row[name] = (
                        sum(1 for o in others if o[col] > 0) / len(others) if others else np.nan
                    )
        for h in sorted(per_t):
            rows.append({"household_id": h, "as_of": t, **per_t[h]})
    names = feature_names()
    cols = ["household_id", "as_of", "county", "township", "village", *names, "label"]
    out = pd.DataFrame(rows, columns=cols)
    return out


def _household_at(
    vs: list[dict], incs: list[dict], t: pd.Timestamp, esc_set: set[str]
) -> dict | None:
    def is_visit(r: dict) -> bool:
        return (
            r["review_status"] == "approved"
            and r["recorded_at"] < t
            and r["visited_at"] < t
            and (_missing(r["reviewed_at"]) or r["reviewed_at"] < t)
        )

    known = [r for r in vs if is_visit(r)]
    if not known:
        return None
    known.sort(key=lambda r: (r["visited_at"], r["recorded_at"], r["visit_id"]))
    latest = known[-1]
    row: dict = {
        "county": latest["county"],
        "township": latest["township"],
        "village": latest["village"],
    }

    for w in WIN:
        in_w = [r for r in known if _in_window(r["visited_at"], t, w)]
        row[f"visits_{w}_count"] = float(len(in_w))
        met = [r["persons_met"] for r in in_w if not _missing(r["persons_met"])]
        row[f"visits_{w}_persons_met_mean"] = sum(met) / len(met) if met else np.nan
        row[f"visits_{w}_share_nobody_met"] = (
            sum(1 for m in met if m == 0) / len(met) if met else np.nan
        )
        ds = [r for r in in_w if r["has_dispute"] is True]
        row[f"disputes_{w}_count"] = float(len(ds))
        for code in DISPUTE_TYPES:
            row[f"disputes_{w}_count_{code}"] = float(
                sum(
                    1
                    for r in ds
                    if (r["dispute_type"] if not _missing(r["dispute_type"]) else "other") == code
                )
            )
        for code in DISPUTE_SEVERITIES:
            row[f"disputes_{w}_count_{code}"] = float(
                sum(1 for r in ds if r["dispute_severity"] == code)
            )
        row[f"disputes_{w}_share_resolved"] = (
            sum(1 for r in ds if r["resolution_status"] == "resolved") / len(ds) if ds else np.nan
        )
        row[f"disputes_{w}_mediation_agreements"] = float(
            sum(1 for r in ds if r["mediation_agreement"] is True)
        )
        if w in ("365d", "all"):
            recorded = [r for r in vs if r["recorded_at"] < t and _in_window(r["visited_at"], t, w)]
            rejected = [
                r
                for r in recorded
                if r["review_status"] == "rejected"
                and (_missing(r["reviewed_at"]) or r["reviewed_at"] < t)
            ]
            row[f"quality_{w}_share_rejected"] = (
                len(rejected) / len(recorded) if recorded else np.nan
            )
            delays = [_days(r["recorded_at"], r["visited_at"]) for r in in_w]
            row[f"quality_{w}_recording_delay_days"] = (
                sum(delays) / len(delays) if delays else np.nan
            )
    row["visits_all_days_since_last"] = _days(t, latest["visited_at"])

    # open disputes
    disputes = [r for r in known if r["has_dispute"] is True]
    open_count = 0
    ages = []
    for code in DISPUTE_TYPES:
        recs = [
            r
            for r in disputes
            if (r["dispute_type"] if not _missing(r["dispute_type"]) else "other") == code
        ]
        is_open = bool(recs) and recs[-1]["resolution_status"] != "resolved"
        row[f"disputes_all_open_{code}"] = 1.0 if is_open else 0.0
        if is_open:
            open_count += 1
            start = 0
            for i, r in enumerate(recs):
                if r["resolution_status"] == "resolved":
                    start = i + 1
            ages.append(_days(t, recs[start]["visited_at"]))
    row["disputes_all_open"] = float(open_count)
    _episodes(row, known, disputes, incs, t)
    row["disputes_all_open_max_age_days"] = max(ages) if ages else np.nan
    row["disputes_all_days_since_last"] = (
        _days(t, disputes[-1]["visited_at"]) if disputes else np.nan
    )
    row["disputes_30d_trend"] = (
        row["disputes_30d_count"] - (row["disputes_90d_count"] - row["disputes_30d_count"]) / 2
    )

    # hazards
    def hazards(r: dict) -> set[str]:
        return set() if _missing(r["risk_hazards"]) else set(r["risk_hazards"].split("|"))

    ever = set().union(*(hazards(r) for r in known))
    for code in RISK_HAZARDS:
        row[f"hazards_all_ever_{code}"] = 1.0 if code in ever else 0.0
    for code in RISK_HAZARDS:
        row[f"hazards_all_latest_{code}"] = 1.0 if code in hazards(latest) else 0.0
    row["hazards_all_distinct"] = float(len(ever & set(RISK_HAZARDS)))

    # incidents
    kinc = [r for r in incs if r["recorded_at"] < t and r["reported_at"] < t]
    for w in WIN:
        in_w = [r for r in kinc if _in_window(r["reported_at"], t, w)]
        row[f"incidents_{w}_count"] = float(len(in_w))
        row[f"incidents_{w}_escalations"] = float(sum(1 for r in in_w if r["category"] in esc_set))
        if w != "30d":
            for code in INCIDENT_CATEGORIES:
                row[f"incidents_{w}_count_{code}"] = float(
                    sum(1 for r in in_w if r["category"] == code)
                )
    row["incidents_all_days_since_last"] = (
        _days(t, max(r["reported_at"] for r in kinc)) if kinc else np.nan
    )
    escs = [r for r in kinc if r["category"] in esc_set]
    row["incidents_all_days_since_last_escalation"] = (
        _days(t, max(r["reported_at"] for r in escs)) if escs else np.nan
    )

    typed = [r for r in known if not _missing(r["household_type"])]
    row["context_all_household_type"] = typed[-1]["household_type"] if typed else np.nan
    return row


_SEV_LEVEL = {code: i + 1 for i, code in enumerate(DISPUTE_SEVERITIES)}
_CALLS = ("family_dispute_call", "neighbour_dispute_call")


def _episodes(
    row: dict, known: list[dict], disputes: list[dict], incs: list[dict], t: pd.Timestamp
) -> None:
    """features.episodes by plain loops over one household's records."""

    def level(r: dict) -> float:
        return (
            float(_SEV_LEVEL[r["dispute_severity"]])
            if not _missing(r["dispute_severity"])
            else np.nan
        )

    sev, rise, age, recurring, parties, overdue = [], [], [], 0.0, [], []
    for code in DISPUTE_TYPES:
        recs = [
            r
            for r in disputes
            if (r["dispute_type"] if not _missing(r["dispute_type"]) else "other") == code
        ]
        if not recs or recs[-1]["resolution_status"] == "resolved":
            continue
        start = 0
        for i, r in enumerate(recs):
            if r["resolution_status"] == "resolved":
                start = i + 1
        last, first = recs[-1], recs[start]
        sev.append(level(last))
        rise.append(level(last) - level(first))
        age.append(_days(t, first["visited_at"]))
        recurring += 1.0 if start > 0 else 0.0
        parties.append(
            np.nan if _missing(last["dispute_parties"]) else float(last["dispute_parties"])
        )
        due = last["followup_due"]
        if (
            not _missing(due)
            and due + pd.Timedelta(days=1) <= t
            and known[-1]["visited_at"] <= last["visited_at"]
        ):
            overdue.append(_days(t, due))

    def top(values: list[float], pick=max) -> float:
        finite = [v for v in values if not np.isnan(v)]
        return pick(finite) if finite else np.nan

    row["disputes_all_open_max_severity"] = top(sev)
    row["disputes_all_open_severity_rise"] = top(rise)
    row["disputes_all_open_min_age_days"] = top(age, min)
    row["disputes_all_open_recurring"] = recurring
    row["disputes_all_open_max_parties"] = top(parties)
    row["disputes_all_followup_overdue_days"] = top(overdue)
    calls = [
        r for r in incs if r["recorded_at"] < t and r["reported_at"] < t and r["category"] in _CALLS
    ]
    row["incidents_all_days_since_last_dispute_call"] = (
        _days(t, max(r["reported_at"] for r in calls)) if calls else np.nan
    )
    row["incidents_30d_dispute_calls"] = float(
        sum(1 for r in calls if _in_window(r["reported_at"], t, "30d"))
    )
    last_dispute = max((r["visited_at"] for r in disputes), default=None)
    row["incidents_all_dispute_calls_after_last_dispute"] = float(
        0 if last_dispute is None else sum(1 for r in calls if r["reported_at"] > last_dispute)
    )
