"""`revisit train` loads the champion only through its signed bundle, never by unpickling.

One `revisit train` on a small world whose registry holds a hostile champion: a
version whose pickled pyfunc writes a marker file when loaded, aliased
``champion`` by hand (no promote, no signature). The run must not compare with it,
say why in the tag ``vs_champion.warning``, and the marker must never appear. The
same run checks three other things of issue #13: the run's ``start_time`` is the
training's start (its duration covers every stage), the top-1 % crosstab carries
the share of each reason, and ``--params FILE.json`` is used and recorded.
After a signed promotion, the comparison loads the champion from its bundle.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revisit.cli import app
from tests.test_model_signing import _register_hostile, _RunsCodeWhenUnpickled
from tests.test_training_run import _home
from training.reviewers import NO_REASON, champion_comparison_for_run

KEY = "champion-signed-test-key-0123456789-abcdef"
NAME = "household-escalation"
PARAMS = {"lightgbm": {"num_leaves": 7, "learning_rate": 0.08, "min_child_samples": 30}}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("hostile")
    home = _home(root)
    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    marker = root / "pwned"
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MLFLOW_TRACKING_URI", "REVISIT_HOME", "REVISIT_MODEL_NAME"):
            mp.delenv(var, raising=False)
        client = mlflow.MlflowClient(uri)
        experiment = client.create_experiment(
            "hostile", artifact_location=(root / "hostile-artifacts").as_uri()
        )
        bad = _register_hostile(home, experiment, marker, copy_bundle_from=None)
        client.set_registered_model_alias(NAME, "champion", bad)  # by hand: unsigned
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri exports it
        params = root / "best_params.json"
        params.write_text(json.dumps({**PARAMS, "value": 0.1}), encoding="utf-8")
        # each stage of run_training starts with reset_peak(): note when the first one began
        import training.train

        stage_starts: list[float] = []
        reset = training.train.reset_peak
        mp.setattr(
            training.train, "reset_peak", lambda: (stage_starts.append(time.time()), reset())
        )
        started = time.time()
        result = CliRunner().invoke(
            app,
            ["train", "--home", str(home), "--config", str(home / "train.toml"),
             "--params", str(params)],
            env={"REVISIT_SIGNING_KEY": KEY},
        )  # fmt: skip
        yield {
            "home": home, "uri": uri, "marker": marker, "bad": bad, "result": result,
            "started_ms": started * 1000, "params": params,
            "first_stage_ms": stage_starts[0] * 1000 if stage_starts else None,
        }  # fmt: skip


def _run(data: dict) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(data["uri"])
    experiment = client.get_experiment_by_name("revisit")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    return run


def test_a_hostile_unsigned_champion_is_never_unpickled_by_revisit_train(
    hostile_run: dict, tmp_path: Path
) -> None:
    # the payload really runs code when unpickled (so this test can fail)
    import cloudpickle

    cloudpickle.loads(cloudpickle.dumps(_RunsCodeWhenUnpickled(str(tmp_path / "probe"))))
    assert (tmp_path / "probe").exists()
    result = hostile_run["result"]
    assert result.exit_code == 0, result.output
    assert not hostile_run["marker"].exists()
    tags = _run(hostile_run).data.tags
    assert tags["vs_champion.version"] == "none"
    warning = tags["vs_champion.warning"]
    assert f"champion version {hostile_run['bad']} not compared" in warning
    assert "not signed" in warning
    assert KEY not in json.dumps(tags)


def test_the_run_duration_covers_every_stage_of_the_training(hostile_run: dict) -> None:
    run = _run(hostile_run)
    stages = [
        float(m.group(1))
        for m in re.finditer(
            r"^\s{2}\S.*?\s+(\d+\.\d) s\s+peak", hostile_run["result"].output, re.M
        )
    ]
    assert len(stages) >= 6  # read warehouse ... log to mlflow
    assert run.info.start_time >= hostile_run["started_ms"] - 1
    assert run.info.start_time <= hostile_run["first_stage_ms"]
    # logged at the end, the run used to last the "log to mlflow" stage only
    assert run.info.end_time - run.info.start_time >= 1000 * (sum(stages) - 0.05 * len(stages))


def test_the_crosstab_shows_the_share_of_each_reason_among_the_top_1pct(
    hostile_run: dict, tmp_path: Path
) -> None:
    run = _run(hostile_run)
    client = mlflow.MlflowClient(hostile_run["uri"])
    path = client.download_artifacts(run.info.run_id, "crosstab_top_1pct.csv", str(tmp_path))
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert {"mean_top", "mean_rest", "reason_code", "reason_share_top"} <= set(table.columns)
    shares = table.set_index("feature")["reason_share_top"]
    assert NO_REASON in shares.index
    assert shares.drop(NO_REASON).max() > 0.2  # some reason is shown for a good part of the list
    assert ((shares >= 0) & (shares <= 1)).all()


def test_params_file_sets_the_lightgbm_parameters_and_is_recorded(hostile_run: dict) -> None:
    params = _run(hostile_run).data.params
    for key, value in PARAMS["lightgbm"].items():
        assert params[f"lightgbm.{key}"] == str(value)
    assert params["params_source"].startswith("best_params.json sha256:")
    assert "LightGBM parameters from best_params.json" in hostile_run["result"].output


def test_a_signed_champion_is_compared_from_its_bundle_and_a_bad_key_is_refused(
    hostile_run: dict,
) -> None:
    from features.build import build_features
    from warehouse.store import read_incidents, read_visits

    home, uri = hostile_run["home"], hostile_run["uri"]
    promote = CliRunner().invoke(
        app,
        ["promote", "--home", str(home), "--force", "--reason", "test world"],
        env={"REVISIT_SIGNING_KEY": KEY},
    )
    assert promote.exit_code == 0, promote.output
    champion = mlflow.MlflowClient(uri).get_model_version_by_alias(NAME, "champion").version
    dates = pd.date_range("2024-11-04", periods=2, freq="W-MON", tz="Asia/Shanghai")
    frame = build_features(read_visits(home), read_incidents(home), dates)
    frame = frame[frame["label"].notna()].reset_index(drop=True)
    scored = frame[["household_id", "as_of", "county", "township", "village"]].copy()
    scored["label"] = frame["label"].astype("int64")
    scored["fold"] = "fold_1"
    scored["lightgbm"] = np.random.default_rng(0).random(len(frame))
    kw = {"tracking_uri": uri, "model_name": NAME, "ks": [0.05], "group_ks": [20],
          "n_boot": 10, "random_state": 0}  # fmt: skip
    good = champion_comparison_for_run(frame, scored, **kw, signing_key=KEY)
    assert good.champion_version == str(champion) and not good.warning
    assert len(good.table) == 2 and good.table["n_rows"].iloc[0] == len(frame)
    for key, expected in ((None, "REVISIT_SIGNING_KEY is not set"),
                          ("another-key-0123456789-0123456789-xyz", "does not match")):  # fmt: skip
        refused = champion_comparison_for_run(frame, scored, **kw, signing_key=key)
        assert refused.champion_version is None and expected in refused.warning
    assert not hostile_run["marker"].exists()
