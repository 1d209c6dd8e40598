"""Promotion gates: `champion` moves only to a version that beats the strongest officer rule
(lower bound of the lift at the top 1 % above 1) and is not worse than the champion on the
same latest weeks (lower bound of the paired difference >= -0.005); overrides are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from training.registry import PromotionRefused, RegistryError, promote

NAME = "household-escalation"
LIFT = "test.lift_vs_rule.lightgbm.precision_at_1pct"
DIFF = "vs_champion.diff_precision_at_1pct"


def _version(
    uri: str,
    lift_low: float | None = 1.2,
    *,
    champion: str | None = None,
    diff_low: float | None = None,
    alias: str | None = "challenger",
) -> str:
    """Register a version whose run logged the evidence figures the gates read."""
    client = mlflow.MlflowClient(uri)
    metrics: dict[str, float] = {}
    if lift_low is not None:
        metrics |= {
            "test.lightgbm.precision_at_1pct": 0.20,
            "test.strongest_rule.precision_at_1pct": 0.10,
            LIFT: 2.0,
            f"{LIFT}.ci_low": lift_low,
            f"{LIFT}.ci_high": 3.0,
        }
    if diff_low is not None:
        metrics |= {DIFF: diff_low + 0.01, f"{DIFF}.ci_low": diff_low, f"{DIFF}.ci_high": 0.05}
    experiment = client.get_experiment_by_name("Default")
    run = client.create_run(experiment.experiment_id if experiment else "0")
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_tag(run.info.run_id, "test.strongest_rule.precision_at_1pct", "prior-escalations")
    if champion is not None:
        client.set_tag(run.info.run_id, "vs_champion.version", champion)
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(f"name='{NAME}'"):
        client.create_registered_model(NAME)
    mv = client.create_model_version(NAME, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    if alias:
        client.set_registered_model_alias(NAME, alias, mv.version)
    return str(mv.version)


@pytest.fixture()
def uri(tmp_path: Path) -> Iterator[str]:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None restores the default


def _champion(uri: str) -> str | None:
    try:
        return str(mlflow.MlflowClient(uri).get_model_version_by_alias(NAME, "champion").version)
    except mlflow.exceptions.MlflowException:
        return None


def _tags(uri: str, version: str) -> dict[str, str]:
    return dict(mlflow.MlflowClient(uri).get_model_version(NAME, version).tags)


def test_first_version_whose_lift_lower_bound_exceeds_one_is_promoted_with_its_reason(
    uri: str,
) -> None:
    v1 = _version(uri, lift_low=1.05)
    result = promote(tracking_uri=uri, model_name=NAME)
    assert (result.version, result.previous_champion, result.forced) == (v1, None, False)
    assert (result.model_value, result.rule_value) == (0.20, 0.10)
    assert result.strongest_rule == "prior-escalations"
    assert _champion(uri) == v1
    tags = _tags(uri, v1)
    assert tags["promotion.decision"] == "promoted"
    assert "strongest officer rule" in tags["promotion.reason"]
    assert f"{LIFT}.ci_low=1.0500" in tags["promotion.figures"]


@pytest.mark.parametrize("lift_low", [0.98, 1.0])
def test_lift_lower_bound_at_or_below_one_is_refused_with_figures_and_recorded(
    uri: str, lift_low: float
) -> None:
    bad = _version(uri, lift_low=lift_low)
    with pytest.raises(PromotionRefused, match=rf"lower bound {lift_low:.4f}") as info:
        promote(tracking_uri=uri, model_name=NAME)
    assert info.value.figures[f"{LIFT}.ci_low"] == lift_low
    assert _champion(uri) is None
    assert _tags(uri, bad)["promotion.decision"] == "refused"


def test_challenger_worse_than_champion_on_same_weeks_is_refused(uri: str) -> None:
    v1 = _version(uri)
    promote(tracking_uri=uri, model_name=NAME)
    worse = _version(uri, champion=v1, diff_low=-0.0051)
    with pytest.raises(PromotionRefused, match=r"against champion version 1 .* -0\.0051"):
        promote(tracking_uri=uri, model_name=NAME, version=worse)
    assert _champion(uri) == v1
    level = _version(uri, champion=v1, diff_low=-0.005)  # the boundary passes
    assert promote(tracking_uri=uri, model_name=NAME, version=level).previous_champion == v1
    assert _champion(uri) == level


def test_comparison_with_another_champion_than_todays_is_refused(uri: str) -> None:
    v1 = _version(uri)
    promote(tracking_uri=uri, model_name=NAME)
    uncompared = _version(uri, champion=None, diff_low=None)
    with pytest.raises(PromotionRefused, match="compared with champion version none"):
        promote(tracking_uri=uri, model_name=NAME, version=uncompared)
    assert _champion(uri) == v1


def test_force_with_reason_overrides_and_is_recorded_on_version_and_model_card(uri: str) -> None:
    bad = _version(uri, lift_low=0.8)
    with pytest.raises(RegistryError, match="needs a reason"):
        promote(tracking_uri=uri, model_name=NAME, force=True, reason="  ")
    result = promote(
        tracking_uri=uri, model_name=NAME, force=True, reason="small county: 12 events"
    )
    assert result.forced and _champion(uri) == bad
    tags = _tags(uri, bad)
    assert tags["promotion.decision"] == "forced"
    assert "small county: 12 events" in tags["promotion.reason"]
    client = mlflow.MlflowClient(uri)
    run_id = client.get_model_version(NAME, bad).run_id
    card = mlflow.artifacts.load_text(f"runs:/{run_id}/model_card.md")
    assert "Promotion override" in card and "small county: 12 events" in card
    assert "lower bound 0.8000" in card


def test_promote_without_evidence_metrics_or_version_is_a_plain_registry_error(uri: str) -> None:
    with pytest.raises(RegistryError, match="run revisit train first"):
        promote(tracking_uri=uri, model_name=NAME)
    no_metrics = _version(uri, lift_low=None)
    with pytest.raises(RegistryError, match="test.lightgbm.precision_at_1pct"):
        promote(tracking_uri=uri, model_name=NAME, version=no_metrics)
    with pytest.raises(RegistryError, match="expected a registered version '99'"):
        promote(tracking_uri=uri, model_name=NAME, version=99)


def test_cli_promote_refusal_exits_3_with_figures_and_force_needs_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from revisit.cli import app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("REVISIT_MODEL_NAME", raising=False)
    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    _version(uri, lift_low=0.9)
    result = CliRunner().invoke(app, ["promote", "--home", str(tmp_path)])
    assert result.exit_code == 3
    assert "lower bound 0.9000" in result.output and "Traceback" not in result.output
    assert _champion(uri) is None
    result = CliRunner().invoke(app, ["promote", "--home", str(tmp_path), "--force"])
    assert result.exit_code == 2 and "--reason" in result.output
    result = CliRunner().invoke(
        app, ["promote", "--home", str(tmp_path), "--force", "--reason", "pilot county"]
    )
    assert result.exit_code == 0, result.output
    assert "OVERRIDE" in result.output and _champion(uri) == "1"
