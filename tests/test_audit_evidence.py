"""The audit log is evidence, and the API's edges hold (issue #10, findings 3 and 4).

Each test reproduces a finding: reads answered with no durable row, a log that
could be edited unnoticed, refusals not audited, files readable by others,
formulas in exports, bodies parsed before any check.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from revisit.cli import app as cli
from serving.app import create_app
from serving.audit import AuditEvent, AuditLog, read_events
from serving.audit_verify import verify
from serving.auth import TokenStore
from serving.config import ServingSettings
from tests.test_serving_support import fake_loader

LIST = "/v1/priority-list?township=Dingxiao&limit=3"


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    store = TokenStore(tmp_path / "tokens.json")
    officer, _ = store.issue("officer", level="township", jurisdiction="Dingxiao", label="dx")
    analyst, _ = store.issue("analyst", label="desk")
    admin, _ = store.issue("admin", label="ops")
    return {"officer": officer, "analyst": analyst, "admin": admin}


def _client(home: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(
            ServingSettings(home=home, reload_interval_s=0, **settings),  # type: ignore[arg-type]
            state_loader=fake_loader(),
        )
    )


@pytest.fixture
def client(tmp_path: Path, tokens: dict[str, str]) -> Iterator[TestClient]:
    with _client(tmp_path) as c:
        yield c


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rows(home: Path) -> list[dict[str, str | None]]:
    return list(read_events(home / "audit.db"))


# ------------------------------------------------------------ durable, fail closed
def test_a_read_is_answered_only_after_its_row_is_on_disk(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    for i in range(5):
        r = client.get(LIST, headers=h(tokens["officer"]))
        assert r.status_code == 200
        # no flush, another connection: the row of the answer is already committed
        with sqlite3.connect(tmp_path / "audit.db") as conn:
            n = conn.execute("SELECT COUNT(*) FROM audit WHERE outcome = 'ok'").fetchone()[0]
        assert n == i + 1
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_read_whose_row_cannot_be_written_is_refused_with_503(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    assert client.get(LIST, headers=h(tokens["officer"])).status_code == 200
    for suffix in ("", "-wal", "-shm"):  # the log removed under the running service
        Path(f"{tmp_path / 'audit.db'}{suffix}").unlink(missing_ok=True)
    r = client.get(LIST, headers=h(tokens["officer"]))
    assert r.status_code == 503
    assert "audit" in r.json()["detail"] and "H0" not in r.text


def test_a_locked_audit_log_refuses_the_read(tmp_path: Path, tokens: dict[str, str]) -> None:
    with _client(tmp_path, audit_busy_timeout_s=0.2) as c:
        assert c.get(LIST, headers=h(tokens["officer"])).status_code == 200
        blocker = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            r = c.get(LIST, headers=h(tokens["officer"]))
            assert r.status_code == 503 and "H0" not in r.text
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert c.get(LIST, headers=h(tokens["officer"])).status_code == 200


# --------------------------------------------------------------- every request
def test_every_request_is_audited_refusals_model_and_score_included(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    client.get(LIST)  # no token
    client.get(LIST, headers={"Authorization": "Bearer rv_0badc0de_notthesecret"})
    client.get("/v1/model", headers=h(tokens["officer"]))  # 403 by role
    client.get("/v1/model", headers=h(tokens["analyst"]))
    client.get("/v1/households/nope", headers=h(tokens["analyst"]))  # 404
    client.get("/v1/priority-list?limit=0&township=Dingxiao", headers=h(tokens["analyst"]))  # 422
    client.post("/v1/score", json={"rows": []}, headers=h(tokens["analyst"]))
    got = [(r["token_id"], r["role"], r["endpoint"], r["outcome"]) for r in rows(tmp_path)]
    officer_id = tokens["officer"].split("_")[1]
    analyst_id = tokens["analyst"].split("_")[1]
    assert got[0] == ("-", "-", "GET /v1/priority-list", "unauthorized")
    assert got[1] == ("0badc0de", "-", "GET /v1/priority-list", "unauthorized")
    assert got[2] == (officer_id, "officer", "GET /v1/model", "forbidden")
    assert got[3] == (analyst_id, "analyst", "GET /v1/model", "ok")
    assert got[4][3] == "not_found"
    assert got[5] == (analyst_id, "analyst", "GET /v1/priority-list", "invalid")
    assert got[6][:3] == (analyst_id, "analyst", "POST /v1/score")
    assert len(got) == 7
    assert "notthesecret" not in str(rows(tmp_path))


# ----------------------------------------------------------------- tamper-evident
def test_verify_names_the_first_altered_or_deleted_row(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db")
    for i in range(6):
        log.record(
            AuditEvent.make(
                token_id=f"t{i}",
                role="officer",
                level="township",
                jurisdiction="A/B",
                endpoint="/v1/priority-list",
                household_ids=[f"H{i}"],
                model_version="1",
                as_of="2026-11-30",
            )
        )
    log.close()
    db = tmp_path / "audit.db"
    report = verify(db)
    assert report.ok and report.n_checked == 6
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--home", str(tmp_path)])
    assert ok.exit_code == 0 and "6 rows, hash chain intact" in ok.output

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET household_ids = '[]' WHERE id = 3")
    report = verify(db)
    assert not report.ok and report.first_bad_id == 3 and "altered" in str(report.problem)
    bad = runner.invoke(cli, ["audit", "verify", "--home", str(tmp_path)])
    assert bad.exit_code == 1 and "row 3" in bad.output

    with sqlite3.connect(db) as conn:  # put it back, then delete a row instead
        conn.execute("UPDATE audit SET household_ids = '[\"H2\"]' WHERE id = 3")
        conn.execute("DELETE FROM audit WHERE id = 4")
    report = verify(db)
    assert not report.ok and report.first_bad_id == 5 and "deleted" in str(report.problem)


def test_audit_files_are_readable_by_their_owner_only(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    client.get(LIST, headers=h(tokens["officer"]))
    for name in ("audit.db", "audit.db-wal", "tokens.json"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name


def test_export_neutralises_spreadsheet_formulas_in_csv_and_xlsx(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db")
    for label in ('=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "plain"):
        log.record(
            AuditEvent.make(
                token_id="t",
                role="admin",
                level=None,
                jurisdiction=None,
                endpoint="GET /v1/model",
                model_version=None,
                as_of=None,
                label=label,
            )
        )
    log.close()
    runner = CliRunner()
    out = runner.invoke(cli, ["audit", "export", "--home", str(tmp_path)])
    assert out.exit_code == 0, out.output
    labels = [r["label"] for r in csv.DictReader(io.StringIO(out.stdout))]
    assert labels == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "plain"]
    xlsx = tmp_path / "audit.xlsx"
    res = runner.invoke(
        cli, ["audit", "export", "--format", "xlsx", "--out", str(xlsx), "--home", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    sheet = load_workbook(xlsx).active
    header = [c.value for c in sheet[1]]
    column = header.index("label") + 1
    cells = [sheet.cell(row=i, column=column) for i in range(2, 7)]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells][:2] == ['\'=HYPERLINK("http://x")', "'+1"]


def test_the_audit_location_comes_from_the_home_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVISIT_AUDIT_DB", str(tmp_path / "elsewhere.db"))
    monkeypatch.setenv("AUDIT_DB_PATH", str(tmp_path / "elsewhere.db"))
    assert ServingSettings(home=tmp_path).audit_db == tmp_path / "audit.db"


# -------------------------------------------------------------------- edges
def test_an_oversized_body_is_413_before_it_is_parsed_or_authenticated(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    body = b"[" + b"1," * 600_000 + b"1]"
    r = client.post("/v1/score", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))  # no Content-Length
    r = client.post(
        "/v1/score",
        content=chunks,
        headers={**h(tokens["analyst"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert [r["outcome"] for r in rows(tmp_path)] == ["invalid", "invalid"]


def test_score_with_a_non_json_content_type_is_415(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.post(
        "/v1/score",
        content=b"rows=1",
        headers={**h(tokens["analyst"]), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415 and "application/json" in r.json()["detail"]


def test_lists_sheets_and_households_are_never_cached(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for url in (LIST, LIST + "&format=csv", LIST + "&format=xlsx", "/v1/households/H00001"):
        r = client.get(url, headers=h(tokens["officer"]))
        assert r.status_code == 200, (url, r.text)
        assert r.headers["cache-control"] == "no-store"


def test_readyz_tells_anonymous_callers_only_whether_it_is_ready(
    client: TestClient, tokens: dict[str, str]
) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/readyz", headers=h(tokens["officer"])).json() == {"status": "ready"}
    detailed = client.get("/readyz", headers=h(tokens["admin"])).json()
    assert detailed["model_version"] == "7" and detailed["n_households"] > 0


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "jsdelivr" not in page.text and "unpkg" not in page.text
    assets = [u for u in ("swagger-ui-bundle.js", "swagger-ui.css") if u in page.text]
    assert len(assets) == 2
    for line in page.text.split('"'):
        if line.endswith((".js", ".css")):
            assert line.startswith("/"), line
            assert client.get(line).status_code == 200


def test_files_a_command_writes_under_the_home_are_0600(tmp_path: Path) -> None:
    from tests.data.make_samples import EXPORTS

    saved = os.umask(0o022)  # a permissive shell umask: the command must not rely on it
    try:
        result = CliRunner().invoke(cli, ["ingest", str(EXPORTS), "--home", str(tmp_path)])
    finally:
        os.umask(saved)
    assert result.exit_code == 0, result.output
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    loose = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert all(mode == "0o600" for mode in loose.values()), loose


def test_on_a_full_disk_no_read_is_answered(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.audit as audit_module

    def disk_full(conn: sqlite3.Connection, events: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(audit_module, "append_rows", disk_full)
    codes = [client.get(LIST, headers=h(tokens["officer"])).status_code for _ in range(200)]
    assert codes == [503] * 200
