"""HTTP: /v1/reports/{period} and /v1/officers/review: roles, jurisdiction scopes, audit."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from campaign.officer_review import SUSPECT_NOTE_EN, SUSPECT_NOTE_ZH
from serving.app import create_app
from serving.auth import TokenStore
from serving.state import ServingState
from tests.test_campaign_reports import hand_incidents, hand_visits
from tests.test_serving_support import fake_loader, settings_for
from warehouse.contract import TABLE_INCIDENTS, TABLE_VISITS
from warehouse.store import write_table

URL = "/v1/reports/monthly?as_of=2025-02-28"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_table(tmp_path, TABLE_VISITS, hand_visits())
    write_table(tmp_path, TABLE_INCIDENTS, hand_incidents())
    return tmp_path


@pytest.fixture
def tokens(home: Path) -> dict[str, str]:
    store = TokenStore(home / "tokens.json")
    issue = store.issue
    return {
        "sup_county": issue("supervisor", level="county", jurisdiction="安龙县", label="al")[0],
        "sup_town": issue("supervisor", level="township", jurisdiction="丰都街道", label="fd")[0],
        "sup_village": issue("supervisor", level="village", jurisdiction="红星村", label="hx")[0],
        "officer": issue("officer", level="county", jurisdiction="安龙县", label="o")[0],
        "analyst": issue("analyst", label="desk")[0],
        "admin": issue("admin", label="ops")[0],
    }


@pytest.fixture
def client(home: Path, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(home), state_loader=fake_loader())) as c:
        yield c


def get(client: TestClient, token: str, url: str = URL):  # type: ignore[no-untyped-def]
    return client.get(url, headers={"Authorization": f"Bearer {token}"})


def test_analyst_sees_the_whole_prefecture_and_may_narrow_it(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = get(client, tokens["analyst"]).json()
    assert {r["county"] for r in body["levels"]["county"]} == {"兴义市", "安龙县"}
    assert body["headline_zh"].startswith("1月28日至2月27日，共投入警力")
    narrow = get(client, tokens["analyst"], URL + "&township=德卧镇").json()
    assert [r["township"] for r in narrow["levels"]["township"]] == ["德卧镇"]


def test_supervisor_report_is_scoped_to_the_tokens_jurisdiction(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = get(client, tokens["sup_county"]).json()
    assert body["scope"] == {"county": "安龙县"}
    assert {r["county"] for r in body["levels"]["officer"]} == {"安龙县"}
    assert get(client, tokens["sup_county"], URL + "&county=兴义市").status_code == 403
    town = get(client, tokens["sup_town"]).json()
    assert {r["township"] for r in town["levels"]["township"]} == {"丰都街道"}


def test_officers_cannot_read_reports_or_the_review(
    client: TestClient, tokens: dict[str, str]
) -> None:
    assert get(client, tokens["officer"]).status_code == 403
    assert get(client, tokens["officer"], "/v1/officers/review").status_code == 403
    assert get(client, tokens["analyst"], "/v1/officers/review").status_code == 403
    assert client.get(URL).status_code == 401


def test_report_comes_as_xlsx_and_html(client: TestClient, tokens: dict[str, str]) -> None:
    x = get(client, tokens["admin"], URL + "&format=xlsx")
    assert x.status_code == 200
    assert "县市区" in openpyxl.load_workbook(io.BytesIO(x.content)).sheetnames
    h = get(client, tokens["admin"], URL + "&format=html&lang=en")
    assert h.status_code == 200 and "officer-days" in h.text
    assert get(client, tokens["admin"], "/v1/reports/yearly").status_code == 422


def test_review_is_scoped_and_every_request_is_audited(
    client: TestClient, tokens: dict[str, str], home: Path
) -> None:
    r = get(client, tokens["sup_town"], "/v1/officers/review?as_of=2025-02-28")
    assert r.status_code == 200
    body = r.json()
    assert "never a sanction" in body["note"]
    assert all(row["township"] == "丰都街道" for row in body["officers"])
    assert get(client, tokens["sup_village"], "/v1/officers/review").status_code == 403
    assert get(client, tokens["sup_county"], URL + "&county=兴义市").status_code == 403
    client.app.state.audit.flush()  # type: ignore[attr-defined]
    with sqlite3.connect(home / "audit.db") as conn:
        rows = conn.execute("SELECT endpoint, outcome FROM audit ORDER BY id").fetchall()
    assert ("/v1/officers/review", "ok") in rows
    assert ("/v1/officers/review", "forbidden") in rows
    assert ("/v1/reports/{period}", "forbidden") in rows


def test_lists_mark_households_whose_recent_visits_are_suspect() -> None:
    from serving.listing import priority_list
    from tests.test_serving_support import FakeModel, ModelInfo, make_snapshot

    frame = make_snapshot()
    first = frame.iloc[0]
    state = ServingState(
        FakeModel(),
        frame,
        ModelInfo(name="household-escalation", version="7", metrics={}),
        frame["as_of"].iloc[0],
        suspect_households=frozenset({str(first["household_id"])}),
    )
    village = f"{first['county']}/{first['township']}/{first['village']}"  # places are paths
    body = priority_list(state, "village", village, limit=500, offset=0, lang="en")
    notes = {it.household_id: it.note for it in body.items}
    assert notes.pop(str(first["household_id"])) == SUSPECT_NOTE_EN
    assert set(notes.values()) == {None}
    zh = priority_list(state, "village", village, limit=500, offset=0, lang="zh")
    assert SUSPECT_NOTE_ZH in {it.note for it in zh.items}


@pytest.mark.parametrize(
    "url",
    [
        "/v1/reports/daily?county=%2F",  # no place: UnknownPlace answered 500
        "/v1/reports/weekly?township=a%2F%2Fb",
        "/v1/reports/daily?as_of=0001-01-01",  # a review window before year 1: OverflowError
        "/v1/officers/review?as_of=0001-01-01",
    ],
)
def test_malformed_places_and_dates_are_422_not_server_errors(
    client: TestClient, tokens: dict[str, str], url: str
) -> None:
    """Found by a newcomer's check: each of these answered 500."""
    r = get(client, tokens["admin"], url)
    assert r.status_code == 422, r.text
    assert "expected" in r.json()["detail"] and "Traceback" not in r.text


def test_a_supervisors_malformed_place_is_422_not_a_server_error(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """The scope check of a supervisor's token split the asked place first: still a 500."""
    for url in ("/v1/reports/daily?township=%2F", "/v1/reports/daily?county=a%2F%2Fb"):
        r = get(client, tokens["sup_county"], url)
        assert r.status_code == 422, r.text
        assert "expected a name or a path" in r.json()["detail"]
