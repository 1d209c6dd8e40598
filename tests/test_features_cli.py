"""`revisit features` end to end on a small warehouse, and the leakage canary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from features.asof import weekly_as_of_dates
from features.build import EmptyWarehouseError, build_feature_table, build_features
from features.catalogue import feature_names
from revisit.cli import app
from tests.warehouse_factory import random_warehouse, write_warehouse
from warehouse.contract import TIMEZONE


def test_features_command_writes_the_table_and_reports_counts(tmp_path: Path) -> None:
    visits, incidents = random_warehouse(3, n_households=20)
    write_warehouse(tmp_path, visits, incidents)
    result = CliRunner().invoke(app, ["features", "--as-of", "2024-09-02", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "features" / "features_2024-09-02.parquet"
    table = pd.read_parquet(path)
    assert (
        "rows:" in result.output
        and "cohort:" in result.output
        and "label coverage:" in result.output
    )
    assert f"rows:            {len(table)}" in result.output
    assert list(table.columns[5:-1]) == feature_names()
    assert (table["as_of"] == pd.Timestamp("2024-09-02", tz=TIMEZONE)).all()
    expected = build_features(visits, incidents, ["2024-09-02"])
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_features_command_out_option_and_default_snapshot(tmp_path: Path) -> None:
    visits, incidents = random_warehouse(4, n_households=10)
    write_warehouse(tmp_path, visits, incidents)
    out = tmp_path / "x" / "snap.parquet"
    result = CliRunner().invoke(app, ["features", "--home", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert table["label"].isna().all()  # the snapshot's horizon is never observed
    last = max(visits["recorded_at"].max(), incidents["recorded_at"].max())
    assert table["as_of"].iloc[0] == (last.normalize() + pd.Timedelta(days=1))


def test_features_command_on_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["features", "--as-of", "2024-09-02", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "no" in result.output.lower() and "visits" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(EmptyWarehouseError):
        build_feature_table(tmp_path, "2024-09-02")


def test_features_command_rejects_a_bad_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["features", "--as-of", "2024-13-45", "--home", str(tmp_path)])
    assert result.exit_code == 2  # a usage error
    assert "--as-of" in result.output and "Traceback" not in result.output


# --- leakage canary -----------------------------------------------------------


def _out_of_time_auc(seed: int, shuffle: bool) -> float:
    visits, incidents = random_warehouse(
        seed, n_households=300, days=400, planted_signal=True, incidents_per_household=1.5
    )
    dates = weekly_as_of_dates("2024-02-05", "2025-01-06")
    frame = build_features(visits, incidents, dates).dropna(subset=["label"])
    cols = [c for c in feature_names() if c != "context_all_household_type"]
    split = pd.Timestamp("2024-09-01", tz=TIMEZONE)
    train, test = frame[frame["as_of"] < split], frame[frame["as_of"] >= split]
    y_train = train["label"].to_numpy(dtype=int)
    if shuffle:
        y_train = np.random.default_rng(seed).permutation(y_train)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    model.fit(train[cols].fillna(0).to_numpy(), y_train)
    scores = model.predict_proba(test[cols].fillna(0).to_numpy())[:, 1]
    return float(roc_auc_score(test["label"].to_numpy(dtype=int), scores))


@pytest.mark.parametrize("seed", [0])
def test_leakage_canary_shuffled_labels_give_chance_auc_and_planted_signal_is_found(
    seed: int,
) -> None:
    assert _out_of_time_auc(seed, shuffle=False) > 0.7
    assert abs(_out_of_time_auc(seed, shuffle=True) - 0.5) < 0.12
