"""The training run end to end on a small synthetic warehouse, into a tmp MLflow store.

Invariants: one run holds params, metrics and artifacts without personal data; the
new version carries alias ``challenger``; same warehouse and seed give an identical
booster; labels shuffled through the whole path give a test ROC AUC of about 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import features.build
from revisit.cli import app
from tests.warehouse_factory import random_warehouse, write_warehouse
from training.config import TrainConfig
from training.train import (
    TrainingError,
    run_training,
    training_as_of_dates,
    warehouse_hash,
)
from warehouse.contract import DEFAULT_ESCALATION_CATEGORIES, TIMEZONE

N_HOUSEHOLDS = 400
SMALL = {
    "n_bootstrap": 20,
    "shap_sample": 200,
    "splits": {"n_folds": 2, "test_weeks": 4, "val_weeks": 4},
    "lightgbm": {
        "n_estimators": 200,
        "early_stopping_rounds": 20,
        "min_child_samples": 20,
        "n_jobs": 1,
    },
}


def _home(root: Path, seed: int = 1) -> Path:
    home = root / "home"
    visits, incidents = random_warehouse(
        seed, n_households=N_HOUSEHOLDS, days=400, visits_per_household=10, planted_signal=True
    )
    write_warehouse(home, visits, incidents)
    # a simulator-style oracle for every household and Monday (plumbing): it knows the outcome
    # (high where an escalation follows within 30 days), so that, like the simulator's own
    # probability, no honest model beats it (the leakage canary would refuse one that did)
    mondays = pd.date_range("2023-12-25", "2025-03-03", freq="W-MON", tz=TIMEZONE)
    ids = visits["household_id"].unique()
    rng = np.random.default_rng(seed)
    oracle = pd.DataFrame(
        {
            "household_id": pd.array(np.repeat(ids, len(mondays)), dtype="str"),
            "as_of": np.tile(mondays, len(ids)),
            "oracle_prob": rng.uniform(0, 0.3, len(ids) * len(mondays)),
        }
    )
    esc = incidents[incidents["category"].isin(DEFAULT_ESCALATION_CATEGORIES)]
    for hid, when in zip(esc["household_id"].astype(str), esc["reported_at"], strict=True):
        hit = (oracle["household_id"] == hid) & (oracle["as_of"] <= when)
        hit &= oracle["as_of"] > when - pd.Timedelta(days=30)
        oracle.loc[hit, "oracle_prob"] = 0.9
    (home / "ground_truth").mkdir()
    oracle.to_parquet(home / "ground_truth" / "oracle.parquet")
    (home / "train.toml").write_text(
        "n_bootstrap = 20\nshap_sample = 200\n[splits]\nn_folds = 2\n"
        "[lightgbm]\nn_estimators = 200\nearly_stopping_rounds = 20\nmin_child_samples = 20\nn_jobs = 1\n"
    )
    return home


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One `revisit train` through the CLI, then `revisit promote`."""
    home = _home(tmp_path_factory.mktemp("run"))
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MLFLOW_TRACKING_URI", "REVISIT_HOME", "REVISIT_MODEL_NAME"):
            mp.delenv(var, raising=False)
        runner = CliRunner()
        train = runner.invoke(
            app, ["train", "--home", str(home), "--config", str(home / "train.toml")]
        )
        key = {"REVISIT_SIGNING_KEY": "training-run-test-signing-key-0123456789"}
        promote = runner.invoke(app, ["promote", "--home", str(home)], env=key)
        forced = runner.invoke(
            app,
            ["promote", "--home", str(home), "--force", "--reason", "small test world"],
            env=key,
        )
    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    yield {"home": home, "uri": uri, "train": train, "promote": promote, "forced": forced}


def test_cli_train_prints_timings_comparison_and_how_to_review(trained: dict) -> None:
    result = trained["train"]
    assert result.exit_code == 0, result.output
    for text in (
        "build features",
        "lightgbm",
        "hand_rule",
        "oracle",
        "precision_at_5pct",
        "make mlflow-ui",
        "version 1",
        "lift over the strongest officer rule",
        "no_prior_escalation",
        "test size (all):",
        "household resamples",
    ):
        assert text in result.output


