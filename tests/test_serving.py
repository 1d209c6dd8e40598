"""HTTP API of serving/ against the real app with an injected fake model and snapshot."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.auth import TokenStore
from serving.state import ServingState
from tests.test_serving_support import (
    AS_OF,
    BrokenModel,
    FakeModel,
    fake_loader,
    make_snapshot,
    settings_for,
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def tokens(home: Path) -> dict[str, str]:
    store = TokenStore(home / "tokens.json")
    out = {}
    out["county_officer"], _ = store.issue(
        "officer", level="county", jurisdiction="Xingyi", label="xingyi unit"
    )
    out["township_officer"], _ = store.issue(
        "officer", level="township", jurisdiction="Dingxiao", label="dx station"
    )
    out["village_officer"], _ = store.issue(
        "officer", level="village", jurisdiction="Nanpan", label="np post"
    )
    out["analyst"], _ = store.issue("analyst", label="analysis desk")
    out["county_analyst"], _ = store.issue(
        "analyst", level="county", jurisdiction="Anlong", label="anlong desk"
    )
    out["path_officer"], _ = store.issue(
        "officer", level="village", jurisdiction="Anlong/Zhaodi/Xinzhai", label="xz post"
    )
    out["admin"], _ = store.issue("admin", label="ops")
    return out


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def client(home: Path, tokens: dict[str, str], model: FakeModel) -> Iterator[TestClient]:
    app = create_app(settings_for(home), state_loader=fake_loader(model=model))
    with TestClient(app) as c:
        yield c


def auth(token: str, lang: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}"}
    if lang:
        h["Accept-Language"] = lang
    return h


def flushed_audit_rows(client: TestClient, home: Path) -> list[tuple]:
    client.app.state.audit.flush()  # type: ignore[attr-defined]
    with sqlite3.connect(home / "audit.db") as conn:
        return conn.execute(
            "SELECT token_id, role, level, jurisdiction, endpoint, household_ids, model_version, as_of FROM audit ORDER BY id"
        ).fetchall()


# ------------------------------------------------------------------- auth
@pytest.mark.parametrize(
    "path",
    ["/v1/priority-list?township=Dingxiao", "/v1/households/H00001", "/v1/model"],
)
def test_request_without_token_is_401_with_www_authenticate(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["rv_deadbeef_nope", "garbage", "rv_x_y"])
def test_unknown_or_malformed_token_is_401(client: TestClient, token: str) -> None:
    r = client.get("/v1/priority-list?township=Dingxiao", headers=auth(token))
    assert r.status_code == 401
    assert "traceback" not in r.text.lower()


def test_token_with_right_id_but_wrong_secret_is_401(
    client: TestClient, tokens: dict[str, str]
) -> None:
    forged = tokens["analyst"][:-4] + "AAAA"
    r = client.get("/v1/priority-list?township=Dingxiao", headers=auth(forged))
    assert r.status_code == 401


def test_revoked_token_is_401_at_once(
    client: TestClient, tokens: dict[str, str], home: Path
) -> None:
    token = tokens["analyst"]
    assert client.get("/v1/priority-list?county=Xingyi", headers=auth(token)).status_code == 200
    TokenStore(home / "tokens.json").revoke(token.split("_")[1])
    assert client.get("/v1/priority-list?county=Xingyi", headers=auth(token)).status_code == 401


# role × asked jurisdiction -> expected status of the list
SCOPE_CASES = [
    ("county_officer", "county=Xingyi", 200),
    ("county_officer", "township=Dingxiao", 200),
    ("county_officer", "village=Bajie", 200),
    ("county_officer", "county=Anlong", 403),
    ("county_officer", "township=Zhaodi", 403),
    ("county_officer", "village=Xinzhai", 422),  # name shared with a village of Anlong
    ("county_officer", "village=Xingyi/Dingxiao/Xinzhai", 200),  # the path names one
    ("county_officer", "village=Dingxiao/Xinzhai", 200),  # so does a tail of it
    ("county_officer", "village=Anlong/Zhaodi/Xinzhai", 403),
    ("county_officer", "township=Xingyi/Dingxiao", 200),
    ("township_officer", "township=Dingxiao", 200),
    ("township_officer", "village=Bajie", 200),
    ("township_officer", "county=Xingyi", 403),
    ("township_officer", "township=Wanfenglin", 403),
    ("township_officer", "village=Nanpan", 403),
    ("village_officer", "village=Nanpan", 200),
    ("village_officer", "village=Bajie", 403),
    ("village_officer", "township=Wanfenglin", 403),
    ("analyst", "county=Anlong", 200),
    ("analyst", "village=Xinzhai", 422),
    ("analyst", "village=Anlong/Zhaodi/Xinzhai", 200),
    ("village_officer", "village=Xinzhai", 403),  # both namesakes lie outside Nanpan
    ("county_analyst", "county=Anlong", 200),  # an analyst's --county is enforced
    ("county_analyst", "county=Xingyi", 403),
    ("county_analyst", "village=Xingyi/Dingxiao/Xinzhai", 403),
    ("path_officer", "village=Anlong/Zhaodi/Xinzhai", 200),  # token holds the path
    ("path_officer", "village=Xingyi/Dingxiao/Xinzhai", 403),  # not the namesake's list
    ("admin", "township=Haizi", 200),
    ("analyst", "township=Nowhere", 404),
    ("township_officer", "township=Nowhere", 403),
]


@pytest.mark.parametrize(("who", "query", "expected"), SCOPE_CASES)
def test_list_scope_per_role_and_jurisdiction(
    client: TestClient, tokens: dict[str, str], who: str, query: str, expected: int
) -> None:
    r = client.get(f"/v1/priority-list?{query}", headers=auth(tokens[who]))
    assert r.status_code == expected, r.text
    if expected == 200:
        level, name = query.split("=")
        items = r.json()["items"]
        assert {it[level] for it in items} == {name.split("/")[-1]}
        if "/" in name:  # a path: only that place's households, not its namesakes'
            parts = name.split("/")
            levels = ["county", "township", "village"][
                : ["county", "township", "village"].index(level) + 1
            ]
            assert {tuple(it[lv] for lv in levels[-len(parts) :]) for it in items} == {tuple(parts)}
    if expected == 422:  # candidates: the namesakes the token may see (all, for an analyst)
        detail = r.json()["detail"]
        seen = (
            ["Xingyi/Dingxiao/Xinzhai"]
            if who == "county_officer"
            else [
                "Anlong/Zhaodi/Xinzhai",
                "Xingyi/Dingxiao/Xinzhai",
            ]
        )
        assert sorted(detail["candidates"]) == seen


HOUSEHOLD_CASES = [
    # H00001..H00016 are in Dingxiao (Xingyi); H00017.. in Wanfenglin; Nanpan = H00017..H00024
    ("county_officer", "H00001", 200),
    ("county_officer", "H00040", 404),
    ("township_officer", "H00010", 200),
    ("township_officer", "H00020", 404),
    ("village_officer", "H00020", 200),
    ("village_officer", "H00001", 404),
    ("analyst", "H00060", 200),
    ("admin", "H00060", 200),
    # Xingyi/Dingxiao/Xinzhai = H00001..H00008, Anlong/Zhaodi/Xinzhai = H00033..H00040
    ("path_officer", "H00033", 200),
    ("path_officer", "H00001", 404),  # the namesake village's household
    ("county_analyst", "H00040", 200),
    ("county_analyst", "H00001", 404),
]


@pytest.mark.parametrize(("who", "hid", "expected"), HOUSEHOLD_CASES)
def test_household_outside_jurisdiction_is_404_like_unknown(
    client: TestClient, tokens: dict[str, str], who: str, hid: str, expected: int
) -> None:
    r = client.get(f"/v1/households/{hid}", headers=auth(tokens[who]))
    assert r.status_code == expected, r.text
    if expected == 404:
        unknown = client.get("/v1/households/NOPE", headers=auth(tokens[who]))
        assert unknown.status_code == 404
        assert unknown.json() == r.json()


@pytest.mark.parametrize("who", ["county_officer", "township_officer", "village_officer"])
def test_officers_may_not_score_read_the_model_or_reload(
    client: TestClient, tokens: dict[str, str], who: str
) -> None:
    h = auth(tokens[who])
    assert client.get("/v1/model", headers=h).status_code == 403
    assert (
        client.post("/v1/score", json={"rows": [{"disputes_all_open": 1}]}, headers=h).status_code
        == 403
    )
    assert client.post("/v1/admin/reload", headers=h).status_code == 403


def test_analyst_may_score_and_read_model_but_not_reload(
    client: TestClient, tokens: dict[str, str]
) -> None:
    h = auth(tokens["analyst"])
    m = client.get("/v1/model", headers=h)
    assert m.status_code == 200
    assert m.json()["version"] == "7" and m.json()["n_households"] == len(make_snapshot())
    assert client.post("/v1/admin/reload", headers=h).status_code == 403


# ---------------------------------------------------------------- ranking
def test_list_is_sorted_by_score_desc_then_household_id(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.get("/v1/priority-list?county=Xingyi&limit=500", headers=auth(tokens["analyst"]))
    items = r.json()["items"]
    assert [it["rank"] for it in items] == list(range(1, len(items) + 1))
    keys = [(-it["score"], it["household_id"]) for it in items]
    assert keys == sorted(keys)
    # the three exact ties come first, in id order, although inserted in reverse
    assert [it["household_id"] for it in items[:3]] == ["H00001", "H00002", "H00003"]
    assert items[0]["score"] == items[1]["score"] == items[2]["score"]


def test_list_matches_an_independent_sort_of_the_snapshot(
    client: TestClient, tokens: dict[str, str]
) -> None:
    frame = make_snapshot()
    frame["score"] = FakeModel().predict_proba(frame)[:, 1]
    expected = (
        frame[frame["township"] == "Haizi"]
        .sort_values(["score", "household_id"], ascending=[False, True])["household_id"]
        .tolist()
    )
    r = client.get(
        "/v1/priority-list?township=Haizi&limit=5&offset=3", headers=auth(tokens["analyst"])
    )
    body = r.json()
    assert [it["household_id"] for it in body["items"]] == expected[3:8]
    assert [it["rank"] for it in body["items"]] == [4, 5, 6, 7, 8]
    assert body["total"] == len(expected)


def test_list_carries_model_version_as_of_and_horizon(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = client.get("/v1/priority-list?village=Bajie", headers=auth(tokens["analyst"])).json()
    assert body["model_version"] == "7"
    assert body["as_of"] == AS_OF.date().isoformat()
    assert body["horizon_days"] == 30
    item = body["items"][0]
    assert {"days_since_last_visit", "open_disputes", "risk_band", "village", "township"} <= set(
        item
    )


def test_risk_bands_follow_prefecture_rank_shares(
    client: TestClient, tokens: dict[str, str]
) -> None:
    h = auth(tokens["analyst"])
    items = []
    for county in ("Xingyi", "Anlong"):
        items += client.get(f"/v1/priority-list?county={county}&limit=500", headers=h).json()[
            "items"
        ]
    items.sort(key=lambda it: (-it["score"], it["household_id"]))
    n = len(items)  # 64: top 1 % -> 1, top 5 % -> 4, top 20 % -> 13
    bands = [it["risk_band"] for it in items]
    assert bands[:1] == ["high"]
    assert bands[1:4] == ["elevated"] * 3
    assert bands[4:13] == ["moderate"] * 9
    assert set(bands[13:]) == {"low"} and n == 64


# ---------------------------------------------------------------- reasons
def test_reasons_are_in_both_languages_and_text_follows_accept_language(
    client: TestClient, tokens: dict[str, str]
) -> None:
    en = client.get(
        "/v1/priority-list?township=Dingxiao&limit=3", headers=auth(tokens["analyst"])
    ).json()
    zh = client.get(
        "/v1/priority-list?township=Dingxiao&limit=3",
        headers=auth(tokens["analyst"], "zh-CN,zh;q=0.9"),
    ).json()
    r_en, r_zh = en["items"][0]["reasons"], zh["items"][0]["reasons"]
    assert r_en and len(r_en) <= 3
    assert r_en[0]["code"] == "DISPUTES_ALL_OPEN"
    assert r_en[0]["text"] == r_en[0]["text_en"] == "9 unresolved disputes"
    assert r_zh[0]["text"] == r_zh[0]["text_zh"] == "9 起未化解纠纷"
    contributions = [r["contribution"] for r in r_en]
    assert contributions == sorted(contributions, reverse=True)
    assert en["language"] == "en" and zh["language"] == "zh"


def test_reasons_are_computed_only_for_returned_rows_and_cached(
    client: TestClient, tokens: dict[str, str], model: FakeModel
) -> None:
    h = auth(tokens["analyst"])
    client.get("/v1/priority-list?county=Anlong&limit=5", headers=h)
    assert model.explained_rows == 5
    client.get("/v1/priority-list?county=Anlong&limit=7", headers=h)
    assert model.explained_rows == 7  # only the 2 new rows were explained


# ----------------------------------------------------------------- bounds
@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("township=Dingxiao&limit=0", "greater than or equal to 1"),
        ("township=Dingxiao&limit=501", "less than or equal to 500"),
        ("township=Dingxiao&limit=abc", "valid integer"),
        ("township=Dingxiao&offset=-1", "greater than or equal to 0"),
        ("township=Dingxiao&format=pdf", "json"),
        ("", "exactly one of county, township or village"),
        ("township=Dingxiao&village=Bajie", "exactly one of county, township or village"),
        ("township=", "at least 1 character"),
    ],
)
def test_bad_list_parameters_are_422_with_a_clear_message(
    client: TestClient, tokens: dict[str, str], query: str, needle: str
) -> None:
    r = client.get(f"/v1/priority-list?{query}", headers=auth(tokens["analyst"]))
    assert r.status_code == 422
    assert needle in r.text


def test_offset_past_the_end_gives_an_empty_page(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.get("/v1/priority-list?village=Bajie&offset=1000", headers=auth(tokens["analyst"]))
    assert r.status_code == 200
    assert r.json()["items"] == [] and r.json()["total"] == 8


# ------------------------------------------------------------------ sheets
def test_xlsx_opens_with_openpyxl_and_has_the_title(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.get(
        "/v1/priority-list?township=Dingxiao&limit=10&format=xlsx",
        headers=auth(tokens["township_officer"], "zh-CN"),
    )
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb.active
    title = ws["A1"].value
    assert "预警提示单" in title and "Dingxiao" in title and "2026-11-30" in title
    assert [c.value for c in ws[3]][:2] == ["排名", "户编号"]
    assert ws["B4"].value == "H00001"
    assert ws.max_row == 3 + 10


def test_csv_has_title_and_english_headers_by_default(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.get("/v1/priority-list?village=Bajie&format=csv", headers=auth(tokens["analyst"]))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Early-warning notice") and "Bajie" in lines[0]
    assert lines[2].startswith("Rank,Household ID")
    assert len(lines) == 3 + 8


# ------------------------------------------------------------------- audit
def test_every_list_and_household_read_writes_an_audit_row(
    client: TestClient, tokens: dict[str, str], home: Path
) -> None:
    token = tokens["township_officer"]
    body = client.get("/v1/priority-list?township=Dingxiao&limit=4", headers=auth(token)).json()
    client.get("/v1/households/H00005", headers=auth(token))
    client.get("/v1/priority-list?township=Zhaodi", headers=auth(token))  # 403: refused, audited
    rows = flushed_audit_rows(client, home)
    assert len(rows) == 3
    assert rows[2][:6] == (
        token.split("_")[1],
        "officer",
        "township",
        "Anlong/Zhaodi",  # the audit names the place by its path
        "/v1/priority-list?format=json",
        "[]",
    )
    token_id = token.split("_")[1]
    assert rows[0][:5] == (
        token_id,
        "officer",
        "township",
        "Xingyi/Dingxiao",
        "/v1/priority-list?format=json",
    )
    assert json.loads(rows[0][5]) == [it["household_id"] for it in body["items"]]
    assert rows[0][6:] == ("7", "2026-11-30")
    assert json.loads(rows[1][5]) == ["H00005"]
    assert token not in json.dumps(rows)


def test_refused_household_reads_are_audited_with_their_outcome(
    client: TestClient, tokens: dict[str, str], home: Path
) -> None:
    token = tokens["village_officer"]  # Nanpan
    inside = client.get("/v1/households/H00001", headers=auth(tokens["analyst"]))
    assert inside.status_code == 200
    outside = client.get("/v1/households/H00001", headers=auth(token))
    unknown = client.get("/v1/households/NOPE", headers=auth(token))
    assert outside.status_code == unknown.status_code == 404
    client.app.state.audit.flush()  # type: ignore[attr-defined]
    with sqlite3.connect(home / "audit.db") as conn:
        rows = conn.execute(
            "SELECT role, outcome, household_ids, label FROM audit ORDER BY id"
        ).fetchall()
    assert rows == [
        ("analyst", "ok", '["H00001"]', "analysis desk"),
        ("officer", "forbidden", '["H00001"]', "np post"),
        ("officer", "not_found", "[]", "np post"),
    ]


# ------------------------------------------------------------------ score
def test_score_endpoint_agrees_with_the_served_list(
    client: TestClient, tokens: dict[str, str]
) -> None:
    h = auth(tokens["analyst"])
    hh = client.get("/v1/households/H00001", headers=h).json()
    rows = [
        {
            "household_id": "H00001",
            "disputes_all_open": 9,
            "visits_all_days_since_last": 100,
            "incidents_365d_count": 2,
        },
        {"disputes_all_open": 0},
    ]
    r = client.post("/v1/score?reasons=true", json={"rows": rows}, headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["score"] == pytest.approx(hh["score"])
    assert items[0]["household_id"] == "H00001" and items[1]["household_id"] is None
    assert items[1]["score"] < items[0]["score"]
    assert items[0]["reasons"][0]["code"] == "DISPUTES_ALL_OPEN"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"rows": []}, "at least 1"),
        ({"rows": [{"no_such_feature": 1}]}, "unknown columns"),
        ({"rows": [{"disputes_all_open": 1}] * 10_001}, "at most 10000 rows, got 10001"),
        ({}, "Field required"),
        # a newcomer's check: an extra field was ignored and Infinity was scored
        ({"rows": [{"disputes_all_open": 1}], "note": "x"}, "note"),
        ({"rows": [{"household_id": 123, "disputes_all_open": 1}]}, "household_id in row 0"),
    ],
)
def test_bad_score_requests_are_422_with_a_clear_message(
    client: TestClient, tokens: dict[str, str], body: dict, needle: str
) -> None:
    r = client.post("/v1/score", json=body, headers=auth(tokens["analyst"]))
    assert r.status_code == 422
    assert needle in r.text


@pytest.mark.parametrize("token", ["Infinity", "-Infinity", "NaN"])
def test_score_refuses_infinity_and_nan(
    client: TestClient, tokens: dict[str, str], token: str
) -> None:
    """Python's JSON reader takes Infinity and NaN (JSON has neither); they were scored."""
    r = client.post(
        "/v1/score",
        content='{"rows": [{"disputes_all_open": ' + token + "}]}",
        headers={**auth(tokens["analyst"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert "finite" in r.text


def test_empty_score_row_is_422_naming_the_missing_features(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.post("/v1/score", json={"rows": [{}]}, headers=auth(tokens["analyst"]))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "row 0" in detail and "2 dimensional" not in detail
    for name in FakeModel.feature_names_:
        assert repr(name) in detail


@pytest.mark.parametrize("column", ["disputes_all_open", "visits_all_days_since_last"])
def test_negative_count_or_days_is_422_naming_column_and_value(
    client: TestClient, tokens: dict[str, str], column: str
) -> None:
    rows = [{"disputes_all_open": 1}, {column: -3}]
    r = client.post("/v1/score", json={"rows": rows}, headers=auth(tokens["analyst"]))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert repr(column) in detail and "-3.0" in detail and "row 1" in detail


def test_negative_trend_is_scored(home: Path, tokens: dict[str, str]) -> None:
    class TrendModel(FakeModel):
        feature_names_ = [*FakeModel.feature_names_, "disputes_30d_trend"]

    app = create_app(settings_for(home), state_loader=fake_loader(model=TrendModel()))
    with TestClient(app) as c:
        rows = [{"disputes_all_open": 1, "disputes_30d_trend": -1.5}]
        r = c.post("/v1/score", json={"rows": rows}, headers=auth(tokens["analyst"]))
    assert r.status_code == 200, r.text


def test_oversized_score_request_is_a_short_422_without_the_input_echoed(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = {"rows": [{"disputes_all_open": 1}] * 10_001}
    r = client.post("/v1/score", json=body, headers=auth(tokens["analyst"]))
    assert r.status_code == 422
    assert len(r.content) < 1_000
    (error,) = r.json()["detail"]
    assert error["msg"] == "at most 10000 rows, got 10001"
    assert error["loc"] == ["body", "rows"] and "input" not in error


def test_small_422_keeps_fastapi_structure_in_plain_words(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.post("/v1/score", json={"rows": "x"}, headers=auth(tokens["analyst"]))
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert set(error) >= {"type", "loc", "msg", "input"} and error["input"] == "x"
    assert not error["msg"].startswith("Value error")


def test_plain_validation_errors_drop_pydantic_prefixes_and_large_inputs() -> None:
    from serving.app import plain_validation_errors

    (small, large) = plain_validation_errors(
        [
            {"type": "value_error", "loc": ("body",), "msg": "Value error, bad", "input": 1},
            {"type": "too_long", "loc": ("body",), "msg": "too long", "input": ["x"] * 1000},
        ]
    )
    assert small == {"type": "value_error", "loc": ("body",), "msg": "bad", "input": 1}
    assert "input" not in large and large["msg"] == "too long"


def test_rows_to_frame_builds_a_wide_frame_without_fragmentation_warnings() -> None:
    import warnings

    from pandas.errors import PerformanceWarning

    from features.catalogue import feature_names
    from serving.routes.score import rows_to_frame

    class WideModel(FakeModel):
        feature_names_ = feature_names()

    assert len(WideModel.feature_names_) > 100  # pandas warns past 100 inserted columns
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        frame = rows_to_frame(WideModel(), [{WideModel.feature_names_[0]: 1.0}] * 3)
    assert list(frame.columns) == WideModel.feature_names_
    assert frame.shape == (3, len(WideModel.feature_names_))
    assert frame.iloc[:, 1:].isna().all().all()


# ------------------------------------------------------------------ reload
def test_failed_reload_keeps_the_old_state_and_readyz_reports_it(
    home: Path, tokens: dict[str, str]
) -> None:
    good = fake_loader(version="7")
    calls = {"n": 0}

    def loader(settings):  # first load good, then a broken model
        calls["n"] += 1
        if calls["n"] == 1:
            return good(settings)
        return ServingState(BrokenModel(), make_snapshot(), good(settings).model_info, AS_OF)

    with TestClient(create_app(settings_for(home), state_loader=loader)) as c:
        assert c.get("/readyz").json()["status"] == "ready"
        r = c.post("/v1/admin/reload", headers=auth(tokens["admin"]))
        assert r.status_code == 503
        assert "previous state keeps serving" in r.json()["detail"]
        assert c.get("/readyz").json() == {"status": "ready"}  # anonymous: ready or not, only
        ready = c.get("/readyz", headers=auth(tokens["admin"]))
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert "broken on purpose" in ready.json()["last_reload_error"]
        assert ready.json()["warning"]
        lst = c.get("/v1/priority-list?county=Xingyi", headers=auth(tokens["analyst"]))
        assert lst.status_code == 200 and lst.json()["model_version"] == "7"


def test_successful_reload_swaps_in_the_new_version(home: Path, tokens: dict[str, str]) -> None:
    versions = iter(["7", "8"])

    def loader(settings):
        return fake_loader(version=next(versions))(settings)

    with TestClient(create_app(settings_for(home), state_loader=loader)) as c:
        r = c.post("/v1/admin/reload", headers=auth(tokens["admin"]))
        assert r.status_code == 200 and r.json()["model_version"] == "8"
        body = c.get("/v1/priority-list?county=Xingyi", headers=auth(tokens["analyst"])).json()
        assert body["model_version"] == "8"
        assert c.get("/readyz").json()["status"] == "ready"


def test_no_state_at_start_is_503_on_readyz_and_lists(home: Path, tokens: dict[str, str]) -> None:
    def loader(settings):
        raise RuntimeError("registry down")

    with TestClient(create_app(settings_for(home), state_loader=loader)) as c:
        anonymous = c.get("/readyz")
        assert anonymous.status_code == 503 and anonymous.json() == {"status": "not ready"}
        r = c.get("/readyz", headers=auth(tokens["admin"]))
        assert r.status_code == 503 and "registry down" in r.json()["last_reload_error"]
        assert c.get("/healthz").status_code == 200
        lst = c.get("/v1/priority-list?county=Xingyi", headers=auth(tokens["analyst"]))
        assert lst.status_code == 503


def test_periodic_check_reloads_when_the_probe_changes(home: Path) -> None:
    from serving.state import StateHolder

    fingerprint = {"v": 1}
    versions = iter(["1", "2", "3"])
    holder = StateHolder(
        settings_for(home),
        lambda s: fake_loader(version=next(versions))(s),
        probe=lambda s: fingerprint["v"],
    )
    holder.reload()
    assert holder.check_for_changes() is False
    fingerprint["v"] = 2
    assert holder.check_for_changes() is True
    assert holder.get().model_info.version == "2"


# ----------------------------------------------------------- metrics, errors
def test_metrics_count_requests_per_route_template(
    client: TestClient, tokens: dict[str, str]
) -> None:
    client.get("/v1/households/H00001", headers=auth(tokens["analyst"]))
    client.get("/v1/households/H00002", headers=auth(tokens["analyst"]))
    client.get("/healthz")
    text = client.get("/metrics").text
    assert (
        'revisit_http_requests_total{method="GET",route="/v1/households/{household_id}",status="200"} 2.0'
        in text
    )
    assert 'route="/healthz"' in text
    assert "revisit_http_request_duration_seconds_bucket" in text
    assert "H00001" not in text


def test_two_apps_have_separate_metric_registries(home: Path) -> None:
    a = create_app(settings_for(home), state_loader=fake_loader())
    b = create_app(settings_for(home), state_loader=fake_loader())
    assert a.state.metrics.registry is not b.state.metrics.registry


def test_unexpected_error_is_500_json_without_stack_trace(
    home: Path, tokens: dict[str, str]
) -> None:
    class Exploding(FakeModel):
        def explain(self, X, top_k=3):
            raise RuntimeError("secret internals")

    app = create_app(settings_for(home), state_loader=fake_loader(model=Exploding()))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/priority-list?county=Xingyi", headers=auth(tokens["analyst"]))
    assert r.status_code == 500
    assert r.json()["detail"] == "internal error" and r.json()["request_id"]
    assert "secret internals" not in r.text and "Traceback" not in r.text
