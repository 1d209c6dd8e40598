"""Test-wide isolation: no test may leak MLflow's tracking URI or Revisit's home into another."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_ISOLATED_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "REVISIT_HOME", "REVISIT_ID_SECRET")


@pytest.fixture(autouse=True)
def _isolate_mlflow_and_env() -> Iterator[None]:
    """Restore MLflow's process-wide tracking URI and the Revisit variables after each test.

    ``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` into the environment,
    so a test that trains into its own tmp store would otherwise point every later
    test at that store.
    """
    saved = {key: os.environ.get(key) for key in _ISOLATED_ENV}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    import mlflow

    mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None unsets it and its variable
    mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        if saved[key] is None:
            os.environ.pop(key, None)
