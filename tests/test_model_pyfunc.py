"""Tests of models.pyfunc: signature, and a round trip through a fresh SQLite
MLflow store (log, register, load by URI and by registry alias, score)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.types import DataType
from mlflow.types.schema import AnyType

from models.errors import ModelNotFittedError
from models.pyfunc import EscalationPyfunc, log_model, signature_for
from models.risk_model import EscalationModel
from tests.test_model_risk import SMALL, synthetic_frame

REGISTERED = "household-escalation"


@pytest.fixture(scope="module")
def model_and_test() -> tuple[EscalationModel, pd.DataFrame]:
    X, _ = synthetic_frame(3000, 31)
    X_val, _ = synthetic_frame(2000, 32)
    X_test, _ = synthetic_frame(500, 33)
    return EscalationModel(**SMALL).fit(X, X["label"], X_val, X_val["label"]), X_test


@pytest.fixture(scope="module")
def logged(tmp_path_factory, model_and_test) -> Iterator[tuple[str, EscalationModel, pd.DataFrame]]:
    """Model logged and registered in a fresh SQLite store under tmp_path."""
    model, X_test = model_and_test
    home: Path = tmp_path_factory.mktemp("mlflow-home")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
    try:
        experiment = mlflow.create_experiment(
            "models-test", artifact_location=(home / "mlartifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment):
            info = log_model(
                model, name="model", input_example=X_test, registered_model_name=REGISTERED
            )
        yield info.model_uri, model, X_test
    finally:
        mlflow.set_tracking_uri(previous)


def messy(X: pd.DataFrame) -> pd.DataFrame:
    """Frame with NaNs, a str column, a category column, extra columns, shuffled order."""
    frame = X.copy()
    frame.loc[frame.index[:10], "disputes_90d_unresolved"] = np.nan
    frame.loc[frame.index[5:15], "context_all_household_type"] = np.nan
    return frame[list(reversed(frame.columns))]


def test_signature_declares_double_features_any_categories_and_reasons_param(
    model_and_test,
) -> None:
    model, _ = model_and_test
    signature = signature_for(model)
    types = {spec.name: spec.type for spec in signature.inputs.inputs}
    assert list(types) == model.feature_names_
    assert types["disputes_90d_unresolved"] == DataType.double
    assert isinstance(types["context_all_household_type"], AnyType)
    params = {p.name: p for p in signature.params.params}
    assert params["reasons"].dtype == DataType.boolean and params["reasons"].default is False


def test_pyfunc_scores_equal_predict_proba_without_mlflow(model_and_test) -> None:
    model, X = model_and_test
    out = EscalationPyfunc(model).predict(None, X)
    assert list(out.columns) == ["score"] and out["score"].dtype == np.float64
    np.testing.assert_array_equal(out["score"].to_numpy(), model.predict_proba(X)[:, 1])


def test_round_trip_through_sqlite_store_gives_identical_scores(logged) -> None:
    uri, model, X = logged
    frame = messy(X)
    for loaded_uri in (uri, f"models:/{REGISTERED}/1"):
        out = mlflow.pyfunc.load_model(loaded_uri).predict(frame)
        np.testing.assert_array_equal(out["score"].to_numpy(), model.predict_proba(frame)[:, 1])


def test_round_trip_accepts_str_typed_categories(logged) -> None:
    uri, model, X = logged
    frame = X.assign(context_all_household_type=X["context_all_household_type"].astype("str"))
    out = mlflow.pyfunc.load_model(uri).predict(frame)
    np.testing.assert_array_equal(out["score"].to_numpy(), model.predict_proba(X)[:, 1])


def test_registered_alias_loads(logged) -> None:
    uri, model, X = logged
    MlflowClient().set_registered_model_alias(REGISTERED, "champion", "1")
    out = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion").predict(X.head(5))
    np.testing.assert_array_equal(out["score"].to_numpy(), model.predict_proba(X.head(5))[:, 1])


def test_reasons_param_adds_json_reasons(logged) -> None:
    uri, model, X = logged
    rows = X.head(8)
    out = mlflow.pyfunc.load_model(uri).predict(rows, params={"reasons": True})
    assert list(out.columns) == ["score", "reasons"]
    expected = model.explain(rows)
    for text, row in zip(out["reasons"], expected, strict=True):
        parsed = json.loads(text)
        assert [r["code"] for r in parsed] == [r.code for r in row]
        for item in parsed:
            assert set(item) == {"code", "text_en", "text_zh", "contribution"}
            assert item["contribution"] > 0


def test_unwrap_gives_back_the_escalation_model(logged) -> None:
    uri, model, X = logged
    unwrapped = mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    assert isinstance(unwrapped, EscalationModel)
    assert unwrapped.booster_.model_to_string() == model.booster_.model_to_string()
    np.testing.assert_array_equal(unwrapped.predict_proba(X), model.predict_proba(X))


def test_logging_an_unfitted_model_is_refused(model_and_test) -> None:
    _, X = model_and_test
    with pytest.raises(ModelNotFittedError):
        log_model(EscalationModel(), name="model", input_example=X)
