"""Simulator: determinism, export contract, ground truth, PII, noise counts, oracle maths."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revisit.cli import app
from simulation import engine
from simulation.calibration import calibration_report, parse_local, read_export
from simulation.errors import SimulationConfigError
from simulation.simulate import simulate
from simulation.world import SimulationConfig
from warehouse.contract import (
    INCIDENT_COLUMNS,
    PERSONAL_HEADERS,
    TIMEZONE,
    VISIT_COLUMNS,
)

START, END = dt.date(2025, 1, 1), dt.date(2025, 6, 30)
N = 2000
NOISE = 0.01  # higher than the default so that every file has some noise to count


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "out"
    config = SimulationConfig(
        households=N,
        start=START,
        end=END,
        seed=7,
        fmt="csv",
        duplicate_rate=NOISE,
        malformed_rate=NOISE,
    )
    simulate(config, out)
    return out


def _manifest(out: Path) -> dict:
    return json.loads((out / "ground_truth" / "manifest.json").read_text(encoding="utf-8"))


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_same_seed_gives_byte_identical_files_and_other_seed_differs(
    tmp_path: Path, fmt: str
) -> None:
    def run(seed: int, name: str) -> dict[str, str]:
        cfg = SimulationConfig(
            households=300, start=START, end=dt.date(2025, 3, 10), seed=seed, fmt=fmt
        )
        simulate(cfg, tmp_path / name)
        return _digest(tmp_path / name)

    a, b, c = run(1, "a"), run(1, "b"), run(2, "c")
    assert len(a) >= 9  # 3 months x 2 kinds + 3 ground-truth files
    assert a == b
    assert a.keys() == c.keys()
    differing = [k for k in a if a[k] != c[k]]
    assert "ground_truth/oracle.parquet" in differing
    assert any(k.startswith("visits_") for k in differing)


def test_exports_hold_only_contract_headers_and_personal_columns(small_run: Path) -> None:
    allowed_v = {c.headers[0] for c in VISIT_COLUMNS} | PERSONAL_HEADERS
    allowed_i = {c.headers[0] for c in INCIDENT_COLUMNS} | PERSONAL_HEADERS
    for path in sorted(small_run.glob("*.csv")):
        cols = set(read_export(path).columns)
        allowed = allowed_v if path.name.startswith("visits_") else allowed_i
        assert cols <= allowed, f"{path.name}: unexpected columns {sorted(cols - allowed)}"
        assert cols & PERSONAL_HEADERS, f"{path.name}: a field export carries personal columns"


def test_ground_truth_never_appears_in_exports(small_run: Path) -> None:
    households = pd.read_parquet(small_run / "ground_truth" / "households.parquet")
    oracle = pd.read_parquet(small_run / "ground_truth" / "oracle.parquet")
    latent = {"propensity", "oracle_prob", "village_effect", "secretive", "static_hazards"}
    assert latent <= set(households.columns) | set(oracle.columns)
    text = "".join(p.read_text(encoding="utf-8") for p in small_run.glob("*.csv"))
    for word in latent | {"oracle", "latent", "ground_truth"}:
        assert word not in text
    # no oracle probability printed anywhere (they have many significant digits)
    sample = oracle["oracle_prob"].sample(50, random_state=0)
    assert not any(repr(float(v)) in text for v in sample)


def _valid_id(number: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(ch) * w for ch, w in zip(number[:17], weights, strict=True))
    return len(number) == 18 and number[17] == "10X98765432"[total % 11]


def test_id_numbers_have_valid_check_digits_and_fictitious_regions(small_run: Path) -> None:
    ids = pd.concat(
        [read_export(p)["户主身份证号"] for p in small_run.glob("visits_*.csv")]
    ).dropna()
    assert len(ids) > 1000
    assert ids.map(_valid_id).all()
    assert ids.str[:5].eq("52239").all()  # 522391-522399 are not real region codes
    birth = pd.to_datetime(ids.str[6:14], format="%Y%m%d", errors="coerce")
    assert birth.notna().all()
    assert not _valid_id(ids.iloc[0][:17] + ("0" if ids.iloc[0][17] != "0" else "1"))


def test_oracle_covers_every_household_on_every_monday_at_local_midnight(small_run: Path) -> None:
    oracle = pd.read_parquet(small_run / "ground_truth" / "oracle.parquet")
    assert str(oracle["as_of"].dtype) == f"datetime64[ns, {TIMEZONE}]"
    mondays = pd.date_range(START, END, freq="W-MON", tz=TIMEZONE)
    assert sorted(oracle["as_of"].unique()) == list(mondays)
    assert len(oracle) == N * len(mondays)
    assert oracle.groupby("as_of")["household_id"].nunique().eq(N).all()
    assert oracle["oracle_prob"].between(0.0, 1.0).all()
    assert oracle["oracle_prob"].dtype == np.float64


def test_manifest_counts_rows_duplicates_and_malformed_per_file(small_run: Path) -> None:
    files = _manifest(small_run)["files"]
    assert len(files) == 12
    assert sum(f["malformed"] for f in files.values()) > 0
    assert sum(f["duplicates"] for f in files.values()) > 0
    for name, info in files.items():
        frame = read_export(small_run / name)
        assert len(frame) == info["rows"], name
        assert int(frame.duplicated().sum()) == info["duplicates"], name
        id_col = "走访编号" if name.startswith("visits_") else "警情编号"
        assert int(frame[id_col].duplicated().sum()) == info["duplicates"], name
        time_col = "走访时间" if name.startswith("visits_") else "报警时间"
        bad = parse_local(frame[time_col]).isna() | frame["户编号"].isna()
        if name.startswith("visits_"):
            bad |= pd.to_numeric(frame["走访人数"]).lt(0)
            bad |= ~frame["户类型"].isin([v[0] for v in VISIT_COLUMNS[10].vocabulary.values()])  # type: ignore[union-attr]
        else:
            bad |= ~frame["警情类别"].isin([v[0] for v in INCIDENT_COLUMNS[4].vocabulary.values()])  # type: ignore[union-attr]
        assert int(bad.sum()) == info["malformed"], name


def test_exports_use_mixed_date_formats(small_run: Path) -> None:
    times = read_export(small_run / "visits_2025-03.csv")["走访时间"].dropna()
    assert times.str.contains("年").any()
    assert times.str.match(r"^\d{4}/\d{1,2}/\d{1,2} ").any()
    assert times.str.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$").mean() > 0.5


def test_knowledge_times_follow_event_times(small_run: Path) -> None:
    frame = pd.concat([read_export(p) for p in small_run.glob("visits_*.csv")], ignore_index=True)
    visited = parse_local(frame["走访时间"])
    recorded = parse_local(frame["录入时间"])
    reviewed = parse_local(frame["审核时间"])
    due = pd.to_datetime(
        frame["回访期限"]
        .str.replace("年", "-")
        .str.replace("月", "-")
        .str.replace("日", "")
        .str.replace("/", "-"),
        format="%Y-%m-%d",
        errors="coerce",
    )
    ok = visited.notna()
    assert (recorded[ok] >= visited[ok]).all()
    assert (reviewed.dropna() >= recorded[reviewed.notna()]).all()
    has_due = due.notna() & ok
    assert has_due.sum() > 50
    assert (due[has_due] > visited[has_due].dt.normalize()).all()
    assert recorded.max() < pd.Timestamp(END) + pd.Timedelta(days=1)
    status = frame["审核状态"].value_counts(normalize=True)
    assert 0.005 < status.get("已退回", 0) < 0.06
    assert status.get("待审核", 0) > 0


def test_officers_ground_truth_names_every_officer_of_the_exports(small_run: Path) -> None:
    officers = pd.read_parquet(small_run / "ground_truth" / "officers.parquet")
    assert list(officers.columns) == [
        "officer_id",
        "township",
        "kind",
        "share_fabricated",
        "share_perfunctory",
    ]
    assert officers["officer_id"].is_unique
    assert set(officers["kind"]) >= {"honest", "fabricating", "perfunctory"}
    fab = officers[officers["kind"] == "fabricating"]
    assert fab["share_fabricated"].between(0.3, 0.8).all()
    assert (officers.loc[officers["kind"] != "fabricating", "share_fabricated"] == 0).all()
    frame = pd.concat([read_export(p) for p in small_run.glob("visits_*.csv")], ignore_index=True)
    assert set(frame["民警警号"].dropna()) <= set(officers["officer_id"])


def test_fabrication_is_partial_and_not_trivially_detectable(small_run: Path) -> None:
    officers = pd.read_parquet(small_run / "ground_truth" / "officers.parquet")
    frame = pd.concat([read_export(p) for p in small_run.glob("visits_*.csv")], ignore_index=True)
    frame = frame.assign(t=parse_local(frame["走访时间"])).dropna(subset=["t"])
    kind = frame["民警警号"].map(officers.set_index("officer_id")["kind"])
    met = pd.to_numeric(frame["走访人数"], errors="coerce").fillna(0) > 0
    found = frame["是否存在矛盾纠纷"] == "是"
    fab = kind == "fabricating"
    # made-up records mostly claim somebody met; the officers still find some disputes
    assert met[fab].mean() > 0.7
    assert 0 < found[fab].mean() < found[kind == "honest"].mean()
    # ...and sittings of many records an hour exist for them, hardly for honest officers
    per_hour = frame.assign(hour=frame["t"].dt.floor("h")).groupby(["民警警号", "hour"]).size()
    busy = set(per_hour[per_hour >= 6].index.get_level_values(0))
    assert busy & set(officers.loc[officers["kind"] == "fabricating", "officer_id"])
    honest = set(officers.loc[officers["kind"] == "honest", "officer_id"])
    assert len(busy & honest) <= 0.1 * len(honest)


def test_ingestion_accepts_exports_with_exactly_the_injected_counts(
    small_run: Path, tmp_path: Path
) -> None:
    ingest = pytest.importorskip("warehouse.ingest")
    files = _manifest(small_run)["files"]
    report = ingest.ingest_paths(sorted(small_run.glob("*.csv")), tmp_path / "home", None)
    got = {Path(str(f.file)).name: f for f in report.files}
    assert set(got) == set(files)
    for name, info in files.items():
        rep = got[name]
        assert (rep.read, rep.quarantined, rep.duplicates) == (
            info["rows"],
            info["malformed"],
            info["duplicates"],
        ), name
        assert rep.accepted == info["rows"] - info["malformed"] - info["duplicates"], name


def test_small_run_calibration_is_plausible(small_run: Path) -> None:
    rep = calibration_report(small_run)
    assert 0.002 < rep["escalation_rate_30d"] < 0.012
    assert 0.04 < rep["dispute_share_per_campaign_visit"] < 0.16
    assert rep["handled_share"] > 0.99
    assert rep["oracle_auc"] > rep["best_visible_auc"] + 0.05


def test_cli_simulate_writes_exports_and_rejects_bad_arguments(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["simulate", "--households", "200", "--start", "2025-01-01", "--end", "2025-02-28"]
    result = runner.invoke(app, [*args, "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "visits_2025-02.xlsx").exists()
    assert (out / "ground_truth" / "manifest.json").exists()
    bad = runner.invoke(app, ["simulate", "--households", "5", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "households" in bad.output
    bad_date = runner.invoke(app, ["simulate", "--end", "2025-13-01", "--out", str(tmp_path / "y")])
    assert bad_date.exit_code == 2 and "2025-13-01" in bad_date.output
    assert "Traceback" not in bad.output + bad_date.output


def test_config_rejects_out_of_range_parameters() -> None:
    with pytest.raises(SimulationConfigError, match="format"):
        SimulationConfig(fmt="parquet").validate()
    with pytest.raises(SimulationConfigError, match="window"):
        SimulationConfig(start=START, end=START + dt.timedelta(days=3)).validate()
    assert SimulationConfig(households=50_000).export_format == "xlsx"
    assert SimulationConfig(households=50_001).export_format == "csv"


def test_age_sum_closed_form_matches_the_daily_loop() -> None:
    a0 = np.array([0.0, 5.0, 40.0])
    length = np.array([30.0, 12.0, 0.0])
    loop = [
        sum(1 + 3.0 * np.exp(-(a + k) / 14.0) for k in range(int(n)))
        for a, n in zip(a0, length, strict=True)
    ]
    np.testing.assert_allclose(engine._age_sum(a0, length), loop)


def test_oracle_rises_with_an_active_severe_young_dispute() -> None:
    kernel = engine._new_dispute_kernel()
    one = np.ones(4)
    p = engine.oracle_probability(
        base=1e-4 * one,
        active=np.array([False, True, True, True]),
        cdisp=np.array([0.0, 3.0, 40.0, 40.0]),
        age=np.array([0, 5, 5, 300]),
        days_left=np.array([0, 60, 60, 60]),
        onset_rate=np.array([0.002, 0.0, 0.0, 0.0]),
        cnew=5.0 * one,
        kernel=kernel,
    )
    assert p[0] < p[1] < p[2]
    assert p[3] < p[2]  # an old dispute is less dangerous than a fresh one


def test_family_disputes_peak_at_the_spring_festival() -> None:
    season = engine.seasonality(np.arange(365), dt.date(2025, 1, 1))
    assert int(np.argmax(season[0])) == 28  # 2025-01-29
    land_peaks = season[2][[99, 267]]
    assert (land_peaks > 1.4).all() and season[2][180] < 1.1


def test_ingestion_accepts_xlsx_exports_with_exactly_the_injected_counts(tmp_path: Path) -> None:
    ingest = pytest.importorskip("warehouse.ingest")
    out = tmp_path / "xlsx"
    config = SimulationConfig(
        households=400,
        start=START,
        end=dt.date(2025, 2, 28),
        seed=5,
        fmt="xlsx",
        duplicate_rate=0.02,
        malformed_rate=0.02,
    )
    files = simulate(config, out).manifest["files"]
    assert sum(f["malformed"] for f in files.values()) > 0
    report = ingest.ingest_paths(sorted(out.glob("*.xlsx")), tmp_path / "home", None)
    got = {Path(str(f.file)).name: (f.read, f.quarantined, f.duplicates) for f in report.files}
    assert got == {k: (v["rows"], v["malformed"], v["duplicates"]) for k, v in files.items()}
