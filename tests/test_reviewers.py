"""Reviewers' tools: champion vs challenger on identical rows, list stability, crosstabs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.reviewers import (
    between_lists_jaccard,
    compare_champion,
    top_share_crosstab,
    week_to_week_jaccard,
)


def _rows(seed: int, n: int = 400, weeks: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.gamma(0.5, 0.05, n)
    return pd.DataFrame(
        {
            "household_id": np.repeat([f"h{i:04d}" for i in range(n)], weeks),
            "as_of": np.tile(
                pd.date_range("2026-03-02", periods=weeks, freq="W-MON", tz="Asia/Shanghai"), n
            ),
            "township": np.repeat(rng.choice(["a", "b"], n), weeks),
            "label": (rng.random(n * weeks) < np.repeat(risk, weeks)).astype(int),
            "risk": np.repeat(risk, weeks),
            "noise": rng.random(n * weeks),
        }
    )


def test_identical_scorers_differ_by_exactly_zero_and_overlap_fully() -> None:
    rows = _rows(0)
    cmp = compare_champion(
        rows, rows["risk"].to_numpy(), rows["risk"].to_numpy(), "3",
        ks=[0.05], group_ks=[20], n_boot=30,
    )  # fmt: skip
    t = cmp.table.set_index("metric")
    assert (t["diff"] == 0).all() and (t["diff_low"] == 0).all() and (t["diff_high"] == 0).all()
    assert t["jaccard_top20"].iloc[0] == 1.0
    assert cmp.metrics()["vs_champion.diff_precision_at_5pct.ci_low"] == 0.0
    assert cmp.tags()["vs_champion.version"] == "3"


@pytest.mark.parametrize("seed", [1, 2])
def test_informed_challenger_beats_a_noise_champion_with_a_positive_paired_interval(
    seed: int,
) -> None:
    rows = _rows(seed, n=1500)
    cmp = compare_champion(
        rows, rows["risk"].to_numpy(), rows["noise"].to_numpy(), "1",
        ks=[0.05], group_ks=[20], n_boot=60, random_state=seed,
    )  # fmt: skip
    row = cmp.table.set_index("metric").loc["precision_at_5pct"]
    assert row["diff"] > 0 and row["diff_low"] > 0


def test_week_to_week_jaccard_is_one_for_a_fixed_ranking_and_lower_for_noise() -> None:
    rows = _rows(3)
    fixed = week_to_week_jaccard(rows, "risk", k=20)
    assert len(fixed) == 2 * 3 and (fixed["jaccard"] == 1.0).all()
    noisy = week_to_week_jaccard(rows, "noise", k=20)
    assert noisy["jaccard"].mean() < 0.5
    same = between_lists_jaccard(rows, "risk", "risk", k=20)
    assert (same["jaccard"] == 1.0).all()


def test_crosstab_shows_the_feature_that_defines_the_top_share() -> None:
    rows = _rows(4)
    rows["feature_x"] = rows["risk"] * 10
    rows["feature_flat"] = 1.0
    table = top_share_crosstab(rows, "risk", ["feature_x", "feature_flat"], share=0.05).set_index(
        "feature"
    )
    assert table.loc["feature_x", "ratio"] > 2
    assert table.loc["feature_flat", "ratio"] == 1.0
    assert table.index[0] == "feature_x"


def test_list_audit_flags_only_where_the_interval_excludes_parity() -> None:
    from training.list_audit import list_bias_audit

    rows = _rows(5, n=1200)
    rows["county"] = np.where(rows["township"] == "a", "c1", "c2")
    table = list_bias_audit(rows, "noise", ["county"], k=20, n_boot=80)
    assert {"pooled"} < set(table["scope"])
    pooled = table[table["scope"] == "pooled"].set_index("group")
    for rate in ("selection_rate", "precision", "recall"):
        flagged = pooled[f"{rate}_flag"]
        low, high = pooled[f"{rate}_ratio_low"], pooled[f"{rate}_ratio_high"]
        assert (flagged == ((low > 1) | (high < 1))).all()
    assert (pooled["households"] > 0).all()
    assert pooled["households_on_list"].sum() <= pooled["households"].sum()
