"""Guards of the list endpoint's fast path: rendered-page cache, audit on hits, cheap auth.

The cache must never serve a page of an older snapshot, never mix languages or
slices, and never skip the audit row; the token file is read once per change,
and recording an audit event never waits on the database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from benchmarks.bench_serving import parse_wrk
from serving import audit as audit_module
from serving.app import create_app
from serving.audit import AuditEvent, AuditLog, read_events
from serving.auth import TokenStore
from serving.config import ServingSettings
from serving.state import CachedPage, PageCache, ServingState
from tests.test_serving_support import AS_OF, FakeModel, fake_loader, make_snapshot, settings_for

LIST = "/v1/priority-list?township=Dingxiao&limit=4"


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    store = TokenStore(tmp_path / "tokens.json")
    analyst, _ = store.issue("analyst", label="analysis desk")
    admin, _ = store.issue("admin", label="ops")
    officer, _ = store.issue("officer", level="village", jurisdiction="Nanpan", label="np post")
    return {"analyst": analyst, "admin": admin, "officer": officer}


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def client(tmp_path: Path, tokens: dict[str, str], model: FakeModel) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path), state_loader=fake_loader(model))) as c:
        yield c


def auth(token: str, lang: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}"}
    if lang:
        h["Accept-Language"] = lang
    return h


def audit_rows(client: TestClient, home: Path) -> list[dict[str, str | None]]:
    client.app.state.audit.flush()  # type: ignore[attr-defined]
    return list(read_events(home / "audit.db"))


def served_state(client: TestClient) -> ServingState:
    state: ServingState = client.app.state.holder.get()  # type: ignore[attr-defined]
    return state


# ------------------------------------------------------------ page cache
def test_repeated_list_is_served_from_the_cache_byte_for_byte(
    client: TestClient, tokens: dict[str, str], model: FakeModel
) -> None:
    first = client.get(LIST, headers=auth(tokens["analyst"]))
    explained = model.explained_rows
    again = [client.get(LIST, headers=auth(tokens["analyst"])) for _ in range(3)]
    assert all(r.status_code == 200 and r.content == first.content for r in again)
    assert model.explained_rows == explained
    pages = served_state(client).pages
    assert (pages.hits, len(pages)) == (3, 1)


def test_every_cached_hit_still_writes_its_audit_row(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    bodies = [client.get(LIST, headers=auth(tokens["analyst"])).json() for _ in range(3)]
    rows = audit_rows(client, tmp_path)
    assert len(rows) == 3
    expected = [it["household_id"] for it in bodies[0]["items"]]
    assert len(expected) == 4
    for row in rows:
        assert json.loads(str(row["household_ids"])) == expected
        assert row["endpoint"] == "/v1/priority-list?format=json"
        assert (row["level"], row["jurisdiction"], row["model_version"], row["as_of"]) == (
            "township",
            "Xingyi/Dingxiao",  # the path
            "7",
            "2026-11-30",
        )


def test_languages_offsets_and_limits_do_not_share_a_cached_page(
    client: TestClient, tokens: dict[str, str]
) -> None:
    h = tokens["analyst"]
    en = client.get(LIST, headers=auth(h)).json()
    zh = client.get(LIST, headers=auth(h, "zh-CN,zh;q=0.9")).json()
    assert (en["language"], zh["language"]) == ("en", "zh")
    en_texts = [r["text"] for it in en["items"] for r in it["reasons"]]
    zh_texts = [r["text"] for it in zh["items"] for r in it["reasons"]]
    assert en_texts and en_texts != zh_texts
    assert zh_texts == [r["text_zh"] for it in en["items"] for r in it["reasons"]]

    shifted = client.get(f"{LIST}&offset=2", headers=auth(h)).json()
    assert [it["rank"] for it in shifted["items"]] == [3, 4, 5, 6]
    assert shifted["items"][:2] == en["items"][2:]
    longer = client.get(LIST.replace("limit=4", "limit=6"), headers=auth(h)).json()
    assert len(longer["items"]) == 6 and longer["items"][:4] == en["items"]
    village = client.get("/v1/priority-list?village=Bajie&limit=4", headers=auth(h)).json()
    assert {it["village"] for it in village["items"]} == {"Bajie"}
    assert len(served_state(client).pages) == 5


def test_reload_never_serves_a_page_of_the_previous_snapshot(
    tmp_path: Path, tokens: dict[str, str]
) -> None:
    # Same model version and as-of date, new data: only the state's identity changes.
    old = make_snapshot()
    new = old.copy()
    new.loc[new["household_id"] == "H00016", "disputes_all_open"] = 50.0  # now ranks first
    frames = iter([old, new])

    def loader(settings: ServingSettings) -> ServingState:
        return fake_loader(frame=next(frames))(settings)

    with TestClient(create_app(settings_for(tmp_path), state_loader=loader)) as c:
        before = c.get(LIST, headers=auth(tokens["analyst"])).json()
        assert c.get(LIST, headers=auth(tokens["analyst"])).json() == before  # cached
        assert before["items"][0]["household_id"] != "H00016"
        assert c.post("/v1/admin/reload", headers=auth(tokens["admin"])).status_code == 200
        after = c.get(LIST, headers=auth(tokens["analyst"])).json()
        assert after["model_version"] == before["model_version"]
        assert after["items"][0]["household_id"] == "H00016"


def test_officer_outside_jurisdiction_is_refused_even_when_the_page_is_cached(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    assert client.get(LIST, headers=auth(tokens["analyst"])).status_code == 200
    assert client.get(LIST, headers=auth(tokens["officer"])).status_code == 403
    rows = audit_rows(client, tmp_path)
    assert [(r["role"], r["outcome"], r["household_ids"]) for r in rows] == [
        ("analyst", "ok", rows[0]["household_ids"]),
        ("officer", "forbidden", "[]"),
    ]
    assert rows[0]["household_ids"] != "[]"


def test_unknown_jurisdiction_is_404_and_caches_nothing(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for _ in range(2):
        r = client.get("/v1/priority-list?township=Nowhere", headers=auth(tokens["analyst"]))
        assert r.status_code == 404
    assert len(served_state(client).pages) == 0


def _page(n_bytes: int, tag: str) -> CachedPage:
    return CachedPage(body=tag.encode() * n_bytes, household_ids=(tag,), household_ids_json="[]")


def test_page_cache_drops_least_recently_used_pages_beyond_its_byte_budget() -> None:
    cache = PageCache(max_bytes=300)
    for key in "abc":
        cache.put(key, _page(98, key))  # 98 + len("[]") = 100 bytes each
    assert cache.get("a") is not None  # a becomes the most recently used
    cache.put("d", _page(98, "d"))
    assert cache.get("b") is None
    assert all(cache.get(k) is not None for k in "acd")
    assert cache.nbytes == 300 and len(cache) == 3


def test_page_cache_skips_a_page_larger_than_the_budget_and_zero_turns_it_off() -> None:
    cache = PageCache(max_bytes=50)
    cache.put("big", _page(60, "x"))
    assert cache.get("big") is None and cache.nbytes == 0
    off = PageCache(max_bytes=0)
    off.put("a", _page(1, "a"))
    assert len(off) == 0


def test_page_cache_budget_comes_from_the_settings(tmp_path: Path) -> None:
    settings = ServingSettings(home=tmp_path, page_cache_bytes=1234)
    state = ServingState(
        FakeModel(),
        make_snapshot(),
        fake_loader()(settings).model_info,
        AS_OF,
        page_cache_bytes=settings.page_cache_bytes,
    )
    assert state.pages.max_bytes == 1234


# ------------------------------------------------------------ auth and audit costs
def test_tokens_file_is_read_once_until_it_changes(
    tmp_path: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    reads = 0
    real_read = store._read

    def counting_read() -> dict:
        nonlocal reads
        reads += 1
        return real_read()

    monkeypatch.setattr(store, "_read", counting_read)
    for _ in range(50):
        store.authenticate(tokens["analyst"])
    assert reads == 1
    st = (tmp_path / "tokens.json").stat()
    os.utime(tmp_path / "tokens.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    store.authenticate(tokens["analyst"])
    assert reads == 2


def test_recording_behind_a_locked_database_fails_within_the_busy_timeout(tmp_path: Path) -> None:
    # Issue #10 reversed the old fire-and-forget design: a read waits for its durable row,
    # so a locked log must fail the read quickly (503), not hang or answer unaudited.
    from serving.audit import AuditWriteError

    db = tmp_path / "audit.db"
    log = AuditLog(db, busy_timeout_s=0.2)
    log.start()
    blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    event = AuditEvent.make(
        token_id="t",
        role="analyst",
        level="county",
        jurisdiction="Xingyi",
        endpoint="/v1/priority-list?format=json",
        household_ids=["H00001"],
        model_version="7",
        as_of="2026-11-30",
    )
    try:
        started = time.perf_counter()
        with pytest.raises(AuditWriteError, match="locked"):
            log.record(event)
        elapsed = time.perf_counter() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert elapsed < 2.0, f"a write behind a locked database took {elapsed:.3f} s to fail"
    log.record(event)
    assert len(list(read_events(db))) == 1
    log.close()


def test_audit_writer_commits_concurrent_requests_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    real_connect = audit_module.connect

    def traced_connect(path: Path, **kw: object) -> sqlite3.Connection:
        conn = real_connect(path, **kw)  # type: ignore[arg-type]
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(audit_module, "connect", traced_connect)
    log = AuditLog(tmp_path / "audit.db", linger_s=0.2)
    log.start()
    barrier = threading.Barrier(50)

    def one(i: int) -> None:
        barrier.wait()
        log.record(
            AuditEvent.make(
                token_id="t",
                role="analyst",
                level=None,
                jurisdiction=None,
                endpoint="/x",
                household_ids_json=json.dumps([f"H{i}"]),
                model_version=None,
                as_of=None,
            )
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    commits = sum(1 for sql in statements if sql.strip().upper() == "COMMIT")
    log.close()
    rows = list(read_events(tmp_path / "audit.db"))
    assert 1 <= commits <= 3, f"{commits} transactions for 50 concurrent requests"
    assert sorted(json.loads(str(r["household_ids"]))[0] for r in rows) == sorted(
        f"H{i}" for i in range(50)
    )


def test_request_ids_are_32_hex_digits_and_distinct(client: TestClient) -> None:
    ids = [client.get("/healthz").headers["x-request-id"] for _ in range(20)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 20


# ------------------------------------------------------------ benchmark client
WRK_OUTPUT = """Running 15s test @ http://127.0.0.1:8000/v1/priority-list?township=T0&limit=50
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.65ms    3.01ms  60.11ms   88.95%
    Req/Sec     4.38k   312.45     4.90k    80.67%
  Latency Distribution
     50%    6.70ms
     75%    8.02ms
     90%   10.31ms
     99%   18.60ms
  65885 requests in 15.04s, 1.68GB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   4378.12
Transfer/sec:    114.50MB
"""


def test_wrk_output_is_parsed_into_rate_percentiles_and_errors() -> None:
    got = parse_wrk(WRK_OUTPUT)
    assert got == {
        "requests": 65885,
        "errors": 5,
        "rps": pytest.approx(4378.12),
        "p50_ms": pytest.approx(6.70),
        "p99_ms": pytest.approx(18.60),
    }
    fast = WRK_OUTPUT.replace("6.70ms", "812.00us").replace("18.60ms", "1.02s")
    assert parse_wrk(fast)["p50_ms"] == pytest.approx(0.812)
    assert parse_wrk(fast)["p99_ms"] == pytest.approx(1020.0)


def test_wrk_output_without_latency_distribution_is_rejected() -> None:
    with pytest.raises(ValueError, match="wrk --latency"):
        parse_wrk(WRK_OUTPUT.replace("     99%   18.60ms\n", ""))