def test_run_has_params_metrics_and_artifacts_without_personal_data(trained: dict) -> None:
    client = mlflow.MlflowClient(trained["uri"])
    experiment = client.get_experiment_by_name("revisit")
    assert experiment is not None
    assert experiment.artifact_location.startswith("file://")
    assert experiment.artifact_location.endswith("mlartifacts")
    (run,) = client.search_runs([experiment.experiment_id])
    params, metrics = run.data.params, run.data.metrics
    assert run.info.run_name == f"train-{params['window.as_of_last_labelled']}-seed0"
    assert "precision@5%" in run.data.tags["mlflow.note.content"]
    assert params["warehouse_sha256"] == warehouse_hash(trained["home"])
    assert params["seed"] == "0" and params["horizon_days"] == "30"
    assert params["exclude_suspect_visits"] == "True" and int(params["n_suspect_visits"]) >= 0
    assert (
        "git_commit" in params
        and params["window.as_of_first"] <= params["window.final_validation_end"]
    )
    for model in ("lightgbm", "logistic", "hand_rule", "oracle"):
        assert 0.0 <= metrics[f"test.{model}.roc_auc"] <= 1.0
        assert f"fold1.{model}.precision_at_5pct" in metrics
    low, high = (
        metrics["test.lightgbm.precision_at_5pct.ci_low"],
        metrics["test.lightgbm.precision_at_5pct.ci_high"],
    )
    assert low <= metrics["test.lightgbm.precision_at_5pct"] <= high
    assert "test.lightgbm.lift_precision_at_5pct" in metrics
    assert "test.lightgbm.oracle_share_precision_at_5pct" in metrics
    # the planted signal is learnt: far better than chance and than the hand rule
    assert metrics["test.lightgbm.roc_auc"] > 0.75
    # evidence: the strongest officer rule at each capacity and the paired lift over it
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    for metric in ("precision_at_1pct", "precision_at_5pct", "precision_at_20_per_township"):
        assert run.data.tags[f"test.strongest_rule.{metric}"] in (
            "prior-escalations", "open-disputes", "combined",
        )  # fmt: skip
        lift = f"test.lift_vs_rule.lightgbm.{metric}"
        assert metrics[f"{lift}.ci_low"] <= metrics[lift] <= metrics[f"{lift}.ci_high"]
        # households with no prior escalation: judged when they hold an event
        if metrics["test.size.no_prior_escalation.positives"] > 0:
            assert f"test.no_prior.strongest_rule.{metric}" in metrics
    assert metrics["test.size.all.households"] <= N_HOUSEHOLDS
    assert metrics["test.size.all.positives"] <= metrics["test.size.all.rows"]
    assert "test.lightgbm.calibration_slope" in metrics
    assert "test.lightgbm.observed_top_1pct" in metrics
    assert run.data.tags["vs_champion.version"] == "none"
    assert 0 <= metrics["stability.jaccard_top20_week_to_week.mean"] <= 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    for name in (
        "model_card.md", "metrics_test.csv", "feature_importance.png", "shap_summary.png",
        "pr_curve.png", "precision_at_k.png", "calibration.png",
        "bias_audit_county.csv", "bias_audit_township.csv", "bias_audit_township.png",
        "lift_vs_strongest_rule.csv", "test_size.csv", "calibration_top.csv",
        "reliability_top_decile.png", "vs_champion.csv", "stability_top20.csv",
        "crosstab_top_1pct.csv", "bias_audit_lists_top20.csv",
    ):  # fmt: skip
        assert name in artifacts, sorted(artifacts)
    card = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="model_card.md", tracking_uri=trained["uri"]
        )
    ).read_text()
    for section in (
        "## Intended use",
        "## Data",
        "## Evaluation",
        "## Limits",
        "## Bias audit",
        "## Against the officers' rules",
        "hand_rule",
        "oracle",
    ):
        assert section in card
    visits, _ = random_warehouse(
        1, n_households=N_HOUSEHOLDS, days=400, visits_per_household=10, planted_signal=True
    )
    logged = " ".join([*params.values(), *run.data.tags.values(), card])
    assert not any(hid in logged for hid in visits["household_id"].unique()[:50])


