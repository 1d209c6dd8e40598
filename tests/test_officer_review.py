"""Officer review: indicators on hand-made records, quality on a small simulated world, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from campaign.officer_review import (
    OfficerReviewError,
    ReviewConfig,
    households_with_suspect_visits,
    reviewed_visits,
    score_officers,
    suspect_visit_ids,
)
from revisit.cli import app
from simulation.simulate import simulate
from simulation.world import SimulationConfig
from tests.test_campaign_reports import visit
from warehouse.ingest import ingest_paths
from warehouse.store import read_visits


def _records() -> pd.DataFrame:
    from warehouse.store import conform

    rows = []
    # officer B: six visits three minutes apart at 21:00, typed within minutes, nothing found
    for k in range(6):
        at = f"2025-02-03 21:{k * 3:02d}"
        rows.append(visit(f"b{k}", f"HB{k}", "B", at, 1, recorded=f"2025-02-03 21:{k * 3 + 5:02d}"))
    # officers A, C, D, E: visits an hour apart by day, typed a day later, a dispute found
    for name in "ACDE":
        for k in range(6):
            at = f"2025-02-03 {9 + k:02d}:00"
            rows.append(
                visit(
                    f"{name.lower()}{k}",
                    f"H{name}{k}",
                    name,
                    at,
                    k % 3 + 1,
                    recorded=f"2025-02-04 {9 + k:02d}:00",
                    dispute="neighbour" if k == 0 else None,
                    status="resolved" if k == 0 else None,
                )
            )
    return conform(pd.DataFrame(rows), "visits")


def test_indicators_of_each_visit_follow_their_definitions() -> None:
    v = reviewed_visits(_records(), "2025-03-01").set_index("visit_id")
    assert v.loc[[f"b{k}" for k in range(6)], "in_burst"].all()
    assert not v.loc[[f"a{k}" for k in range(6)], "in_burst"].any()
    assert v.loc["b0", "quick_entry"] and not v.loc["a0", "quick_entry"]
    assert v.loc["b3", "odd_hours"] and not v.loc["a3", "odd_hours"]
    assert v.loc["b1", "identical"] and not v.loc["b0", "identical"]  # first of the day
    assert v.loc["a0", "delay_hours"] == pytest.approx(24.0)


def test_score_points_at_the_officer_whose_records_look_made_up() -> None:
    cfg = ReviewConfig(min_visits=3, min_peers=2, threshold=1.0)
    table = score_officers(_records(), "2025-03-01", cfg)
    assert table["officer_id"].tolist() == ["B", "A", "C", "D", "E"]
    top = table.iloc[0]
    assert top["review"] and top["score"] > 1.0
    assert "quick_entry_share" in top["drivers"] and "odd_hours_share" in top["drivers"]
    assert (table["score"].iloc[1:] == 0.0).all() and table["review"].sum() == 1
    ids = suspect_visit_ids(_records(), "2025-03-01", cfg, review=table)
    assert set(ids) == {f"b{k}" for k in range(6)}
    marked = households_with_suspect_visits(_records(), ids)
    assert set(marked["household_id"]) == {f"HB{k}" for k in range(6)}


def test_visits_outside_the_window_or_unknown_at_the_as_of_date_are_not_reviewed() -> None:
    cfg = ReviewConfig(min_visits=1)
    assert reviewed_visits(_records(), "2025-02-03", cfg).empty  # nothing known before
    assert reviewed_visits(_records(), "2025-08-01", cfg).empty  # 90-day window has passed


def test_config_rejects_unknown_weights() -> None:
    with pytest.raises(OfficerReviewError, match="'speed'"):
        ReviewConfig(weights={"speed": 1.0}).validate()


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("review")
    out, home = root / "sim", root / "home"
    config = SimulationConfig(
        households=8000, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 30), seed=21, fmt="csv"
    )
    simulate(config, out)
    ingest_paths(sorted(out.glob("visits_*.csv")), home, id_secret="t" * 32)
    return out, home


def test_detector_separates_fabricating_and_perfunctory_officers(
    small_world: tuple[Path, Path],
) -> None:
    out, home = small_world
    table = score_officers(read_visits(home), "2025-07-01")
    truth = pd.read_parquet(out / "ground_truth" / "officers.parquet")
    kind = table["officer_id"].map(truth.set_index("officer_id")["kind"])
    bad = kind.isin(["fabricating", "perfunctory"]).to_numpy()
    assert 3 <= bad.sum() < len(bad)
    assert roc_auc_score(bad, table["score"]) >= 0.9
    k = min(10, int(bad.sum()))
    assert bad[:k].sum() >= 0.8 * k
    # the honest look-alikes are not on the list
    assert not table.loc[kind.isin(["slow_recorder", "hard_village"]).to_numpy(), "review"].any()


def test_cli_review_prints_one_row_per_officer_with_score_and_indicators(
    small_world: tuple[Path, Path],
) -> None:
    _, home = small_world
    runner = CliRunner()
    res = runner.invoke(app, ["officers", "review", "--home", str(home), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {"officer_id", "score", "burst_share", "quick_entry_share"} <= set(rows[0])
    assert rows[0]["score"] == max(r["score"] for r in rows)
    table = runner.invoke(app, ["officers", "review", "--home", str(home)])
    assert table.exit_code == 0 and "never a sanction" in table.stdout
    bad = runner.invoke(app, ["officers", "review", "--home", str(home), "--format", "pdf"])
    assert bad.exit_code == 2 and "pdf" in bad.output


def test_cli_report_writes_xlsx_and_html_and_prints_the_headline(
    small_world: tuple[Path, Path], tmp_path: Path
) -> None:
    out, home = small_world
    ingest_paths(sorted(out.glob("incidents_*.csv")), home, id_secret="t" * 32)
    runner = CliRunner()
    for fmt in ("xlsx", "html"):
        target = tmp_path / f"weekly.{fmt}"
        res = runner.invoke(
            app, ["report", "weekly", "--home", str(home), "--format", fmt, "--out", str(target)]
        )
        assert res.exit_code == 0, res.output
        assert "共投入警力" in res.stdout and target.stat().st_size > 1000
    res = runner.invoke(app, ["report", "yearly", "--home", str(home)])
    assert res.exit_code == 2 and "yearly" in res.output
    empty = runner.invoke(app, ["report", "daily", "--home", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "Traceback" not in empty.output
