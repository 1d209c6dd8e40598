"""The command centre's task figures read the follow-through's task database."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from campaign.db import TaskDB, default_db_url
from campaign.reports import TASK_COLUMNS
from campaign.service import tasks_for_report
from campaign.tasks import record_outcome
from tests.test_serving_support import fake_loader, settings_for
from tests.test_tasks import NOW, _publish


@pytest.fixture(scope="module")
def state():
    return fake_loader()(settings_for(Path("/nonexistent")))


def test_no_task_database_means_no_task_figures(tmp_path: Path) -> None:
    assert tasks_for_report(tmp_path) is None
    assert not (tmp_path / "tasks.db").exists()  # reading creates nothing


def test_published_tasks_reach_the_report_with_local_times_and_completions(
    tmp_path: Path, state
) -> None:
    db = TaskDB(default_db_url(tmp_path))
    report = _publish(db, state, capacity=2)
    first = db.tasks_frame(kind="model").iloc[0]
    record_outcome(
        db, str(first["task_id"]), actor="officer-1", role="officer",
        visited_at=NOW, outcome="none", now=NOW,
    )  # fmt: skip
    db.dispose()
    tasks = tasks_for_report(tmp_path)
    assert tasks is not None and list(tasks.columns) == list(TASK_COLUMNS)
    assert len(tasks) == report.n_model + report.n_followup
    for col in ("issued_at", "due", "completed_at"):
        assert str(tasks[col].dtype) == "datetime64[ns, Asia/Shanghai]", col
    done = tasks[tasks["completed_at"].notna()]
    assert done["task_id"].tolist() == [str(first["task_id"])]
    assert (tasks["due"] >= tasks["issued_at"].dt.normalize()).all()
    assert tasks.loc[tasks["completed_at"].isna(), "status"].ne("done").all()
    assert pd.Timestamp(done["completed_at"].iloc[0]).tz is not None
