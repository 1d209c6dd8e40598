"""Serving never unpickles: the model bundle as data, promotion signatures, and a hostile registry.

Reproduces finding 1 of issue #10: a registered version whose artifact runs code
when unpickled, aliased ``champion`` by hand, must never run inside the API; the
old model keeps serving and ``/readyz`` says why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.pyfunc import PythonModel

from models.bundle import (
    BOOSTER_FILE,
    BUNDLE_ARTIFACT_PATH,
    SPEC_FILE,
    BundleError,
    load_bundle,
    save_bundle,
)
from models.pyfunc import log_model
from models.risk_model import EscalationModel
from models.signing import (
    SIGNATURE_TAG,
    SigningError,
    SigningKeyError,
    load_verified,
    sign_version,
    signing_key_bytes,
)
from serving.app import create_app
from serving.auth import TokenStore
from serving.config import ServingSettings
from tests.test_model_risk import SMALL, synthetic_frame
from tests.warehouse_factory import random_warehouse, write_warehouse

NAME = "household-escalation"
KEY = "unit-test-signing-key-0123456789-abcdef"


def _touch_marker(path: str) -> None:
    """What the hostile pickle runs when loaded: proof that code ran."""
    Path(path).write_text("code ran", encoding="utf-8")


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_touch_marker, (self.marker,))


class HostileModel(PythonModel):
    """A pyfunc model whose unpickling writes a marker file."""

    def __init__(self, marker: str) -> None:
        self.payload = _RunsCodeWhenUnpickled(marker)

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def,override]
        return model_input


@pytest.fixture(scope="module")
def fitted() -> tuple[EscalationModel, pd.DataFrame]:
    X, _ = synthetic_frame(2000, 41)
    X_val, _ = synthetic_frame(1500, 42)
    X_test, _ = synthetic_frame(400, 43)
    return EscalationModel(**SMALL).fit(X, X["label"], X_val, X_val["label"]), X_test


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_bundle_round_trip_scores_and_explains_exactly_as_the_fitted_model(
    method: str, tmp_path: Path
) -> None:
    X, _ = synthetic_frame(1500, 51)
    X_val, _ = synthetic_frame(1000, 52)
    X_test, _ = synthetic_frame(300, 53)
    model = EscalationModel(**{**SMALL, "calibration": method}).fit(
        X, X["label"], X_val, X_val["label"]
    )
    hashes = save_bundle(model, tmp_path)
    assert sorted(hashes) == sorted([BOOSTER_FILE, SPEC_FILE])
    spec = json.loads((tmp_path / SPEC_FILE).read_text(encoding="utf-8"))
    assert spec["calibration"]["kind"] == method
    loaded = load_bundle(tmp_path)
    np.testing.assert_allclose(
        loaded.predict_proba(X_test)[:, 1], model.predict_proba(X_test)[:, 1], rtol=0, atol=1e-12
    )
    assert [[r.code for r in row] for row in loaded.explain(X_test.head(20))] == [
        [r.code for r in row] for row in model.explain(X_test.head(20))
    ]


def test_save_bundle_refuses_a_calibrator_it_cannot_express_as_data(
    fitted: tuple[EscalationModel, pd.DataFrame], tmp_path: Path
) -> None:
    model, _ = fitted

    class Opaque:
        def predict(self, raw: np.ndarray) -> np.ndarray:
            return np.full(len(raw), 0.5)

    class Wrapper:
        method = "spline"  # a map this format cannot hold
        _map = Opaque()

    clone = load_bundle(_saved(model, tmp_path / "ok"))
    clone.calibrator_ = Wrapper()  # type: ignore[assignment]
    with pytest.raises(BundleError, match="expected a fitted isotonic, sigmoid or none calibrator"):
        save_bundle(clone, tmp_path / "bad")


def _saved(model: EscalationModel, folder: Path) -> Path:
    save_bundle(model, folder)
    return folder


def test_load_bundle_refuses_other_formats_plainly(
    fitted: tuple[EscalationModel, pd.DataFrame], tmp_path: Path
) -> None:
    folder = _saved(fitted[0], tmp_path)
    (folder / SPEC_FILE).write_text('{"format": "pickle"}', encoding="utf-8")
    with pytest.raises(BundleError, match="expected format 'revisit-escalation-bundle'"):
        load_bundle(folder)


@pytest.mark.parametrize("key", [None, "", "short-key", "x" * 31])
def test_signing_key_shorter_than_32_bytes_is_refused_without_echoing_it(key: str | None) -> None:
    with pytest.raises(SigningKeyError) as info:
        signing_key_bytes(key)
    assert "REVISIT_SIGNING_KEY" in str(info.value)
    if key:
        assert key not in str(info.value)
    assert signing_key_bytes("k" * 32) == b"k" * 32


# ------------------------------------------------------------ a hostile registry
@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, fitted: tuple[EscalationModel, pd.DataFrame]
) -> Iterator[tuple[Path, MlflowClient, str]]:
    """A home with a warehouse and version 1 (a real model, signed, champion)."""
    from features.asof import weekly_as_of_dates
    from features.build import build_features

    home = tmp_path_factory.mktemp("signing") / "home"
    visits, incidents = random_warehouse(7, n_households=120, days=200, n_villages=3)
    write_warehouse(home, visits, incidents)
    start = pd.Timestamp("2024-03-04", tz="Asia/Shanghai")
    table = build_features(
        visits, incidents, weekly_as_of_dates(start, start + pd.Timedelta(days=120))
    )
    table = table[table["label"].notna()]
    cut = table["as_of"].quantile(0.6)
    train, val = table[table["as_of"] <= cut], table[table["as_of"] > cut]
    model = EscalationModel(n_estimators=30, learning_rate=0.1, early_stopping_rounds=5).fit(
        train, train["label"].astype(int), val, val["label"].astype(int)
    )
    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    saved_uri, saved_env = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "signing-test", artifact_location=(home / "mlartifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment):
            log_model(model, name="model", input_example=val.head(5), registered_model_name=NAME)
        client = MlflowClient(uri)
        sign_version(client, NAME, "1", KEY)
        client.set_registered_model_alias(NAME, "champion", "1")
        yield home, client, experiment
    finally:
        mlflow.set_tracking_uri(saved_uri)
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def _settings(home: Path, key: str | None = KEY) -> ServingSettings:
    return ServingSettings(
        home=home,
        mlflow_tracking_uri=f"sqlite:///{home.resolve() / 'mlflow.db'}",
        signing_key=key,
    )


def _register_hostile(
    home: Path, experiment: str, marker: Path, *, copy_bundle_from: str | None
) -> str:
    """Register a version whose pyfunc pickle writes ``marker``; return its version number."""
    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    saved_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            if copy_bundle_from is not None:
                mlflow.log_artifacts(copy_bundle_from, artifact_path=BUNDLE_ARTIFACT_PATH)
            mlflow.pyfunc.log_model(
                name="model",
                python_model=HostileModel(str(marker)),
                registered_model_name=NAME,
            )
        client = MlflowClient(uri)
        versions = client.search_model_versions(f"name='{NAME}' and run_id='{run.info.run_id}'")
        # MLflow loads a logged pyfunc back to check it, in this (test) process: the payload
        # is live. Clear its marker so that only a load by serving could write it again.
        marker.unlink(missing_ok=True)
        return str(versions[0].version)
    finally:
        mlflow.set_tracking_uri(saved_uri)


def test_a_hostile_version_aliased_by_hand_never_runs_and_the_old_model_keeps_serving(
    registry: tuple[Path, MlflowClient, str], tmp_path: Path
) -> None:
    home, client, experiment = registry
    marker = tmp_path / "pwned"
    # Make sure the payload really runs code when unpickled (the test can fail).
    import cloudpickle

    cloudpickle.loads(cloudpickle.dumps(_RunsCodeWhenUnpickled(str(tmp_path / "probe"))))
    assert (tmp_path / "probe").exists()

    admin, _ = TokenStore(home / "tokens.json").issue("admin", label="ops")
    h = {"Authorization": f"Bearer {admin}"}
    with TestClient(create_app(_settings(home))) as api:
        assert api.get("/readyz", headers=h).json()["model_version"] == "1"
        bad = _register_hostile(home, experiment, marker, copy_bundle_from=None)
        client.set_registered_model_alias(NAME, "champion", bad)  # by hand, no promote
        try:
            reload = api.post("/v1/admin/reload", headers=h)
            assert reload.status_code == 503
            assert "not signed" in reload.json()["detail"]
            ready = api.get("/readyz", headers=h).json()
            assert ready["model_version"] == "1"
            assert ready["status"] == "degraded" and "not signed" in ready["last_reload_error"]
            assert not marker.exists()
        finally:
            client.set_registered_model_alias(NAME, "champion", "1")
    assert not marker.exists()


def test_a_copied_signature_or_an_altered_artifact_is_refused(
    registry: tuple[Path, MlflowClient, str],
    fitted: tuple[EscalationModel, pd.DataFrame],
    tmp_path: Path,
) -> None:
    home, client, experiment = registry
    good = load_verified(client, NAME, "1", KEY)
    assert good.version == "1" and set(good.hashes) == {BOOSTER_FILE, SPEC_FILE}
    with pytest.raises(SigningError, match="does not match"):
        load_verified(client, NAME, "1", "another-key-of-enough-length-0123456789")

    # Another version that carries a (different) valid-looking bundle and v1's signature.
    bundle = _saved(fitted[0], tmp_path / "bundle")
    copied = _register_hostile(home, experiment, tmp_path / "m", copy_bundle_from=str(bundle))
    signature = client.get_model_version(NAME, "1").tags[SIGNATURE_TAG]
    client.set_model_version_tag(NAME, copied, SIGNATURE_TAG, signature)
    with pytest.raises(SigningError, match="does not match"):
        load_verified(client, NAME, copied, KEY)

    # Signed properly, then its booster altered in the artifact store.
    sign_version(client, NAME, copied, KEY)
    assert load_verified(client, NAME, copied, KEY).version == copied
    run_id = client.get_model_version(NAME, copied).run_id
    stored = next(
        (home / "mlartifacts").rglob(f"{run_id}/artifacts/{BUNDLE_ARTIFACT_PATH}/{BOOSTER_FILE}")
    )
    stored.write_text(stored.read_text(encoding="utf-8").replace("leaf_value=", "leaf_value=1", 1))
    with pytest.raises(SigningError, match="does not match"):
        load_verified(client, NAME, copied, KEY)
    assert not (tmp_path / "m").exists()


def test_serving_without_a_signing_key_serves_nothing_and_says_why(
    registry: tuple[Path, MlflowClient, str],
) -> None:
    home, _, _ = registry
    admin, _ = TokenStore(home / "tokens.json").issue("admin", label="ops2")
    with TestClient(create_app(_settings(home, key=None))) as api:
        ready = api.get("/readyz", headers={"Authorization": f"Bearer {admin}"})
        assert ready.status_code == 503
        assert "REVISIT_SIGNING_KEY is not set" in ready.json()["last_reload_error"]
