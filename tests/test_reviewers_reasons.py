"""The top-1 % crosstab shows the share of each reason officers are shown (issue #13).

Reasons are computed for the top rows only (``pred_contrib`` costs about 1.4 ms a
row), each by the fold model that scored the row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.reasons import Reason
from models.risk_model import EscalationModel
from tests.test_model_risk import SMALL, synthetic_frame
from training.evidence import top_share_mask
from training.reviewers import NO_REASON, fold_explainer, top_share_crosstab


def _reason(feature: str) -> Reason:
    return Reason(feature.upper(), feature, 1.0, 0.5, feature, feature)


def _rows(n: int = 2000, weeks: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "household_id": [f"h{i:05d}" for i in range(n)] * weeks,
            "as_of": np.repeat(
                pd.date_range("2026-03-02", periods=weeks, freq="W-MON", tz="Asia/Shanghai"), n
            ),
            "fold": "fold_1",
            "score": rng.random(n * weeks),
            "a": rng.random(n * weeks),
            "b": rng.random(n * weeks),
        }
    )


def test_reason_shares_count_the_top_rows_only_with_one_call() -> None:
    rows = _rows()
    top = top_share_mask(rows, "score", 0.01)
    calls: list[int] = []

    def explain(part: pd.DataFrame) -> list[list[Reason]]:
        calls.append(len(part))
        # "a" first for every row, "b" second on rows with a > 0.5, none on a third of rows
        out: list[list[Reason]] = []
        for i, (a, _b) in enumerate(zip(part["a"], part["b"], strict=True)):
            if i % 3 == 0:
                out.append([])
            else:
                out.append([_reason("a"), *([_reason("b")] if a > 0.5 else [])])
        return out

    table = top_share_crosstab(rows, "score", ["a", "b"], share=0.01, explain=explain)
    assert calls == [int(top.sum())] and 30 <= calls[0] <= 50  # 1 % of each week, once
    by = table.set_index("feature")
    on = rows[top].reset_index(drop=True)
    shown = np.arange(len(on)) % 3 != 0
    assert by.loc["a", "reason_code"] == "A"
    assert by.loc["a", "reason_share_top"] == pytest.approx(shown.mean())
    assert by.loc["a", "reason_first_share_top"] == pytest.approx(shown.mean())
    assert by.loc["b", "reason_share_top"] == pytest.approx((shown & (on["a"] > 0.5)).mean())
    assert by.loc["b", "reason_first_share_top"] == 0.0
    assert by.loc[NO_REASON, "reason_share_top"] == pytest.approx(1 - shown.mean())
    assert table["feature"].iloc[-1] == NO_REASON
    # the feature means are still there, in the crosstab's order
    assert list(table["feature"][:2]) == list(
        top_share_crosstab(rows, "score", ["a", "b"], share=0.01)["feature"]
    )


def test_without_an_explainer_the_reason_columns_are_empty_not_zero() -> None:
    table = top_share_crosstab(_rows(), "score", ["a", "b"], share=0.01)
    assert {"reason_code", "reason_share_top", "reason_first_share_top"} <= set(table.columns)
    assert table["reason_share_top"].isna().all()


def test_each_row_is_explained_by_the_model_of_its_fold() -> None:
    class Stub:
        def __init__(self, name: str) -> None:
            self.name = name

        def explain(self, rows: pd.DataFrame, top_k: int = 3) -> list[list[Reason]]:
            return [[_reason(self.name)] for _ in range(len(rows))]

    rows = pd.DataFrame({"fold": ["f2", "f1", "f2", "f1", "f1"]}, index=[10, 4, 7, 1, 3])
    explained = fold_explainer({"f1": Stub("one"), "f2": Stub("two")})(rows)
    assert [r[0].feature for r in explained] == ["two", "one", "two", "one", "one"]
    with pytest.raises(KeyError, match="expected a model of fold 'f2'"):
        fold_explainer({"f1": Stub("one")})(rows)


def test_a_fitted_model_shows_its_planted_driver_as_the_main_reason_of_its_top_rows() -> None:
    X, _ = synthetic_frame(4000, 61)
    X_val, _ = synthetic_frame(3000, 62)
    test, _ = synthetic_frame(6000, 63)
    model = EscalationModel(**SMALL).fit(X, X["label"], X_val, X_val["label"])
    test["fold"] = "fold_1"
    test["lightgbm"] = model.predict_proba(test)[:, 1]
    names = ["disputes_90d_unresolved", "visits_all_days_since_last", "noise"]
    table = top_share_crosstab(
        test, "lightgbm", names, share=0.01, explain=fold_explainer({"fold_1": model})
    ).set_index("feature")
    # the planted driver is the first reason of most of the top 1 %, and the shares agree
    # with what serving's explain gives for those very rows
    on = test[top_share_mask(test, "lightgbm", 0.01)]
    direct = model.explain(on)
    first = np.mean([bool(r) and r[0].feature == "disputes_90d_unresolved" for r in direct])
    assert table.loc["disputes_90d_unresolved", "reason_first_share_top"] == pytest.approx(first)
    assert first > 0.5
    assert table["ratio"].to_dict()["disputes_90d_unresolved"] > 1.5


def test_the_crosstab_read_week_by_week_equals_the_crosstab_of_every_row() -> None:
    """The by-date crosstab (one week's features at a time, #12) gives the same table."""
    from training.reviewers import top_share_crosstab_by_date

    rows = _rows()
    rows.loc[rows.index % 7 == 0, "a"] = np.nan
    scored = rows[["household_id", "as_of", "fold", "score"]]
    features = rows.drop(columns=["score", "fold"])
    reads: list[pd.Timestamp] = []

    def read(as_of: pd.Timestamp) -> pd.DataFrame:
        reads.append(as_of)
        return features[features["as_of"] == as_of]

    by_date = top_share_crosstab_by_date(scored, read, "score", ["a", "b"], share=0.01)
    whole = top_share_crosstab(rows, "score", ["a", "b"], share=0.01)
    assert len(reads) == 2
    pd.testing.assert_frame_equal(by_date, whole, check_exact=False, rtol=1e-12)


def test_beyond_the_cap_a_seeded_sample_of_the_top_rows_is_explained(monkeypatch) -> None:
    import training.reviewers as R

    monkeypatch.setattr(R, "MAX_EXPLAINED_ROWS", 25)
    rows = _rows(n=2000, weeks=3)
    seen: list[pd.DataFrame] = []

    def explain(part: pd.DataFrame) -> list[list[Reason]]:
        seen.append(part)
        return [[_reason("a")] for _ in range(len(part))]

    table = top_share_crosstab(rows, "score", ["a", "b"], share=0.01, explain=explain)
    top = rows[top_share_mask(rows, "score", 0.01)]
    assert len(seen) == 1 and len(seen[0]) == 25 < len(top)  # 60 top rows, 25 explained
    assert set(seen[0]["household_id"] + seen[0]["as_of"].astype(str)) <= set(
        top["household_id"] + top["as_of"].astype(str)
    )
    assert table.set_index("feature").loc["a", "reason_share_top"] == 1.0
    again: list[pd.DataFrame] = []
    top_share_crosstab(
        rows,
        "score",
        ["a", "b"],
        share=0.01,
        explain=lambda p: again.append(p) or [[] for _ in range(len(p))],
    )
    pd.testing.assert_frame_equal(again[0], seen[0])  # the same sample each time
