"""Tests of training.audit.bias_audit: hand-computed rates and ProPublica's COMPAS table (golden)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.audit import DEFAULT_MIN_SUPPORT, MISSING_GROUP, RATES, AuditInputError, bias_audit

#: Judge every non-empty denominator (the hand-computed cases below are tiny).
NO_MIN = dict.fromkeys(DEFAULT_MIN_SUPPORT, 0)


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
        min_support=NO_MIN,
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
        min_support=NO_MIN,
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
        ({"min_support": {"positive": 5}}, "min_support keys"),
        ({"min_support": {"positives": -1}}, "whole number >= 0"),
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


def _from_counts(counts: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """Rows of attribute ``g`` with the given (tp, fp, fn, tn) per group."""
    parts = []
    for group, (tp, fp, fn, tn) in counts.items():
        label = [1] * tp + [0] * fp + [1] * fn + [0] * tn
        selected = [True] * (tp + fp) + [False] * (fn + tn)
        parts.append(pd.DataFrame({"g": group, "label": label, "selected": selected}))
    return pd.concat(parts, ignore_index=True)


#: (tp, fp, fn, tn). "big" is largest but has no positive; "mid" is the largest with
#: every rate above 0 and enough support; "low" has 3 positives; "tiny" 20 rows,
#: 12 positives, 5 selected, 8 negatives.
COUNTS = {
    "big": (0, 10, 0, 90),
    "mid": (6, 6, 6, 62),
    "low": (1, 11, 2, 46),
    "tiny": (2, 3, 10, 5),
}


def _audit_counts(**kwargs: object) -> dict[Any, dict]:
    out = bias_audit(
        _from_counts(COUNTS), label_col="label", selected_col="selected", attribute_cols=["g"],
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    return out.set_index("group").to_dict("index")


def test_majority_reference_is_the_largest_group_with_every_rate_defined_and_supported() -> None:
    rows = _audit_counts()
    assert {r["reference_group"] for r in rows.values()} == {"mid"}
    mid = rows["mid"]
    assert (mid["precision"], mid["fnr"]) == (pytest.approx(0.5), pytest.approx(0.5))
    # the largest group would have made every precision and FNR ratio undefined
    assert rows["big"]["precision"] == 0.0 and np.isnan(rows["big"]["fnr"])
    assert not np.isnan(rows["low"]["precision_disparity"])


def test_flags_need_enough_support_and_say_why_when_not() -> None:
    rows = _audit_counts()
    low, tiny, big = rows["low"], rows["tiny"], rows["big"]
    # supports are the rates' denominators
    assert (low["fnr_support"], low["precision_support"], low["fpr_support"]) == (3, 12, 57)
    assert (tiny["selection_rate_support"], tiny["fpr_support"]) == (20, 8)
    # low: 3 positives -> FNR 2/3 not judged; precision (1/12) / 0.5 and FPR judged
    assert low["fnr_disparity"] == pytest.approx((2 / 3) / 0.5)
    assert pd.isna(low["fnr_flag"]) and low["fnr_flag_reason"] == "too few positives (3)"
    assert low["precision_disparity"] == pytest.approx((1 / 12) / 0.5)
    assert bool(low["precision_flag"]) and pd.isna(low["precision_flag_reason"])
    assert low["fpr_disparity"] == pytest.approx((11 / 57) / (6 / 68))
    assert bool(low["fpr_flag"])
    # tiny: 12 positives judged (FNR 10/12 vs 0.5); 20 rows, 5 selected, 8 negatives not
    assert tiny["fnr_disparity"] == pytest.approx((10 / 12) / 0.5) and bool(tiny["fnr_flag"])
    for rate, reason in (
        ("selection_rate", "too few rows (20)"),
        ("precision", "too few selected (5)"),
        ("fpr", "too few negatives (8)"),
    ):
        assert pd.isna(tiny[f"{rate}_flag"]) and tiny[f"{rate}_flag_reason"] == reason
    # big: 10 selected, none escalated: a judged precision ratio of 0; FPR 0.1 / (6/68) in band
    assert big["precision_disparity"] == 0.0 and bool(big["precision_flag"])
    assert not bool(big["fpr_flag"]) and big["fnr_flag_reason"] == "too few positives (0)"


def test_minimum_support_is_inclusive_and_a_weak_reference_judges_nothing() -> None:
    # exactly 12 positives reach a minimum of 12
    assert bool(_audit_counts(min_support={"positives": 12})["tiny"]["fnr_flag"])
    # no group has 13 positives: fallback to the largest group with every rate above 0,
    # whose support is too small, so no FNR flag anywhere
    rows = _audit_counts(min_support={"positives": 13})
    assert {r["reference_group"] for r in rows.values()} == {"mid"}
    for group in ("low", "tiny", "mid"):
        assert pd.isna(rows[group]["fnr_flag"])
    assert rows["tiny"]["fnr_flag_reason"] == "too few positives (12)"
    assert bool(rows["low"]["fpr_flag"])  # other rates are still judged
    # a named reference is used as given; with 3 positives it judges no FNR
    weak = _audit_counts(reference_groups={"g": "low"})
    assert weak["tiny"]["fnr_flag_reason"] == "reference group has too few positives (3)"
    assert pd.isna(weak["tiny"]["fnr_flag"]) and bool(weak["mid"]["precision_flag"])
    # a named reference with no positive: every FNR and precision ratio undefined
    named = _audit_counts(reference_groups={"g": "big"})
    assert named["mid"]["precision_flag_reason"] == "reference rate is 0"
    assert named["mid"]["fnr_flag_reason"] == "reference rate undefined (no positives)"


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
