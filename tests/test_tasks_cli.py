"""`revisit publish` and `revisit tasks …` through the real console script, on the session's
small trained prefecture (copied, so other end-to-end tests see an untouched home)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.e2e_support import TrainedPrefecture, run_cli, trained_prefecture  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def home(trained_prefecture: TrainedPrefecture, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    target = tmp_path_factory.mktemp("tasks") / "home"
    shutil.copytree(trained_prefecture.home, target)
    return target


def test_publish_twice_lists_and_notices(home: Path) -> None:
    first = run_cli(["publish", "--capacity", "5"], home)
    assert "published week" in first.stdout
    again = run_cli(["publish", "--capacity", "7"], home)
    assert "already published" in again.stdout and "nothing new" in again.stdout

    listed = run_cli(["tasks", "list", "--status", "all", "--format", "csv"], home).stdout
    rows = list(csv.DictReader(io.StringIO(listed)))
    assert rows and {"task_id", "household_id", "kind", "status", "due"} <= set(rows[0])
    model = [r for r in rows if r["kind"] == "model"]
    per_township = {(r["county"], r["township"]) for r in model}
    assert len(model) <= 5 * len(per_township)
    assert len({r["task_id"] for r in rows}) == len(rows)

    as_json = json.loads(
        run_cli(["tasks", "list", "--format", "json", "--limit", "3"], home).stdout
    )
    assert len(as_json) == 3 and all(t["status"] in ("open", "acknowledged") for t in as_json)

    bad = run_cli(["tasks", "list", "--status", "late"], home, check=False)
    assert bad.returncode == 2 and "expected one of" in bad.stderr

    county = model[0]["county"]
    out = home / "notice.xlsx"
    run_cli(["tasks", "notice", "--county", county, "--out", str(out)], home)
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert set(wb.sheetnames) == {r["township"][:31] for r in rows if r["county"] == county}

    summary = json.loads(run_cli(["tasks", "summary", "--format", "json"], home).stdout)
    assert summary["overall"]["tasks"] == len(rows)
    run_cli(["tasks", "sync"], home)


def test_rank_offset_shows_the_next_page(home: Path) -> None:
    import pandas as pd

    from warehouse.contract import TABLE_VISITS, warehouse_path

    places = pd.read_parquet(warehouse_path(home, TABLE_VISITS), columns=["county", "township"])
    county, name = places.value_counts().index[0]
    township = f"{county}/{name}"  # a path: township names repeat across counties
    first = json.loads(
        run_cli(["rank", "--township", township, "--limit", "4", "--format", "json"], home).stdout
    )
    second = json.loads(
        run_cli(
            ["rank", "--township", township, "--limit", "2", "--offset", "2", "--format", "json"],
            home,
        ).stdout
    )
    assert [i["household_id"] for i in second["items"]] == [
        i["household_id"] for i in first["items"][2:4]
    ]
    assert [i["rank"] for i in second["items"]] == [3, 4]
