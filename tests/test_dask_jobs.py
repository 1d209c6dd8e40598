"""The feature job and the model on a Dask LocalCluster of 2 workers.

Invariants: Dask features (partitions of whole townships) are identical to the
single-machine feature job on the same warehouse; a model fitted with
``lightgbm.dask`` (rounds from a single-machine pilot) has a test precision@5 % inside
the single-machine model's bootstrap interval; addresses are parsed or refused in
plain words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.build import build_features
from features.distributed import (
    DaskAddressError,
    build_features_dask,
    dask_client,
    parse_address,
    read_feature_dataset,
    township_partitions,
)
from tests.warehouse_factory import random_warehouse, write_warehouse

AS_OF = ["2024-06-03", "2024-09-02"]


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with dask_client(parse_address("local:2"), memory_limit="1GB") as c:
        yield c


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dask") / "home"
    visits, incidents = random_warehouse(
        5, n_households=1200, days=400, visits_per_household=10, n_villages=6, planted_signal=True
    )
    write_warehouse(root, visits, incidents)
    return root


def test_addresses_parse_or_are_refused_in_plain_words() -> None:
    assert parse_address("local").n_workers == 2 and parse_address("local").is_local
    assert parse_address("local:3").n_workers == 3
    assert parse_address("tcp://10.0.0.5:8786").scheduler == "tcp://10.0.0.5:8786"
    for bad in ("local:0", "10.0.0.5:8786", "cluster"):
        with pytest.raises(DaskAddressError, match="expected a Dask address|N >= 1"):
            parse_address(bad)


def test_partitions_hold_whole_townships_and_every_household_once(home: Path) -> None:
    parts = township_partitions(home, 4)
    visits = pd.read_parquet(home / "warehouse" / "visits.parquet")
    everyone = sorted(visits["household_id"].astype(str).unique())
    assert sorted(h for p in parts for h in p) == everyone
    by_house = visits.drop_duplicates("household_id").set_index("household_id")["township"]
    townships = [set(by_house.loc[list(p)]) for p in parts]
    assert all(not (a & b) for i, a in enumerate(townships) for b in townships[i + 1 :])


def test_dask_features_are_identical_to_the_single_machine_job(client, home, tmp_path) -> None:
    from warehouse.store import read_incidents, read_visits

    rows = build_features_dask(home, AS_OF, client, tmp_path / "features")
    got = read_feature_dataset(tmp_path / "features")
    expected = build_features(read_visits(home), read_incidents(home), AS_OF)
    assert rows == len(expected) > 0
    assert len(list((tmp_path / "features").glob("part-*.parquet"))) == 2
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_categorical=False)


def test_dask_model_precision_at_5pct_is_inside_the_single_machine_interval(
    client, home, tmp_path
) -> None:
    from training.config import TrainConfig
    from training.dask_fit import DaskFitter
    from training.evaluation import evaluate_scores
    from training.frame import build_frame_pieces
    from training.scoring import fit_model, score_fold
    from training.train import plan_folds, read_warehouse, training_as_of_dates

    config = TrainConfig.model_validate(
        {
            "n_bootstrap": 100,
            "negative_share": 0.5,
            "splits": {"n_folds": 1, "test_weeks": 6, "val_weeks": 4},
            "lightgbm": {
                "n_estimators": 150,
                "early_stopping_rounds": 20,
                "min_child_samples": 20,
                "n_jobs": 1,
            },
        }  # fmt: skip
    )
    visits, incidents, _ = read_warehouse(home)
    dates = training_as_of_dates(visits, incidents, config)
    plan = plan_folds(dates, dates[:-5], config)
    pieces = build_frame_pieces(
        visits, incidents, plan.dates, plan.test_dates, tmp_path / "frame",
        horizon_days=30, escalation_categories=config.escalation_categories,
        negative_share=config.negative_share, random_state=0,
    )  # fmt: skip
    fold = plan.folds[0]
    fitter = DaskFitter(client, "local:2", pilot_rows=200_000)
    single = score_fold(pieces, fold, pieces.feature_names, config, None, fit_model)
    dask = score_fold(pieces, fold, pieces.feature_names, config, None, fitter)
    assert fitter.rounds[fold.name] >= 1
    assert fitter.params()["dask.rounds.fold1"] == str(fitter.rounds["fold1"])

    def p5(scored: pd.DataFrame, boot: int) -> pd.Series:
        table = evaluate_scores(
            scored, config.model_copy(update={"n_bootstrap": boot}), ["lightgbm", "hand_rule"]
        )
        table = table[table["model"] == "lightgbm"]
        return table.set_index("metric").loc["precision_at_5pct"]

    reference, got = p5(single, 100), p5(dask, 0)
    assert reference["ci_low"] <= got["value"] <= reference["ci_high"], (got, reference)
