"""benchmarks.tune: a hyper-parameter search on a tuning world, trials in MLflow, best as JSON.

Two trials on a small synthetic warehouse: the first is the defaults, every trial
is an MLflow run nested under one parent in the experiment ``tuning``, the JSON
holds the best trial's parameters and ``revisit train --params`` reads them. The
worlds the model is reported on (demo seed 0, model-quality seeds 11-13) are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from benchmarks import tune
from tests.test_training_run import _home
from training.config import ConfigError, TrainConfig
from training.tuned_params import apply_params

SMALL = (
    "n_bootstrap = 20\n[splits]\nn_folds = 2\n"
    "[lightgbm]\nn_estimators = 150\nearly_stopping_rounds = 15\nmin_child_samples = 20\nn_jobs = 1\n"
)


@pytest.mark.parametrize("seed", [0, 11, 12, 13])
def test_a_world_the_model_is_reported_on_is_never_tuned_on(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tune.main(["--seed", str(seed), "--trials", "1", "--out", str(tmp_path / "x.json")]) == 2
    assert f"seed {seed} is " in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_two_trials_are_nested_runs_and_the_best_is_written_for_revisit_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home(tmp_path)
    config = tmp_path / "small.toml"
    config.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "tuned" / "best.json"
    code = tune.main(
        ["--home", str(home), "--trials", "2", "--out", str(out), "--config", str(config)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "trial  0" in printed and "trial  1" in printed and "revisit train --params" in printed
    result = json.loads(out.read_text(encoding="utf-8"))  # strict JSON: no NaN
    assert set(result["lightgbm"]) == set(tune.SEARCH_SPACE)
    assert result["defaults"]["lightgbm"] == {
        "learning_rate": 0.03, "num_leaves": 15, "min_child_samples": 20,
    }  # fmt: skip
    client = mlflow.MlflowClient(result["mlflow"]["tracking_uri"])
    experiment = client.get_experiment_by_name("tuning")
    assert experiment is not None
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([experiment.experiment_id])
    parent = result["mlflow"]["parent_run_id"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert len(runs) == 3 and len(trials) == 2
    values = {r.info.run_name: r.data.metrics[tune.OBJECTIVE] for r in trials}
    assert result["value"] == pytest.approx(max(values.values()))
    best = next(r for r in trials if r.info.run_name == f"trial-{result['best_trial']}")
    for key, value in result["lightgbm"].items():
        assert best.data.params[f"lightgbm.{key}"] == str(value)
    assert client.get_run(parent).data.metrics["defaults." + tune.OBJECTIVE] == values["trial-0"]
    # revisit train --params reads the file: the parameters and where they came from
    applied = apply_params(TrainConfig(), out)
    for key, value in result["lightgbm"].items():
        assert getattr(applied.lightgbm, key) == value
    assert applied.params_source is not None and applied.params_source.startswith("best.json ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"lightgbm": {"num_leavs": 7}}', "num_leavs"),
        ('{"num_leaves": 1}', "num_leaves"),
        ("[1, 2]", "expected a JSON object"),
        ("{", "could not parse"),
    ],
)
def test_a_bad_params_file_is_refused_in_plain_words(
    content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        apply_params(TrainConfig(), path)