def test_version_is_challenger_with_window_tags_and_promote_moves_champion(trained: dict) -> None:
    client = mlflow.MlflowClient(trained["uri"])
    challenger = client.get_model_version_by_alias("household-escalation", "challenger")
    assert str(challenger.version) == "1"
    for tag in (
        "training_window",
        "last_training_as_of",
        "horizon_days",
        "test.lightgbm.precision_at_5pct",
    ):
        assert tag in challenger.tags
    # the version says what it was trained on and how its fold models compared on test
    described = " ".join((challenger.description or "").split())
    assert f"trained on {challenger.tags['training_window'].split('..')[0]} to" in described
    model_p5 = float(challenger.tags["test.lightgbm.precision_at_5pct"])
    assert f"model {model_p5:.3f}, officers' hand rule" in described
    assert "oracle" in described and "no held-out test of its own" in described
    registered = client.get_registered_model("household-escalation")
    assert "within the next 30 days" in (registered.description or "")
    assert "Intended use" in (registered.description or "")
    # 400 households: 4 rows a week in the top 1 %, too few for a lift interval above 1
    refused = trained["promote"]
    assert refused.exit_code == 3, refused.output
    assert "strongest officer rule" in refused.output and "lower bound" in refused.output
    assert trained["forced"].exit_code == 0, trained["forced"].output
    assert "OVERRIDE" in trained["forced"].output
    tags = client.get_model_version("household-escalation", "1").tags
    assert tags["promotion.decision"] == "forced" and "small test world" in tags["promotion.reason"]
    assert str(client.get_model_version_by_alias("household-escalation", "champion").version) == "1"
    mlflow.set_tracking_uri(trained["uri"])
    model = mlflow.pyfunc.load_model("models:/household-escalation@champion")
    assert model.unwrap_python_model().model.booster_ is not None
    # the promoted version is signed over its serving bundle (data, no pickle)
    from models.signing import SIGNATURE_TAG, load_verified

    assert SIGNATURE_TAG in client.get_model_version("household-escalation", "1").tags
    verified = load_verified(
        client, "household-escalation", "1", "training-run-test-signing-key-0123456789"
    )
    assert verified.model.booster_.num_trees() > 0


