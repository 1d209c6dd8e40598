"""The model card (training.model_card.render_model_card) on a small synthetic input.

Invariants: every section is present; Brier and ECE keep 4 significant figures and
counts carry thousands separators; the card says the test figures come from the fold
models; the base rate is a column, never a flag; Chinese group names carry their
pinyin; no household id reaches the card.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from training.audit import bias_audit
from training.config import TrainConfig
from training.model_card import render_model_card

HOUSEHOLD_IDS = [f"HH{i:06d}" for i in range(400)]
MODELS = ("lightgbm", "logistic", "hand_rule", "oracle")


def _metrics() -> pd.DataFrame:
    rows = []
    for j, model in enumerate(MODELS):
        for metric, value in (
            ("roc_auc", 0.74 + j / 100),
            ("average_precision", 0.048),
            ("brier", 0.004812 + j / 1e5),
            ("ece", 0.0003517),
            ("precision_at_5pct", 0.035),
            ("recall_at_5pct", 0.345),
            ("lift_precision_at_5pct", 1.5),
        ):
            if model == "hand_rule" and metric in ("brier", "ece"):
                continue
            rows.append(
                {
                    "model": model,
                    "metric": metric,
                    "value": value,
                    "ci_low": value * 0.9,
                    "ci_high": value * 1.1,
                    "n_rows": 1_645_983,
                }
            )
    return pd.DataFrame(rows)


def _audit() -> pd.DataFrame:
    """Township audit: the largest township has a high base rate but a fair selection."""
    rng = np.random.default_rng(0)
    parts = []
    # (name, rows, base rate, selection share): 屯智街道 is largest; 信岭镇 is selected 3x more
    for name, n, base, share in (
        ("屯智街道", 900, 0.20, 0.10),
        ("和坝乡", 800, 0.05, 0.10),
        ("信岭镇", 700, 0.15, 0.30),
    ):
        label = rng.random(n) < base
        score = label * 0.5 + rng.random(n)
        selected = score >= np.quantile(score, 1 - share)
        parts.append(pd.DataFrame({"township": name, "label": label, "selected": selected}))
    frame = pd.concat(parts, ignore_index=True)
    table = bias_audit(
        frame, label_col="label", selected_col="selected", attribute_cols=["township"]
    )
    # a caller's extra column holding household ids must not reach the card
    return table.assign(example_household=HOUSEHOLD_IDS[: len(table)])


@pytest.fixture(scope="module")
def card() -> str:
    metrics = _metrics()
    per_fold = pd.concat([metrics.assign(fold=f"fold{i}") for i in (1, 2)], ignore_index=True)
    window = {
        "as_of_first": "2025-03-03",
        "as_of_last_labelled": "2026-10-26",
        "final_train_start": "2025-03-03",
        "final_train_end": "2026-08-31",
        "final_validation_start": "2026-10-05",
        "final_validation_end": "2026-10-26",
        "test_first": "2026-08-10",
        "test_last": "2026-10-26",
    }
    return render_model_card(
        model_name="household-escalation",
        config=TrainConfig(),
        window=window,
        metrics=metrics,
        per_fold=per_fold,
        audit={"township": _audit()},
        n_rows=1_645_983,
        n_households=19_998,
        feature_names=["n_visits_90d", "n_disputes_open"],
        has_oracle=True,
        run_id="0cdc418a1dd64211b36ee20c986137e6",
    )


def test_card_has_every_section_and_the_scorers(card: str) -> None:
    for section in (
        "# Model card: household-escalation",
        "## Intended use",
        "## Data",
        "## Evaluation",
        "### Ranked lists at capacity",
        "### Per fold",
        "## Limits",
        "## Bias audit",
        "### By township",
    ):
        assert section in card
    assert "| metric | lightgbm | logistic | hand_rule | oracle |" in card


def test_brier_and_ece_keep_four_significant_figures_and_counts_have_separators(
    card: str,
) -> None:
    brier = next(line for line in card.splitlines() if line.startswith("| brier |"))
    assert "0.004812 [0.004331, 0.005293]" in brier  # 0.004812 * 0.9 = 0.0043308
    assert "0.004822" in brier  # logistic, 1e-5 apart: distinguishable
    ece = next(line for line in card.splitlines() if line.startswith("| ece |"))
    assert "0.0003517" in ece
    assert "1,645,983 labelled household-weeks" in card and "19,998 households" in card
    assert "0.740 [0.666, 0.814]" in card  # other metrics keep 3 decimals


def test_card_says_test_metrics_come_from_fold_models_not_the_registered_model(
    card: str,
) -> None:
    text = " ".join(card.split())
    assert "test metrics below come from the fold models" in text
    assert "rolling-origin out-of-time" in text
    assert "has no held-out test of its own" in text
    assert "- fold1 (fold model): ROC AUC 0.740" in card


def test_base_rate_is_a_column_not_a_flag_and_groups_carry_pinyin(card: str) -> None:
    audit_part = card[card.index("### By township") :]
    table = [line for line in audit_part.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| group | size | positives | base rate | selection_rate |")
    assert "Xinling Zhen" in audit_part and "信岭镇 (Xinling Zhen)" in audit_part
    assert "reference group **屯智街道 (Tunzhi Jiedao)**" in audit_part
    # flagged lists name rates; base_rate is never one of them
    flagged = [line.rsplit("|", 2)[-2] for line in table[2:]]
    assert flagged and all("base_rate" not in cell for cell in flagged)
    assert any("selection_rate" in cell for cell in flagged)
    # 和坝乡's base rate is under a third of the reference's: the audit flags it, the card not
    assert bool(_audit().set_index("group").loc["和坝乡", "base_rate_flag"])
    heba = next(line for line in table if line.startswith("| 和坝乡 (Heba Xiang) | 800 | 50 |"))
    assert "base_rate" not in heba.rsplit("|", 2)[-2]


def test_card_holds_no_household_id(card: str) -> None:
    assert not re.search(r"HH\d{6}", card)
