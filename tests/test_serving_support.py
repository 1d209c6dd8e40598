"""Fakes shared by the serving tests: a tiny model and a synthetic feature snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from serving.config import ServingSettings
from serving.state import ModelInfo, ServingState

AS_OF = pd.Timestamp("2026-11-30", tz="Asia/Shanghai")

#: county -> township -> villages. "Xinzhai" exists in two townships of different counties.
HIERARCHY = {
    "Xingyi": {"Dingxiao": ["Xinzhai", "Bajie"], "Wanfenglin": ["Nanpan", "Xiawutun"]},
    "Anlong": {"Zhaodi": ["Xinzhai", "Gaoling"], "Haizi": ["Putian", "Shangba"]},
}
PER_VILLAGE = 8


@dataclass(frozen=True)
class FakeReason:
    code: str
    feature: str
    value: float
    contribution: float
    text_en: str
    text_zh: str


class FakeModel:
    """Logistic score of three features; explain() returns the per-feature terms."""

    feature_names_ = ["disputes_all_open", "visits_all_days_since_last", "incidents_365d_count"]
    coef = {
        "disputes_all_open": 0.9,
        "visits_all_days_since_last": 0.01,
        "incidents_365d_count": 0.6,
    }
    texts = {
        "disputes_all_open": ("{v:g} unresolved disputes", "{v:g} 起未化解纠纷"),
        "visits_all_days_since_last": ("{v:g} days since the last visit", "距上次走访 {v:g} 天"),
        "incidents_365d_count": ("{v:g} incidents in the last year", "近一年 {v:g} 起警情"),
    }

    def __init__(self) -> None:
        self.explained_rows = 0

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        z = -4.0 + sum(c * X[f].fillna(0).to_numpy(dtype=float) for f, c in self.coef.items())
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1 - p, p])

    def explain(self, X: pd.DataFrame, top_k: int = 3) -> list[list[FakeReason]]:
        self.explained_rows += len(X)
        out = []
        for _, row in X.iterrows():
            terms = []
            for f, c in self.coef.items():
                v = float(row[f]) if pd.notna(row[f]) else 0.0
                if c * v > 0:
                    en, zh = self.texts[f]
                    terms.append(FakeReason(f.upper(), f, v, c * v, en.format(v=v), zh.format(v=v)))
            terms.sort(key=lambda r: -r.contribution)
            out.append(terms[:top_k])
        return out


class BrokenModel(FakeModel):
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise ValueError("broken on purpose")


def make_snapshot(seed: int = 0) -> pd.DataFrame:
    """A small feature snapshot with ties (households with identical features)."""
    rng = np.random.default_rng(seed)
    rows = []
    n = 0
    for county, townships in HIERARCHY.items():
        for township, villages in townships.items():
            for village in villages:
                for _ in range(PER_VILLAGE):
                    n += 1
                    rows.append(
                        {
                            "household_id": f"H{n:05d}",
                            "as_of": AS_OF,
                            "county": county,
                            "township": township,
                            "village": village,
                            "disputes_all_open": float(rng.integers(0, 4)),
                            "visits_all_days_since_last": float(rng.integers(1, 200)),
                            "incidents_365d_count": float(rng.integers(0, 3)),
                        }
                    )
    frame = pd.DataFrame(rows)
    # Three exact ties in one township, inserted in reverse id order.
    for hid in ("H00003", "H00002", "H00001"):
        frame.loc[
            frame["household_id"] == hid,
            ["disputes_all_open", "visits_all_days_since_last", "incidents_365d_count"],
        ] = [9.0, 100.0, 2.0]
    return frame.iloc[::-1].reset_index(drop=True)


def fake_loader(
    model: FakeModel | None = None, frame: pd.DataFrame | None = None, version: str = "7"
):
    def _load(settings: ServingSettings) -> ServingState:
        return ServingState(
            model if model is not None else FakeModel(),
            frame if frame is not None else make_snapshot(),
            ModelInfo(name="household-escalation", version=version, metrics={"test_ap": 0.31}),
            AS_OF,
        )

    return _load


def settings_for(home: Path) -> ServingSettings:
    return ServingSettings(home=home, reload_interval_s=0)