def test_empty_warehouse_is_a_plain_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(TrainingError, match="is empty: run revisit ingest first"):
        run_training(
            home=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
            artifact_location=str(tmp_path / "a"), config=TrainConfig(), ground_truth_dir=None,
        )  # fmt: skip
    result = CliRunner().invoke(app, ["train", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "run revisit ingest first" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("extra", [[], ["--params", "missing.json"]])
def test_train_on_a_mistyped_home_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    """``revisit train --home NEW`` created NEW with a lock file and an MLflow store, then failed."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "no-such-home"
    result = CliRunner().invoke(app, ["train", "--home", str(home), *extra])
    assert result.exit_code == 1
    if extra:  # the arguments are checked first
        assert "expected a parameters file (JSON)" in result.output
    else:
        assert "expected a warehouse at" in result.output
        assert "run revisit ingest first" in result.output
    assert "Traceback" not in result.output
    assert not home.exists()


def test_as_of_dates_are_mondays_with_fully_observed_horizon() -> None:
    visits, incidents = random_warehouse(2, n_households=30, days=200)
    dates = training_as_of_dates(visits, incidents, TrainConfig())
    latest = max(visits["recorded_at"].max(), incidents["recorded_at"].max())
    assert dates and all(d.weekday() == 0 and d == d.normalize() for d in dates)
    assert str(dates[0].tz) == TIMEZONE
    assert dates[-1] + pd.Timedelta(days=30) <= latest.normalize() + pd.Timedelta(days=1)
    assert dates[0] >= visits["visited_at"].min().normalize() + pd.Timedelta(days=90)


def _shuffle_labels(seed: int):
    """Labels drawn at random (rate 5 %), independent of features and dates.

    The training frame is built one as-of date at a time (``training.frame``), so
    the canary replaces the label step of the feature job rather than the frame.
    """
    real = features.build._labels_at
    rng = np.random.default_rng(seed)

    def shuffled(inc, n, t, horizon_ns, last_ns):
        labels = real(inc, n, t, horizon_ns, last_ns)
        observed = labels >= 0
        labels[observed] = (rng.random(int(observed.sum())) < 0.05).astype(np.int8)
        return labels

    return shuffled


def _kw(home: Path, tmp_path: Path) -> dict:
    return {
        "home": home,
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "artifact_location": str(tmp_path / "art"),
        "config": TrainConfig.model_validate(SMALL),
        "ground_truth_dir": None,
        "progress": False,
    }


def test_leakage_canary_shuffled_labels_through_the_whole_path_give_chance_auc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained: dict
) -> None:
    monkeypatch.setattr(features.build, "_labels_at", _shuffle_labels(seed=7))
    canary = run_training(**_kw(_home(tmp_path), tmp_path))
    m = canary.metrics
    auc = float(m.loc[(m["model"] == "lightgbm") & (m["metric"] == "roc_auc"), "value"].iloc[0])
    positives = int(canary.scored["label"].sum())
    negatives = len(canary.scored) - positives
    assert positives > 30 and negatives > 30
    # null standard error of ROC AUC (Hanley & McNeil 1982, eq. 1 with A = 0.5)
    se = math.sqrt((positives + negatives + 1) / (12 * positives * negatives))
    assert abs(auc - 0.5) < 4 * se, (auc, se)
    # the genuine run on the same warehouse is far outside that band
    client = mlflow.MlflowClient(trained["uri"])
    experiment = client.get_experiment_by_name("revisit")
    assert experiment is not None
    (genuine,) = client.search_runs([experiment.experiment_id])
    assert genuine.data.metrics["test.lightgbm.roc_auc"] > 0.5 + 8 * se


@pytest.mark.slow
def test_same_warehouse_and_seed_give_identical_booster_and_metrics(tmp_path: Path) -> None:
    kw = _kw(_home(tmp_path), tmp_path)
    first, second = run_training(**kw), run_training(**kw)
    mlflow.set_tracking_uri(kw["tracking_uri"])

    def booster(version: str) -> str:
        loaded = mlflow.pyfunc.load_model(f"models:/household-escalation/{version}")
        return loaded.unwrap_python_model().model.booster_.model_to_string()

    assert (first.version, second.version) == ("1", "2")
    assert booster("1") == booster("2")
    pd.testing.assert_frame_equal(first.metrics, second.metrics)


def test_cli_train_rejects_bad_config_and_missing_ground_truth_in_plain_words(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("horizon_days = -3\n")
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--home", str(tmp_path), "--config", str(bad)])
    assert result.exit_code == 1
    assert "invalid training configuration in 'bad.toml'" in result.output
    result = runner.invoke(
        app, ["train", "--home", str(tmp_path), "--ground-truth", str(tmp_path / "nowhere")]
    )
    assert result.exit_code == 1
    assert "expected oracle.parquet" in result.output and "Traceback" not in result.output


def test_bootstrap_resamples_shrink_only_past_the_row_budget() -> None:
    from training.train import bootstrap_resamples

    config = TrainConfig()
    assert bootstrap_resamples(config, 2_400_000) == 200  # 200 000 households, 12 test weeks
    assert bootstrap_resamples(config, 12_000_000) == 50  # 1 000 000 households
    assert bootstrap_resamples(config, 10**9) == 50  # never fewer than 50
    assert bootstrap_resamples(config.model_copy(update={"n_bootstrap": 0}), 10**8) == 0
