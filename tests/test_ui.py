"""The officers' pages under /ui/: sessions, CSRF, scope, language — over HTTP (TestClient),
then in a real browser (Playwright driving Debian's chromium; marker ``browser``)."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.auth import TokenStore
from tests.e2e_support import free_port
from tests.tasks_support import snapshot_visits, write_visits
from tests.test_serving_support import fake_loader, settings_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


def _prepared(home: Path) -> tuple[Any, dict[str, str]]:
    write_visits(home, snapshot_visits())
    store = TokenStore(home / "tokens.json")
    tokens = {
        "dx": store.issue("officer", level="township", jurisdiction="Dingxiao", label="dx station")[
            0
        ],
        "analyst": store.issue("analyst", label="desk")[0],
        "admin": store.issue("admin", label="ops")[0],
        "chief": store.issue("supervisor", level="county", jurisdiction="Xingyi", label="xy")[0],
    }
    app = create_app(settings_for(home), state_loader=fake_loader())
    return app, tokens


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "expected a CSRF field in the form"
    return match.group(1)


def _sign_in(c: TestClient, token: str) -> None:
    page = c.get("/ui/login")
    r = c.post("/ui/login", data={"token": token, "csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app, tokens = _prepared(tmp_path)
    with TestClient(app, base_url="http://testserver") as c:
        r = c.post("/v1/admin/publish", headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert r.status_code == 200
        yield c, tokens


def test_sign_in_sets_an_httponly_strict_cookie_without_the_token(ui) -> None:
    c, tokens = ui
    page = c.get("/ui/login")
    r = c.post(
        "/ui/login", data={"token": tokens["dx"], "csrf": _csrf(page.text)}, follow_redirects=False
    )
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("rv_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert tokens["dx"].split("_", 2)[2] not in cookie
    assert c.get("/ui/tasks").status_code == 200


def test_bad_token_or_missing_csrf_is_refused(ui) -> None:
    c, tokens = ui
    page = c.get("/ui/login")
    assert (
        c.post(
            "/ui/login", data={"token": "rv_00000000_nope", "csrf": _csrf(page.text)}
        ).status_code
        == 401
    )
    c.cookies.clear()
    assert c.post("/ui/login", data={"token": tokens["dx"], "csrf": "forged"}).status_code == 400
    assert c.get("/ui/tasks", follow_redirects=False).status_code == 303


def test_actions_need_the_session_csrf_and_stay_in_scope(ui) -> None:
    c, tokens = ui
    _sign_in(c, tokens["dx"])
    page = c.get("/ui/tasks").text
    task_id = re.search(r'data-task="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    forged = c.post(f"/ui/tasks/{task_id}/acknowledge", data={"csrf": "x"})
    assert forged.status_code == 403
    ok = c.post(
        f"/ui/tasks/{task_id}/acknowledge", data={"csrf": _csrf(page)}, follow_redirects=False
    )
    assert ok.status_code == 303 and "msg=saved" in ok.headers["location"]
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    assert c.get(f"/v1/tasks/{task_id}", headers=admin).json()["status"] == "acknowledged"
    other = c.get("/v1/tasks?township=Zhaodi", headers=admin).json()["items"][0]
    r = c.post(f"/ui/tasks/{other['task_id']}/acknowledge", data={"csrf": _csrf(page)})
    assert r.status_code == 404
    assert c.get(f"/ui/households/{other['household_id']}").status_code == 404


def test_revoking_the_token_ends_the_session(ui, tmp_path: Path) -> None:
    c, tokens = ui
    _sign_in(c, tokens["dx"])
    TokenStore(tmp_path / "tokens.json").revoke(tokens["dx"].split("_")[1])
    assert c.get("/ui/tasks", follow_redirects=False).status_code == 303


def test_analysts_read_but_cannot_act_and_supervisors_see_the_supervision_page(ui) -> None:
    c, tokens = ui
    _sign_in(c, tokens["analyst"])
    page = c.get("/ui/tasks").text
    assert "/acknowledge" not in page
    task_id = re.search(r'data-task="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert c.post(f"/ui/tasks/{task_id}/acknowledge", data={"csrf": _csrf(page)}).status_code == 403
    c.cookies.clear()
    _sign_in(c, tokens["chief"])
    sup = c.get("/ui/supervise")
    assert sup.status_code == 200 and "督办" in sup.text and "Zhaodi" not in sup.text


def test_chinese_by_default_english_on_the_switch(ui) -> None:
    c, tokens = ui
    _sign_in(c, tokens["dx"])
    assert "我的任务" in c.get("/ui/tasks").text
    c.get("/ui/lang/en?next=/ui/tasks")
    assert "My tasks" in c.get("/ui/tasks").text


# ------------------------------------------------------------------------ real browser
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("BROWSER TESTS SKIPPED: playwright is not installed (pip install playwright)")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if executable is None:
        pytest.skip(
            f"BROWSER TESTS SKIPPED: no chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)"
        )
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        except Error as err:
            pytest.skip(f"BROWSER TESTS SKIPPED: chromium did not start: {str(err)[:300]}")
        yield b
        b.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    import httpx
    import uvicorn

    app, tokens = _prepared(tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    httpx.post(
        f"{base}/v1/admin/publish",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        timeout=30,
    )
    try:
        yield base, tokens
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.browser
def test_officer_signs_in_records_an_outcome_and_is_refused_elsewhere(browser, live) -> None:
    base, tokens = live
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/ui/")
    page.fill("#token", tokens["dx"])
    page.click("#sign-in")
    page.wait_for_url(f"{base}/ui/tasks")
    assert page.locator("h1").inner_text().startswith("我的任务")
    cards = page.locator(".card[data-task]")
    assert cards.count() >= 16
    assert page.locator(".chip.high, .chip.elevated, .chip.moderate, .chip.low").count() >= 16
    # Usable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots = os.environ.get("REVISIT_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / "tasks-phone.png"), full_page=False)
    first = cards.first
    task_id = first.get_attribute("data-task")
    first.locator("details:has(form.outcome) summary").click()
    first.locator("input[name=visited_at]").fill("2026-12-01T10:30")
    first.locator("select[name=outcome]").select_option("resolved")
    first.locator("form.outcome button").click()
    page.wait_for_url(re.compile(r".*msg=saved.*"))
    assert page.locator(f".card[data-task='{task_id}']").count() == 0  # closed: off the open list
    page.goto(f"{base}/ui/tasks?view=done")
    done = page.locator(f".card[data-task='{task_id}']")
    assert "已化解" in done.inner_text()
    # A household of another township is refused like an unknown one.
    response = page.goto(f"{base}/ui/households/H00040")
    assert response is not None and response.status == 404
    assert "不在您的辖区" in page.locator("#error").inner_text()
    # The household page of one's own township opens, in English after the switch.
    page.goto(f"{base}/ui/households/H00001")
    page.click("#lang")
    assert "Reasons" in page.content()
    if shots:
        page.set_viewport_size({"width": 1100, "height": 800})
        page.goto(f"{base}/ui/tasks")
        page.screenshot(path=str(Path(shots) / "tasks-desktop-en.png"))
    context.close()
