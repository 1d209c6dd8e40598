"""Integration: the API and `revisit rank` on a real warehouse and a real registered champion."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from typer.testing import CliRunner

from features.asof import weekly_as_of_dates
from features.build import build_features
from models.pyfunc import log_model
from models.risk_model import EscalationModel
from models.signing import sign_version
from revisit.cli import app as cli
from serving.app import create_app
from serving.auth import TokenStore
from serving.config import ServingSettings
from tests.warehouse_factory import random_warehouse, write_warehouse

NAME = "household-escalation"
#: Test-only signing key (32 bytes or more): the champion is signed as `revisit promote` would.
SIGNING_KEY = "test-signing-key-0123456789abcdef-0123"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A warehouse of 300 households and a champion trained on its weekly features."""
    home = tmp_path_factory.mktemp("registry-home")
    visits, incidents = random_warehouse(5, n_households=300, days=400, n_villages=4)
    write_warehouse(home, visits, incidents)
    start = pd.Timestamp("2024-03-04", tz="Asia/Shanghai")
    dates = weekly_as_of_dates(start, start + pd.Timedelta(days=250))
    table = build_features(visits, incidents, dates)
    table = table[table["label"].notna()]
    cut = table["as_of"].quantile(0.7)
    train, val = table[table["as_of"] <= cut], table[table["as_of"] > cut]
    model = EscalationModel(n_estimators=60, learning_rate=0.1, early_stopping_rounds=10)
    model.fit(train, train["label"].astype(int), val, val["label"].astype(int))
    settings = settings_for(home)
    previous = mlflow.get_tracking_uri()
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(settings.tracking_uri)
    try:
        experiment = mlflow.create_experiment(
            "serving-test", artifact_location=(home / "mlartifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric("test_average_precision", 0.25)
            mlflow.log_param("horizon_days", 30)
            log_model(model, name="model", input_example=val.head(5), registered_model_name=NAME)
        client = MlflowClient(settings.tracking_uri)
        sign_version(client, NAME, "1", SIGNING_KEY)
        client.set_registered_model_alias(NAME, "champion", "1")
    finally:
        mlflow.set_tracking_uri(previous)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env
    yield home


def registry_env(home: Path) -> dict[str, str | None]:
    """Environment of the CLI runs: the registry under ``home``."""
    return {
        "MLFLOW_TRACKING_URI": settings_for(home).tracking_uri,
        "REVISIT_SIGNING_KEY": SIGNING_KEY,
    }


def settings_for(home: Path) -> ServingSettings:
    """Settings pointing at the registry under ``home`` whatever the environment says."""
    return ServingSettings(
        home=home,
        mlflow_tracking_uri=f"sqlite:///{home.resolve() / 'mlflow.db'}",
        signing_key=SIGNING_KEY,
    )


def test_api_serves_the_registered_champion_on_the_warehouse_snapshot(home: Path) -> None:
    token, _ = TokenStore(home / "tokens.json").issue("analyst", label="desk")
    admin, _ = TokenStore(home / "tokens.json").issue("admin", label="ops")
    with TestClient(create_app(settings_for(home))) as client:
        ready = client.get("/readyz", headers={"Authorization": f"Bearer {admin}"}).json()
        assert ready["status"] == "ready", ready
        assert ready["model_version"] == "1" and ready["n_households"] > 100
        h = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}
        model = client.get("/v1/model", headers=h).json()
        assert model["metrics"]["test_average_precision"] == 0.25
        county = client.get("/v1/priority-list?county=nope", headers=h)
        assert county.status_code == 404
        hid = client.get(f"/v1/households/{'x'}", headers=h)
        assert hid.status_code == 404
        townships = sorted(
            pd.read_parquet(home / "warehouse" / "visits.parquet")["township"].unique()
        )
        body = client.get(f"/v1/priority-list?township={townships[0]}&limit=10", headers=h).json()
        items = body["items"]
        assert items and body["model_version"] == "1"
        scores = [it["score"] for it in items]
        assert scores == sorted(scores, reverse=True)
        assert all(0 <= s <= 1 for s in scores)
        assert any(it["reasons"] for it in items)
        reason = next(r for it in items for r in it["reasons"])
        assert reason["text"] == reason["text_zh"] and reason["text_en"]
        one = client.get(f"/v1/households/{items[0]['household_id']}", headers=h).json()
        assert one["score"] == pytest.approx(items[0]["score"])
        assert "visits_all_days_since_last" in one["history"]


def test_rank_command_prints_the_same_list_without_a_server(home: Path) -> None:
    townships = sorted(pd.read_parquet(home / "warehouse" / "visits.parquet")["township"].unique())
    result = CliRunner().invoke(
        cli,
        [
            "rank",
            "--township",
            townships[0],
            "--limit",
            "5",
            "--format",
            "json",
            "--home",
            str(home),
        ],
        env=registry_env(home),
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["model_version"] == "1" and len(body["items"]) == 5
    table = CliRunner().invoke(
        cli, ["rank", "--township", townships[0], "--home", str(home)], env=registry_env(home)
    )
    assert table.exit_code == 0, table.output
    assert "Early-warning notice" in table.stdout
    missing = CliRunner().invoke(
        cli, ["rank", "--township", "nope", "--home", str(home)], env=registry_env(home)
    )
    assert missing.exit_code == 1 and "no township named 'nope'" in missing.output
