"""Task endpoints over HTTP: publishing, lists and overdue alerts, actions and their scope,
adherence, 督办, notices, and "follow-up overdue" in the priority list."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.auth import TokenStore
from serving.publishing import load_followups
from tests.tasks_support import snapshot_visits, write_visits
from tests.test_serving_support import AS_OF, fake_loader, settings_for

VISITED = "2026-12-01T10:00:00+08:00"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_visits(tmp_path, snapshot_visits())
    return tmp_path


@pytest.fixture
def tokens(home: Path) -> dict[str, str]:
    store = TokenStore(home / "tokens.json")
    issue = store.issue
    return {
        "dx": issue("officer", level="township", jurisdiction="Dingxiao", label="dx station")[0],
        "zd": issue("officer", level="township", jurisdiction="Zhaodi", label="zd station")[0],
        "chief": issue("supervisor", level="county", jurisdiction="Xingyi", label="xy command")[0],
        "analyst": issue("analyst", label="desk")[0],
        "admin": issue("admin", label="ops")[0],
    }


@pytest.fixture
def client(
    home: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    base = fake_loader()

    def loader(settings):
        state = base(settings)
        state.followups = load_followups(settings.home, state.as_of)
        return state

    monkeypatch.setattr("serving.routes.tasks.local_today", lambda: date(2026, 12, 1))
    app = create_app(settings_for(home), state_loader=loader)
    with TestClient(app) as c:
        yield c


def h(token: str, lang: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {token}"}
    if lang:
        out["Accept-Language"] = lang
    return out


def published(client: TestClient, tokens: dict[str, str], capacity: int = 3) -> dict:
    r = client.post("/v1/admin/publish", json={"capacity": capacity}, headers=h(tokens["admin"]))
    assert r.status_code == 200, r.text
    return r.json()


def test_publish_is_admin_only_and_idempotent(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.post("/v1/admin/publish", headers=h(tokens["dx"])).status_code == 403
    assert client.post("/v1/admin/publish", headers=h(tokens["analyst"])).status_code == 403
    first = published(client, tokens)
    assert first["created"] and first["model_tasks"] == 12 and first["followup_tasks"] == 1
    assert first["week"] == "2026-W49" and first["model_version"] == "7"
    again = published(client, tokens, capacity=9)
    assert not again["created"] and again["model_tasks"] == 12


def test_officers_list_only_their_jurisdiction_and_filters_intersect(
    client: TestClient, tokens: dict[str, str]
) -> None:
    published(client, tokens)
    mine = client.get("/v1/tasks", headers=h(tokens["dx"])).json()["items"]
    assert mine and {t["township"] for t in mine} == {"Dingxiao"}
    assert {t["kind"] for t in mine} == {"model", "followup_overdue"}
    outside = client.get("/v1/tasks?township=Zhaodi", headers=h(tokens["dx"])).json()["items"]
    assert outside == []
    everyone = client.get("/v1/tasks?status=all", headers=h(tokens["analyst"])).json()["items"]
    assert len(everyone) == 13
    chief = client.get("/v1/tasks", headers=h(tokens["chief"])).json()["items"]
    assert {t["county"] for t in chief} == {"Xingyi"}


def test_overdue_alerts_list_open_tasks_past_due(
    client: TestClient, tokens: dict[str, str]
) -> None:
    published(client, tokens)
    # Today is pinned to 2026-12-01: nothing is past due yet (high band: 3 days).
    assert client.get("/v1/tasks?status=overdue", headers=h(tokens["admin"])).json()["items"] == []


def test_officer_actions_are_scoped_coded_and_audited(
    client: TestClient, tokens: dict[str, str], home: Path
) -> None:
    published(client, tokens)
    mine = client.get("/v1/tasks", headers=h(tokens["dx"])).json()["items"]
    task = next(t for t in mine if t["kind"] == "model")
    tid = task["task_id"]
    # Another township's officer: 404 like an unknown task, audited as forbidden.
    assert client.post(f"/v1/tasks/{tid}/acknowledge", headers=h(tokens["zd"])).status_code == 404
    assert (
        client.post(f"/v1/tasks/{tid}/acknowledge", headers=h(tokens["analyst"])).status_code == 403
    )
    r = client.post(f"/v1/tasks/{tid}/acknowledge", headers=h(tokens["dx"]))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert client.post(f"/v1/tasks/{tid}/acknowledge", headers=h(tokens["dx"])).status_code == 409
    bad = client.post(f"/v1/tasks/{tid}/outcome", json={"visited_at": VISITED, "outcome": "we talked"},
                      headers=h(tokens["dx"]))  # fmt: skip
    assert bad.status_code == 422
    r = client.post(f"/v1/tasks/{tid}/outcome", json={"visited_at": VISITED, "outcome": "resolved"},
                    headers=h(tokens["dx"], "zh"))  # fmt: skip
    assert (
        r.status_code == 200
        and r.json()["status"] == "done"
        and r.json()["outcome_text"] == "已化解"
    )
    other = next(t for t in mine if t["task_id"] != tid)["task_id"]
    r = client.post(
        f"/v1/tasks/{other}/decline", json={"reason": "moved_away"}, headers=h(tokens["dx"])
    )
    assert r.status_code == 200 and r.json()["decline_reason"] == "moved_away"
    assert (
        client.post("/v1/tasks/2026W49-99999/acknowledge", headers=h(tokens["dx"])).status_code
        == 404
    )
    detail = client.get(f"/v1/tasks/{tid}", headers=h(tokens["dx"])).json()
    assert [e["action"] for e in detail["events"]] == ["issued", "acknowledge", "outcome"]
    client.app.state.audit.flush()  # type: ignore[attr-defined]
    with sqlite3.connect(home / "audit.db") as conn:
        rows = conn.execute("SELECT token_id, endpoint, outcome FROM audit").fetchall()
    zd_id = tokens["zd"].split("_")[1]
    assert (zd_id, "/v1/tasks/{task_id}/acknowledge", "forbidden") in rows
    dx_id = tokens["dx"].split("_")[1]
    assert (dx_id, "/v1/tasks/{task_id}/outcome", "ok") in rows


def test_csv_list_has_one_row_per_task(client: TestClient, tokens: dict[str, str]) -> None:
    published(client, tokens)
    r = client.get("/v1/tasks?format=csv&status=all", headers=h(tokens["admin"]))
    lines = r.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("task_id,household_id,kind,status,due")
    assert len(lines) == 1 + 13


@pytest.mark.parametrize(
    "url",
    [
        "/v1/tasks/summary?county=%2F",  # "/" is no place: UnknownPlace escaped as a 500
        "/v1/tasks?township=+",
        "/v1/tasks/supervision?county=%2F%2F",
        "/v1/tasks?offset=9223372036854775808",  # past SQLite's integer: OverflowError, a 500
    ],
)
def test_bad_filters_and_offsets_are_422_not_server_errors(
    client: TestClient, tokens: dict[str, str], url: str
) -> None:
    """Found by the schemathesis run (``tests/test_serving_schema.py``, marked slow)."""
    r = client.get(url, headers=h(tokens["admin"]))
    assert r.status_code == 422, r.text
    assert "Traceback" not in r.text


def test_ambiguous_or_loose_requests_are_refused(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """Schemathesis found ``township=A&township=B`` answered for B, and ``capacity: true`` read as 1."""
    r = client.get("/v1/tasks?township=Dingxiao&township=Zhaodi", headers=h(tokens["admin"]))
    assert r.status_code == 422 and "township" in r.json()["detail"]
    r = client.get("/v1/priority-list?township=Dingxiao&township=Zhaodi", headers=h(tokens["dx"]))
    assert r.status_code == 422
    for body in ({"capacity": True}, {"capacity": 3, "note": "free text"}):
        r = client.post("/v1/admin/publish", json=body, headers=h(tokens["admin"]))
        assert r.status_code == 422, body
    assert published(client, tokens, capacity=3)["created"]


def test_summary_and_supervision(client: TestClient, tokens: dict[str, str]) -> None:
    published(client, tokens)
    client.get("/v1/priority-list?township=Dingxiao", headers=h(tokens["dx"]))
    summary = client.get("/v1/tasks/summary", headers=h(tokens["admin"])).json()
    assert summary["overall"]["tasks"] == 13
    towns = {r["township"]: r for r in summary["by_township"]}
    assert set(towns) == {"Dingxiao", "Wanfenglin", "Zhaodi", "Haizi"}
    assert towns["Dingxiao"]["exposed"] >= 3 and towns["Zhaodi"]["exposed"] == 0
    assert summary["by_officer"]
    scoped = client.get("/v1/tasks/summary", headers=h(tokens["dx"])).json()
    assert [r["township"] for r in scoped["by_township"]] == ["Dingxiao"]
    assert client.get("/v1/tasks/supervision", headers=h(tokens["dx"])).status_code == 403
    sup = client.get("/v1/tasks/supervision", headers=h(tokens["chief"])).json()
    assert {u["county"] for u in sup["slow_units"]} == {"Xingyi"}


def test_notice_download_is_scoped(client: TestClient, tokens: dict[str, str]) -> None:
    from openpyxl import load_workbook

    published(client, tokens)
    r = client.get("/v1/notices?county=Xingyi", headers=h(tokens["chief"], "zh"))
    assert r.status_code == 200
    assert sorted(load_workbook(io.BytesIO(r.content)).sheetnames) == ["Dingxiao", "Wanfenglin"]
    dx = client.get("/v1/notices?county=Xingyi", headers=h(tokens["dx"]))
    assert load_workbook(io.BytesIO(dx.content)).sheetnames == ["Dingxiao"]
    assert client.get("/v1/notices?county=Anlong", headers=h(tokens["dx"])).status_code == 404


def test_priority_list_shows_follow_up_overdue_as_a_reason(
    client: TestClient, tokens: dict[str, str]
) -> None:
    items = client.get(
        "/v1/priority-list?township=Dingxiao&limit=50", headers=h(tokens["dx"])
    ).json()["items"]
    late = next(i for i in items if i["household_id"] == "H00005")
    assert late["reasons"][0]["text_en"] == "follow-up overdue by 10 days"
    assert all(
        r["code"] != "FOLLOWUP_OVERDUE"
        for i in items
        if i["household_id"] != "H00005"
        for r in i["reasons"]
    )
    hh = client.get("/v1/households/H00005", headers=h(tokens["dx"], "zh")).json()
    assert hh["reasons"][0]["text"] == "回访已超期 10 天"
    assert AS_OF.date().isoformat() == "2026-11-30"


def test_a_bad_database_url_answers_503_and_the_rest_keeps_serving(
    home: Path, tokens: dict[str, str]
) -> None:
    settings = settings_for(home).model_copy(
        update={"db_url": "postgresql+psycopg://x@127.0.0.1:1/none"}
    )
    app = create_app(settings, state_loader=fake_loader())
    with TestClient(app) as c:
        assert c.get("/v1/tasks", headers=h(tokens["admin"])).status_code == 503
        assert (
            c.get("/v1/priority-list?township=Dingxiao", headers=h(tokens["admin"])).status_code
            == 200
        )
