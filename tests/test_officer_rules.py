"""The officers' hand rules order households as an officer would by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.baselines import BaselineError, officer_rule_scores


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incidents_all_escalations": [0, 2, 2, 1, None],
            "incidents_all_days_since_last_escalation": [None, 300.0, 20.0, 5.0, None],
            "incidents_365d_escalations": [0, 0, 1, 1, 0],
            "disputes_all_open": [3, 0, 0, 1, 0],
            "disputes_all_days_since_last": [10.0, None, None, 50.0, None],
            "incidents_90d_count": [0, 5, 0, 0, 9],
        }
    )


def test_prior_escalations_most_first_then_most_recent() -> None:
    order = np.argsort(-officer_rule_scores(_frame(), "prior-escalations"), kind="stable")
    assert order[:3].tolist() == [2, 1, 3]


def test_combined_rule_is_lexicographic() -> None:
    order = np.argsort(-officer_rule_scores(_frame(), "combined"), kind="stable")
    # past-year escalations first (3 has one open dispute more than 2), then open, then calls
    assert order.tolist() == [3, 2, 0, 4, 1]


def test_open_disputes_rule_ranks_most_open_first() -> None:
    assert int(np.argmax(officer_rule_scores(_frame(), "open-disputes"))) == 0


def test_unknown_rule_and_missing_columns_are_refused() -> None:
    with pytest.raises(BaselineError, match="expected a rule"):
        officer_rule_scores(_frame(), "gut-feeling")
    with pytest.raises(BaselineError, match="incidents_90d_count"):
        officer_rule_scores(_frame().drop(columns="incidents_90d_count"), "combined")
