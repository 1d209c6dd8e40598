"""Audit-only protected attributes (REVISIT_AUDIT_ONLY): kept apart for the bias audit alone.

Invariants: a declared attribute goes to ``warehouse/audit_attributes.parquet`` and never
to the visits table; an undeclared one is dropped everywhere; the feature frame and the
model never see it; training audits it next to county and township.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.build import build_features
from models.risk_model import EscalationModel
from revisit.cli import app
from revisit.settings import Settings
from tests.test_training_run import _home, _kw
from training.train import run_training
from warehouse.contract import TIMEZONE
from warehouse.ingest import ingest_paths
from warehouse.store import (
    AuditAttributeError,
    audit_attributes_path,
    canonical_audit_attributes,
    read_audit_attributes,
    read_incidents,
    read_visits,
    write_audit_attributes,
)

NOW = pd.Timestamp("2026-11-30 12:00", tz=TIMEZONE)
HEADER = (
    "走访编号,户编号,走访时间,录入时间,县（市、新区）,乡镇（街道）,村（社区）,是否存在矛盾纠纷,民族"
)
OK = "兴义市,桔山街道,坪东社区,否"
#: Distinct values, so that finding one in a file's bytes means it leaked.
ACCEPTED_VALUES = ("布依族", "苗族", "水族")
QUARANTINED_VALUE = "仡佬族"
PROTECTED = ("ethnicity", "religion", "sex", "民族", "宗教", "性别")


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "exports" / "visits.csv"
    path.parent.mkdir(parents=True)
    rows = [
        f"V1,h1,2026-10-05 09:00,2026-10-05 10:00,{OK},布依族",
        f"V2,h2,2026-10-05 09:00,2026-10-05 10:00,{OK},苗族",
        f"V3,h1,2026-10-06 09:00,2026-10-06 10:00,{OK},水族",  # later entry for h1 wins
        f"V4,h3,2026-10-05 09:00,2026-10-05 10:00,{OK},",  # no value: nothing stored
        f"V5,h4,2026-10-05 09:00,2026-10-04 10:00,{OK},{QUARANTINED_VALUE}",  # quarantined
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _all_bytes(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}


def test_declared_attribute_is_stored_apart_latest_per_household_never_in_visits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.INFO, logger="warehouse.ingest")
    report = ingest_paths([_export(tmp_path)], home, None, now=NOW, audit_only=("ethnicity",))
    assert (report.accepted, report.quarantined) == (4, 1)
    stored = read_audit_attributes(home)
    assert list(stored.columns) == [
        "household_id",
        "attribute",
        "value",
        "recorded_at",
        "source_file",
        "source_row",
    ]
    got = {r["household_id"]: (r["value"], r["source_row"]) for r in stored.to_dict("records")}
    assert got == {"h1": ("水族", 4), "h2": ("苗族", 3)}
    assert set(stored["attribute"]) == {"ethnicity"}
    visits = read_visits(home)
    assert set(visits["visit_id"]) == {"V1", "V2", "V3", "V4"}
    assert not {"ethnicity", "民族", "value"} & set(visits.columns)
    files = _all_bytes(home)
    audit_name = str(audit_attributes_path(home).relative_to(home))
    assert "水族".encode() in files[audit_name]  # the byte search below can find a value
    for name, data in files.items():
        for value in (*ACCEPTED_VALUES, QUARANTINED_VALUE):
            if name != audit_name:
                assert value.encode() not in data, (name, value)
    assert QUARANTINED_VALUE.encode() not in files[audit_name]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "stored 3 audit-only attribute values" in logged
    assert not any(v in logged for v in (*ACCEPTED_VALUES, QUARANTINED_VALUE))


def test_undeclared_protected_attribute_is_dropped_from_every_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    report = ingest_paths([_export(tmp_path)], home, None, now=NOW)
    assert report.accepted == 4
    assert not audit_attributes_path(home).exists()
    assert read_audit_attributes(home).empty
    files = _all_bytes(home)
    assert any(name.endswith("visits.parquet") for name in files)
    for name, data in files.items():
        for value in (*ACCEPTED_VALUES, QUARANTINED_VALUE):
            assert value.encode() not in data, (name, value)


def test_reingest_keeps_the_later_recorded_value_per_household(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest_paths([_export(tmp_path)], home, None, now=NOW, audit_only=("民族",))
    newer = tmp_path / "newer.csv"
    older = tmp_path / "older.csv"
    newer.write_text(f"{HEADER}\nV9,h2,2026-11-01 09:00,2026-11-01 10:00,{OK},彝族\n", "utf-8")
    older.write_text(f"{HEADER}\nV8,h1,2026-09-01 09:00,2026-09-01 10:00,{OK},回族\n", "utf-8")
    ingest_paths([newer, older], home, None, now=NOW, audit_only=("ethnicity",))
    stored = read_audit_attributes(home).set_index("household_id")["value"].to_dict()
    assert stored == {"h1": "水族", "h2": "彝族"}


def test_feature_frame_never_carries_audit_only_attributes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest_paths([_export(tmp_path)], home, None, now=NOW, audit_only=("ethnicity",))
    frame = build_features(
        read_visits(home),
        read_incidents(home),
        [pd.Timestamp("2026-11-02", tz=TIMEZONE)],
        with_labels=False,
    )
    assert len(frame) > 0
    lowered = [str(c).casefold() for c in frame.columns]
    for name in PROTECTED:
        assert not any(name in c for c in lowered), name
    cells = frame.astype("str").to_numpy().ravel().tolist()
    assert not set(cells) & set(ACCEPTED_VALUES)


def test_features_code_never_reads_audit_attributes() -> None:
    repo = Path(__file__).resolve().parents[1]
    features = [
        p.name
        for p in (repo / "features").rglob("*.py")
        if "audit_attributes" in p.read_text(encoding="utf-8")
    ]
    assert features == []
    # warehouse/store.py defines the reader/writer; ingest.py writes the table
    warehouse = {
        p.name
        for p in (repo / "warehouse").rglob("*.py")
        if "audit_attributes" in p.read_text(encoding="utf-8")
    }
    assert warehouse == {"store.py", "ingest.py", "headers.py"}
    ingest_text = (repo / "warehouse" / "ingest.py").read_text(encoding="utf-8")
    assert "read_audit_attributes" in ingest_text  # only to merge the latest values


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("ethnicity,religion", ("ethnicity", "religion")),
        (" 民族 ，宗教信仰、性別", ("ethnicity", "religion", "sex")),
        ("", ()),
    ],
)
def test_setting_parses_comma_separated_names_and_headers(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("REVISIT_AUDIT_ONLY", env)
    assert Settings().audit_only == expected


def test_unknown_audit_only_name_is_a_plain_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AuditAttributeError, match="got 'caste'"):
        canonical_audit_attributes(["ethnicity", "caste"])
    monkeypatch.setenv("REVISIT_AUDIT_ONLY", "caste")
    result = CliRunner().invoke(app, ["ingest", "--home", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 1
    assert "REVISIT_AUDIT_ONLY" in result.output and "caste" in result.output
    assert "Traceback" not in result.output


def test_training_audits_the_declared_attribute_without_feeding_it_to_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path)
    visits = read_visits(home)
    ids = np.sort(visits["household_id"].unique())
    rng = np.random.default_rng(3)
    n = len(ids) - 20  # 20 households without a value: the "(missing)" group
    write_audit_attributes(
        home,
        pd.DataFrame(
            {
                "household_id": ids[:n],
                "attribute": "ethnicity",
                "value": rng.choice(["汉族", "布依族"], size=n),
                "recorded_at": pd.Timestamp("2024-01-01", tz=TIMEZONE),
                "source_file": "visits.csv",
                "source_row": np.arange(2, n + 2),
            }
        ),
    )
    seen: list[list[str]] = []
    fit, fit_blocks = EscalationModel.fit, EscalationModel.fit_blocks

    def spy(self, X, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append([str(c) for c in X.columns])
        return fit(self, X, *args, **kwargs)

    def spy_blocks(self, blocks, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        # training feeds the booster block by block (one block per as-of date)
        seen.extend([str(c) for c in blocks[i].columns] for i in range(len(blocks)))
        seen.append([str(c) for c in self.feature_names])
        return fit_blocks(self, blocks, *args, **kwargs)

    monkeypatch.setattr(EscalationModel, "fit", spy)
    monkeypatch.setattr(EscalationModel, "fit_blocks", spy_blocks)
    result = run_training(**_kw(home, tmp_path), audit_only=("ethnicity",))
    assert seen and not any("ethnicity" in cols or "value" in cols for cols in seen)
    assert "ethnicity" not in result.scored.columns
    client = mlflow.MlflowClient(_kw(home, tmp_path)["tracking_uri"])
    names = {a.path for a in client.list_artifacts(result.run_id)}
    for attribute in ("county", "township", "ethnicity"):
        assert {f"bias_audit_{attribute}.csv", f"bias_audit_{attribute}.png"} <= names
    local = Path(
        client.download_artifacts(result.run_id, "bias_audit_ethnicity.csv", str(tmp_path))
    )
    table = pd.read_csv(local)
    assert set(table["group"]) == {"汉族", "布依族", "(missing)"}
    assert int(table["group_size"].sum()) == len(result.scored)
    card = Path(client.download_artifacts(result.run_id, "model_card.md", str(tmp_path)))
    assert "### By ethnicity" in card.read_text(encoding="utf-8")
