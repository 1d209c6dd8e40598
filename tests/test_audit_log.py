"""Audit log: rows written by the background writer, nothing personal, export as csv/jsonl."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from revisit.cli import app
from serving.audit import (
    COLUMNS,
    AuditError,
    AuditEvent,
    AuditLog,
    export,
    export_text,
    read_events,
)


def event(i: int, **kw: Any) -> AuditEvent:
    base: dict[str, Any] = dict(
        token_id=f"tok{i % 3}",
        role="officer",
        level="township",
        jurisdiction="Dingxiao",
        endpoint="/v1/priority-list?format=json",
        household_ids=[f"H{i:05d}", f"H{i + 1:05d}"],
        model_version="7",
        as_of="2026-11-30",
    )
    base.update(kw)
    return AuditEvent.make(**base)


def test_close_flushes_every_queued_event(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db")
    log.start()
    for i in range(1000):
        log.record(event(i))
    log.close()
    rows = list(read_events(tmp_path / "audit.db"))
    assert len(rows) == 1000
    assert json.loads(str(rows[0]["household_ids"])) == ["H00000", "H00001"]
    assert set(rows[0]) == set(COLUMNS)


def test_concurrent_writers_lose_no_event(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", batch_size=7)

    def write(k: int) -> None:
        for i in range(100):
            log.record(event(k * 100 + i))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.flush()
    assert len(list(read_events(tmp_path / "audit.db"))) == 800
    log.close()


def test_audit_rows_are_utc_iso_times(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db")
    before = datetime.now(UTC)
    log.record(event(1))
    log.close()
    (row,) = read_events(tmp_path / "audit.db")
    at = datetime.fromisoformat(str(row["at"]))
    assert at.utcoffset() == timedelta(0)
    assert before <= at <= datetime.now(UTC)


def test_export_since_filters_and_formats(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    log = AuditLog(db)
    log.record(AuditEvent(**{**event(1).__dict__, "at": "2026-11-01T00:00:00.000000+00:00"}))
    log.record(AuditEvent(**{**event(2).__dict__, "at": "2026-11-29T10:00:00.000000+00:00"}))
    log.close()
    text = export_text(db, fmt="csv", since=datetime(2026, 11, 15).date())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["token_id"] for r in rows] == ["tok2"]
    lines = export_text(db, fmt="jsonl").splitlines()
    assert [json.loads(x)["at"][:10] for x in lines] == ["2026-11-01", "2026-11-29"]
    with pytest.raises(ValueError, match="format"):
        export(db, io.StringIO(), fmt="xml")


def test_missing_audit_log_is_a_domain_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="expected an audit log"):
        list(read_events(tmp_path / "none.db"))


def test_cli_export_prints_rows_to_stdout(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db")
    log.record(event(5))
    log.close()
    result = CliRunner().invoke(
        app, ["audit", "export", "--format", "jsonl", "--home", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    assert json.loads(line)["household_ids"] == '["H00005", "H00006"]'
    bad = CliRunner().invoke(
        app, ["audit", "export", "--since", "yesterday", "--home", str(tmp_path)]
    )
    assert bad.exit_code == 1 and "--since" in bad.output


OLD_SCHEMA = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, token_id TEXT NOT NULL,
    role TEXT NOT NULL, level TEXT, jurisdiction TEXT, endpoint TEXT NOT NULL,
    household_ids TEXT NOT NULL, model_version TEXT, as_of TEXT
);
INSERT INTO audit (at, token_id, role, level, jurisdiction, endpoint, household_ids,
                   model_version, as_of)
VALUES ('2026-11-01T00:00:00.000000+00:00', 'old', 'officer', 'township', 'Dingxiao',
        '/v1/priority-list?format=json', '["H00001"]', '6', '2026-10-31');
"""


def test_a_database_without_outcome_and_label_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_SCHEMA)
    log = AuditLog(db)
    log.record(event(1, outcome="forbidden", household_ids=[], label="dx station"))
    log.close()
    old, new = read_events(db)
    assert (old["token_id"], old["outcome"], old["label"]) == ("old", "ok", None)
    assert (new["outcome"], new["household_ids"], new["label"]) == ("forbidden", "[]", "dx station")
    AuditLog(db).close()  # opening again finds the columns there: no second ALTER


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome"):
        event(1, outcome="maybe")


def test_export_says_utc_and_adds_asia_shanghai_local_time(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    log = AuditLog(db)
    log.record(AuditEvent(**{**event(1).__dict__, "at": "2026-11-29T20:00:00.000000+00:00"}))
    log.close()
    (row,) = csv.DictReader(io.StringIO(export_text(db, fmt="csv")))
    assert list(row)[: len(COLUMNS)] == list(COLUMNS)
    assert row["at"] == "2026-11-29T20:00:00.000000+00:00"
    assert row["at_local"] == "2026-11-30T04:00:00.000000+08:00"
