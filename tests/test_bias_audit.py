"""Tests of training.audit.bias_audit: hand-computed rates and ProPublica's COMPAS table (golden)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.audit import MISSING_GROUP, RATES, AuditInputError, bias_audit


def _shared_dir() -> Path:
    """``$REVISIT_SHARED_DIR``, else the ``shared/`` folder beside the repository."""
    override = os.environ.get("REVISIT_SHARED_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared"


COMPAS = _shared_dir() / "data" / "compas" / "compas-two-years.csv"


@pytest.fixture()
def small() -> pd.DataFrame:
    # group a: 6 rows; group b: 4 rows
    return pd.DataFrame(
        {
            "county": ["a"] * 6 + ["b"] * 4,
            "label": [1, 1, 0, 0, 0, 0, 1, 0, 0, 1],
            "selected": [True, False, True, False, False, False, True, True, True, False],
            "score": [0.9, 0.2, 0.8, 0.1, 0.1, 0.1, 0.9, 0.7, 0.6, 0.3],
        }
    )


def test_rates_and_disparities_match_a_hand_computed_confusion_matrix(small: pd.DataFrame) -> None:
    out = bias_audit(
        small,
        label_col="label",
        selected_col="selected",
        attribute_cols=["county"],
        score_col="score",
    )
    rows = out.set_index("group").to_dict("index")
    a, b = rows["a"], rows["b"]
    # a: tp=1 fp=1 fn=1 tn=3; b: tp=1 fp=2 fn=1 tn=0
    assert (a["tp"], a["fp"], a["fn"], a["tn"]) == (1, 1, 1, 3)
    assert (b["tp"], b["fp"], b["fn"], b["tn"]) == (1, 2, 1, 0)
    assert a["reference_group"] == "a" and bool(a["is_reference"]) and not bool(b["is_reference"])
    assert b["base_rate"] == pytest.approx(2 / 4)
    assert b["selection_rate"] == pytest.approx(3 / 4)
    assert b["precision"] == pytest.approx(1 / 3)
    assert b["fpr"] == pytest.approx(1.0)
    assert b["fnr"] == pytest.approx(0.5)
    assert b["fpr_disparity"] == pytest.approx(1.0 / 0.25)
    assert b["precision_disparity"] == pytest.approx((1 / 3) / 0.5)
    assert b["fnr_disparity"] == pytest.approx(1.0)
    assert bool(b["fpr_flag"]) and bool(b["precision_flag"]) and not bool(b["fnr_flag"])
    assert b["mean_score"] == pytest.approx((0.9 + 0.7 + 0.6 + 0.3) / 4)
    assert a["group_share"] == pytest.approx(0.6)
    for rate in RATES:
        assert a[f"{rate}_disparity"] == pytest.approx(1.0)


def test_flags_use_the_closed_tolerance_band() -> None:
    # FPR: reference 10/20 = 0.5; group x 8/20 = 0.4 -> disparity exactly 0.8, not flagged
    frame = pd.DataFrame(
        {
            "g": ["ref"] * 20 + ["x"] * 20 + ["z"] * 20,
            "label": [0] * 60,
            "selected": [True] * 10
            + [False] * 10
            + [True] * 8
            + [False] * 12
            + [True] * 7
            + [False] * 13,
        }
    )
    out = bias_audit(
        frame,
        label_col="label",
        selected_col="selected",
        attribute_cols=["g"],
        reference_groups={"g": "ref"},
    )
    rows = out.set_index("group").to_dict("index")
    assert rows["x"]["fpr_disparity"] == pytest.approx(0.8)
    assert not bool(rows["x"]["fpr_flag"])
    assert bool(rows["z"]["fpr_flag"])  # 0.7
    # no positive label anywhere: FNR and precision-of-positives undefined -> <NA> flags
    assert out["fnr_flag"].isna().all()
    assert out["base_rate_flag"].isna().all()


def test_missing_attribute_values_form_their_own_group_and_input_is_not_modified(
    small: pd.DataFrame,
) -> None:
    frame = small.copy()
    frame["township"] = pd.Series(["t1"] * 5 + [None] * 5, dtype="str")
    before = frame.copy()
    out = bias_audit(
        frame, label_col="label", selected_col="selected", attribute_cols=["county", "township"]
    )
    pd.testing.assert_frame_equal(frame, before)
    assert set(out.loc[out["attribute"] == "township", "group"]) == {"t1", MISSING_GROUP}
    assert list(out["attribute"].unique()) == ["county", "township"]
    assert out.groupby("attribute")["group_size"].sum().tolist() == [10, 10]
    assert out["fpr_flag"].dtype == "boolean"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference_groups": {"county": "zz"}}, "reference group 'zz'"),
        ({"reference_groups": "minority"}, "'majority' or a mapping"),
        ({"attribute_cols": ["race"]}, "attribute column 'race'"),
        ({"label_col": "nope"}, "label column 'nope'"),
        ({"tolerance": (1.2, 0.8)}, "tolerance"),
    ],
)
def test_bad_options_raise_an_audit_input_error(
    small: pd.DataFrame, kwargs: dict, match: str
) -> None:
    args = {"label_col": "label", "selected_col": "selected", "attribute_cols": ["county"]} | kwargs
    with pytest.raises(AuditInputError, match=match):
        bias_audit(small, **args)


def test_missing_or_non_binary_labels_are_refused(small: pd.DataFrame) -> None:
    frame = small.assign(label=pd.array([1, None, 0, 0, 0, 0, 1, 0, 0, 1], dtype="Int8"))
    with pytest.raises(AuditInputError, match="must not be missing"):
        bias_audit(frame, label_col="label", selected_col="selected", attribute_cols=["county"])
    with pytest.raises(AuditInputError, match="0/1 or bool"):
        bias_audit(
            small.assign(label=np.arange(10)),
            label_col="label",
            selected_col="selected",
            attribute_cols=["county"],
        )


@pytest.mark.skipif(
    not COMPAS.exists(), reason=f"COMPAS file not found at {COMPAS} (set REVISIT_SHARED_DIR)"
)
def test_golden_compas_audit_reproduces_propublica_error_rates() -> None:
    """ProPublica (Angwin et al. 2016, "How we analyzed the COMPAS recidivism algorithm"):
    FPR 44.85 % African-American vs 23.45 % Caucasian, FNR 27.99 % vs 47.72 %.

    Their table uses all 7 214 rows of compas-two-years.csv, score_text Medium or High
    as "high risk": no further filtering (the |days_b_screening_arrest| <= 30 filter of
    their logistic model gives 42.34 % / 22.01 % instead).
    """
    compas = pd.read_csv(COMPAS)
    assert len(compas) == 7214
    compas["selected"] = compas["score_text"].isin(["Medium", "High"])
    out = bias_audit(
        compas,
        label_col="two_year_recid",
        selected_col="selected",
        attribute_cols=["race"],
        reference_groups={"race": "Caucasian"},
    )
    rows = out.set_index("group").to_dict("index")
    assert round(100 * rows["African-American"]["fpr"], 2) == 44.85
    assert round(100 * rows["Caucasian"]["fpr"], 2) == 23.45
    assert round(100 * rows["African-American"]["fnr"], 2) == 27.99
    assert round(100 * rows["Caucasian"]["fnr"], 2) == 47.72
    assert rows["African-American"]["fpr_disparity"] == pytest.approx(0.4485 / 0.2345, rel=1e-3)
    assert bool(rows["African-American"]["fpr_flag"]) and bool(rows["African-American"]["fnr_flag"])
    # the majority default picks the largest group, African-American (3 696 rows)
    default = bias_audit(
        compas, label_col="two_year_recid", selected_col="selected", attribute_cols=["race"]
    )
    assert set(default["reference_group"]) == {"African-American"}
