"""Ingestion of the sample field exports: counts, quarantine reasons, PII, idempotence, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revisit.cli import app
from tests.data.make_samples import (
    EXPECTED,
    EXPECTED_QUARANTINE,
    EXPECTED_WITH_SECRET,
    EXPORTS,
    ID_ONLY,
    NOW,
    PII_VALUES,
    REJECTED,
    SECRET,
)
from warehouse.contract import TIMEZONE
from warehouse.ingest import (
    FileRejectedError,
    ingest_paths,
    map_headers,
    pseudonymous_household_id,
)
from warehouse.store import (
    INCIDENTS_DTYPES,
    VISITS_DTYPES,
    empty_incidents,
    empty_visits,
    read_incidents,
    read_visits,
)
from warehouse.versions import current_versions

NOW_TS = pd.Timestamp(NOW, tz=TIMEZONE)
COUNTS = ("read", "accepted", "quarantined", "duplicates")


def _ingest(home: Path, secret: str | None = None, paths: list[Path] | None = None):
    return ingest_paths(paths or [EXPORTS], home, secret, now=NOW_TS)


def _counts(report) -> dict[str, dict[str, int]]:
    return {f.file: {k: getattr(f, k) for k in COUNTS} for f in report.files}


def test_sample_exports_give_exact_counts_per_file(tmp_path: Path) -> None:
    report = _ingest(tmp_path)
    assert _counts(report) == EXPECTED
    assert report.totals["conflicts"] == 1
    for f in report.files:
        assert f.read == f.accepted + f.quarantined + f.duplicates


def test_sample_exports_with_secret_derive_households_from_id_numbers(tmp_path: Path) -> None:
    report = _ingest(tmp_path, SECRET)
    assert _counts(report) == EXPECTED_WITH_SECRET
    visits = read_visits(tmp_path)
    derived = {pseudonymous_household_id(i, SECRET) for i in ID_ONLY}
    got = set(visits.loc[visits["visit_id"].isin(["V301", "V302"]), "household_id"])
    assert got == derived
    assert all(h.startswith("h_") and len(h) == 18 for h in derived)


def test_hmac_household_id_is_keyed_and_normalises_the_id_number() -> None:
    a = pseudonymous_household_id("52230119900202567x", "k1")
    assert a == pseudonymous_household_id(" 522301 19900202567X ", "k1")
    assert a != pseudonymous_household_id("52230119900202567X", "k2")


def test_quarantine_file_has_exact_reasons_and_opens_in_excel(tmp_path: Path) -> None:
    report = _ingest(tmp_path)
    assert report.quarantine_file is not None
    raw = report.quarantine_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8-BOM
    q = pd.read_csv(report.quarantine_file, encoding="utf-8-sig", dtype=str)
    got = list(
        zip(q["source_file"], q["source_row"].astype(int), q["column"], q["reason"], strict=True)
    )
    assert len(got) == len(EXPECTED_QUARANTINE)
    for (gf, gr, gc, greason), (ef, er, ec, eprefix) in zip(got, EXPECTED_QUARANTINE, strict=True):
        assert (gf, gr, gc) == (ef, er, ec)
        assert greason.startswith(eprefix), greason


def test_warehouse_has_canonical_dtypes_and_lineage(tmp_path: Path) -> None:
    _ingest(tmp_path, SECRET)
    visits, incidents = read_visits(tmp_path), read_incidents(tmp_path)
    assert {c: str(d) for c, d in visits.dtypes.items()} == {
        c: str(d) for c, d in empty_visits().dtypes.items()
    }
    assert list(visits.columns) == list(VISITS_DTYPES)
    assert list(incidents.columns) == list(INCIDENTS_DTYPES)
    assert list(empty_incidents().columns) == list(INCIDENTS_DTYPES)
    # every version is kept: one row per (id, recorded_at); one current version per id
    assert not visits.duplicated(["visit_id", "recorded_at"]).any()
    assert current_versions(visits, "visits")["visit_id"].is_unique
    assert incidents["incident_id"].is_unique
    assert str(visits["visited_at"].dtype) == f"datetime64[ns, {TIMEZONE}]"
    assert visits["source_row"].min() >= 2
    assert not visits["recorded_at"].isna().any()


def test_values_are_parsed_from_every_format(tmp_path: Path) -> None:
    _ingest(tmp_path)
    v = current_versions(read_visits(tmp_path), "visits").set_index("visit_id")
    assert v.loc["V002", "visited_at"] == pd.Timestamp("2026-10-06 09:30", tz=TIMEZONE)
    assert v.loc["V003", "visited_at"] == pd.Timestamp("2026-10-07 14:20", tz=TIMEZONE)
    assert v.loc["V002", "risk_hazards"] == "drug_use|released_prisoner"
    assert v.loc["V003", "risk_hazards"] == "elderly_alone|safety_hazard"
    assert v.loc["V201", "risk_hazards"] == "self_harm_signs|severe_mental_illness"
    assert v.loc["V201", "household_type"] == "left_behind_children"
    assert v.loc["V201", "dispute_severity"] == "major"
    assert v.loc["V003", "has_dispute"] and not v.loc["V001", "has_dispute"]
    assert v.loc["V006", "review_status"] == "pending"  # empty cell
    assert v.loc["V401", "review_status"] == "approved"  # no column
    # xlsx: date cells and Excel serial numbers (origin 1899-12-30)
    assert v.loc["V501", "visited_at"] == pd.Timestamp("2026-10-04 09:00", tz=TIMEZONE)
    assert v.loc["V501", "recorded_at"] == pd.Timestamp("2026-10-05 18:00", tz=TIMEZONE)
    assert v.loc["V501", "followup_due"] == pd.Timestamp("2026-11-01", tz=TIMEZONE)
    assert v.loc["V303", "village"] == "䶮村"  # GB18030-only character survives
    assert v.loc["V201", "village"] == "鄰里社區"  # GBK, Traditional
    # conflict: the later recorded_at is the current version
    assert v.loc["V005", "dispute_type"] == "debt_economic"


def test_no_personal_value_reaches_any_output_file(tmp_path: Path) -> None:
    _ingest(tmp_path)
    _ingest(tmp_path, SECRET)
    outputs = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in outputs)
    assert any(p.name == "ingest_log.jsonl" for p in outputs)
    for path in outputs:
        data = path.read_bytes()
        for value in PII_VALUES:
            for enc in ("utf-8", "gb18030", "utf-16-le"):
                assert value.encode(enc) not in data, f"{value!r} ({enc}) found in {path.name}"


def test_no_personal_value_reaches_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    _ingest(tmp_path)
    for value in PII_VALUES:
        assert value not in caplog.text


def test_second_ingestion_of_the_same_files_adds_nothing(tmp_path: Path) -> None:
    _ingest(tmp_path)
    before = read_visits(tmp_path), read_incidents(tmp_path)
    second = _ingest(tmp_path)
    for f in second.files:
        assert f.accepted == 0 and f.duplicates == f.read - f.quarantined, f
    pd.testing.assert_frame_equal(read_visits(tmp_path), before[0])
    pd.testing.assert_frame_equal(read_incidents(tmp_path), before[1])
    log = (tmp_path / "ingest_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and json.loads(log[1])["totals"]["accepted"] == 0


def test_header_order_does_not_matter(tmp_path: Path) -> None:
    src = pd.read_csv(EXPORTS / "visits_english.csv", dtype=str)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    src.to_csv(a / "v.csv", index=False)
    src[list(reversed(src.columns))].to_csv(b / "v.csv", index=False)
    ingest_paths([a / "v.csv"], tmp_path / "ha", None, now=NOW_TS)
    ingest_paths([b / "v.csv"], tmp_path / "hb", None, now=NOW_TS)
    pd.testing.assert_frame_equal(read_visits(tmp_path / "ha"), read_visits(tmp_path / "hb"))


def test_parquet_export_round_trips(tmp_path: Path) -> None:
    _ingest(tmp_path / "h1")
    visits = read_visits(tmp_path / "h1")
    visits.to_parquet(tmp_path / "again.parquet")
    report = ingest_paths([tmp_path / "again.parquet"], tmp_path / "h1", None, now=NOW_TS)
    # nothing new; rows whose export had no 录入时间 carry the ingestion time as recorded_at,
    # later than their 审核时间, so as an export they read as "reviewed before entered"
    reviewed_before = int(
        (visits["reviewed_at"] < visits["recorded_at"] - pd.Timedelta(hours=1)).sum()
    )
    assert report.files[0].accepted == 0
    assert report.files[0].quarantined == reviewed_before
    assert report.files[0].duplicates == len(visits) - reviewed_before


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("visits_missing_visited_at.csv", "missing required column 'visited_at'"),
        ("unknown_table.csv", "cannot tell whether this is a visits or an incidents export"),
        ("not_text.csv", "expected a CSV file in UTF-8"),
    ],
)
def test_unreadable_file_is_rejected_with_plain_reason(
    tmp_path: Path, name: str, reason: str
) -> None:
    report = ingest_paths([REJECTED / name], tmp_path, None, now=NOW_TS)
    assert report.rejected[0].file == name
    assert reason in (report.rejected[0].rejected or "")
    assert read_visits(tmp_path).empty


def test_missing_column_error_names_the_accepted_headers() -> None:
    with pytest.raises(FileRejectedError, match="走访时间, 走訪時間, visited_at"):
        map_headers(
            ["走访编号", "县（市、新区）", "乡镇（街道）", "村（社区）", "是否存在矛盾纠纷"]
        )


def test_cli_ingest_prints_totals_and_exits_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(EXPORTS), "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "36" in result.output
    assert (tmp_path / "warehouse" / "visits.parquet").exists()


def test_cli_ingest_of_unreadable_file_fails_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "in"
    bad.mkdir()
    shutil.copy(REJECTED / "visits_missing_visited_at.csv", bad)
    result = CliRunner().invoke(app, ["ingest", str(bad), "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert "visits_missing_visited_at.csv" in result.output
    assert "Traceback" not in result.output


def test_scanning_a_simulation_folder_never_ingests_its_ground_truth(tmp_path: Path) -> None:
    from warehouse.ingest import discover_files

    (tmp_path / "ground_truth").mkdir()
    pd.DataFrame({"household_id": ["h1"], "oracle_prob": [0.5]}).to_parquet(
        tmp_path / "ground_truth" / "oracle.parquet"
    )
    export = tmp_path / "visits_2024-01.csv"
    export.write_text("走访编号\n1\n", encoding="utf-8")
    assert discover_files([tmp_path]) == [export]
