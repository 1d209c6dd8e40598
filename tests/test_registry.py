"""Promotion: `champion` moves only to a version that beats the hand rule on test precision@k."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from models.bundle import BUNDLE_ARTIFACT_PATH, BUNDLE_FILES
from models.signing import SIGNATURE_TAG, SigningKeyError
from training.registry import PromotionRefused, RegistryError, promote

NAME = "household-escalation"
KEY = "registry-test-signing-key-0123456789abcdef"


def _version(
    uri: str, model: float | None, rule: float | None, alias: str | None = "challenger"
) -> str:
    """Register a version whose run logged the given test precision@5 % figures."""
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    metrics = {}
    if model is not None:
        metrics["test.lightgbm.precision_at_5pct"] = model
    if rule is not None:
        metrics["test.hand_rule.precision_at_5pct"] = rule
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        for name in BUNDLE_FILES:  # stand-ins: signing hashes the files, never parses them
            mlflow.log_text(f"{name} of run {run.info.run_id}", f"{BUNDLE_ARTIFACT_PATH}/{name}")
    if not client.search_registered_models(f"name='{NAME}'"):
        client.create_registered_model(NAME)
    mv = client.create_model_version(NAME, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    if alias:
        client.set_registered_model_alias(NAME, alias, mv.version)
    return str(mv.version)


@pytest.fixture()
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _champion(uri: str) -> str | None:
    try:
        return str(mlflow.MlflowClient(uri).get_model_version_by_alias(NAME, "champion").version)
    except mlflow.exceptions.MlflowException:
        return None


def test_promote_moves_champion_to_the_challenger_that_beats_the_hand_rule(uri: str) -> None:
    v1 = _version(uri, model=0.30, rule=0.10)
    result = promote(tracking_uri=uri, model_name=NAME, signing_key=KEY)
    assert (result.version, result.previous_champion) == (v1, None)
    assert (result.model_value, result.hand_rule_value) == (0.30, 0.10)
    assert _champion(uri) == v1
    v2 = _version(uri, model=0.40, rule=0.10)
    assert (
        promote(
            tracking_uri=uri, model_name=NAME, signing_key=KEY, version=int(v2)
        ).previous_champion
        == v1
    )
    assert _champion(uri) == v2


def test_promote_refuses_a_version_not_above_the_hand_rule_and_names_both_figures(uri: str) -> None:
    good = _version(uri, model=0.30, rule=0.10)
    promote(tracking_uri=uri, model_name=NAME, signing_key=KEY)
    for model_value in (0.08, 0.10):  # below, and a tie: a tie does not beat the rule
        bad = _version(uri, model=model_value, rule=0.10)
        with pytest.raises(
            PromotionRefused, match=rf"{model_value:.4f} for the model vs 0.1000 for the hand rule"
        ):
            promote(tracking_uri=uri, model_name=NAME, signing_key=KEY, version=bad)
        assert _champion(uri) == good


def test_promote_without_challenger_metrics_or_version_is_a_plain_registry_error(uri: str) -> None:
    with pytest.raises(RegistryError, match="run revisit train first"):
        promote(tracking_uri=uri, model_name=NAME, signing_key=KEY)
    no_metrics = _version(uri, model=None, rule=None)
    with pytest.raises(RegistryError, match="test.lightgbm.precision_at_5pct"):
        promote(tracking_uri=uri, model_name=NAME, signing_key=KEY, version=no_metrics)
    with pytest.raises(RegistryError, match="expected a registered version '99'"):
        promote(tracking_uri=uri, model_name=NAME, signing_key=KEY, version=99)


def test_promote_signs_the_version_and_refuses_without_a_long_enough_key(uri: str) -> None:
    v1 = _version(uri, model=0.30, rule=0.10)
    for key in (None, "too-short"):
        with pytest.raises(SigningKeyError, match="REVISIT_SIGNING_KEY"):
            promote(tracking_uri=uri, model_name=NAME, signing_key=key)
        assert _champion(uri) is None
    promote(tracking_uri=uri, model_name=NAME, signing_key=KEY)
    tags = mlflow.MlflowClient(uri).get_model_version(NAME, v1).tags
    assert _champion(uri) == v1 and len(tags[SIGNATURE_TAG]) == 64


def test_cli_promote_refusal_exits_non_zero_in_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from revisit.cli import app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("REVISIT_MODEL_NAME", raising=False)
    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    _version(uri, model=0.05, rule=0.10)
    result = CliRunner().invoke(
        app, ["promote", "--home", str(tmp_path)], env={"REVISIT_SIGNING_KEY": KEY}
    )
    assert result.exit_code == 3
    assert "does not beat the hand rule" in result.output and "Traceback" not in result.output
    assert _champion(uri) is None
