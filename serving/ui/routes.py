"""The officers' pages: sign in, my tasks, overdue tasks, a household, actions, 督办.

Every page read and every action is audited like the API (endpoints ``ui:…``). An
officer or supervisor sees only their jurisdiction; a household or task outside it
answers 404 like an unknown one. Chinese by default; ``/ui/lang/en`` switches.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from campaign.adherence import records, slow_units
from campaign.config import DECLINE_CODES, OUTCOME_CODES
from campaign.db import TaskDB
from campaign.errors import InvalidTaskAction, TaskStoreError, UnknownTask
from campaign.tasks import acknowledge, decline, local_today, record_outcome
from serving.auth import AuthError, User
from serving.errors import StateNotReady, UnknownHousehold
from serving.listing import reasons_out, with_rule_reasons
from serving.tasks_support import audit_task, frame_records, in_scope, scope_of, task_view
from serving.ui.i18n import BANDS, STATUSES, pick, translate
from serving.ui.session import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    Session,
    csrf_ok,
    end_session,
    read_session,
    set_cookie,
    start_session,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
ACTORS = ("officer", "supervisor", "admin")
SUPERVISORS = ("supervisor", "analyst", "admin")
_SEE_OTHER = 303


def mount(app: FastAPI) -> None:
    """Add the pages to the app and give it a session key (settings, else random per process)."""
    key = app.state.settings.session_key or secrets.token_urlsafe(32)
    app.state.session_key = key
    app.include_router(router)


def _lang(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def _session(request: Request) -> Session | None:
    return read_session(request, request.app.state.session_key, request.app.state.tokens)


def _db(request: Request) -> TaskDB:
    db: TaskDB = request.app.state.tasks.get()
    return db


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": lambda key, **kw: translate(lang, key, **kw),
            "band": lambda code: pick(BANDS, code, lang),
            "status_text": lambda code: pick(STATUSES, code, lang),
            "outcomes": {k: v[1 if lang == "zh" else 0] for k, v in OUTCOME_CODES.items()},
            "declines": {k: v[1 if lang == "zh" else 0] for k, v in DECLINE_CODES.items()},
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return response


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("ui_login"), status_code=_SEE_OTHER)


def _scope_text(user: User) -> str:
    if user.level is None:
        return "*"
    return f"{user.jurisdiction}"


# ------------------------------------------------------------------------ sign-in
@router.get("/", name="ui_home")
def home(request: Request) -> Response:
    """Signed in: my tasks; else the sign-in page."""
    if _session(request) is None:
        return _to_login(request)
    return RedirectResponse(request.url_for("ui_tasks"), status_code=_SEE_OTHER)


@router.get("/login", name="ui_login")
def login_page(request: Request) -> Response:
    """The sign-in form (with a double-submit CSRF cookie)."""
    nonce = secrets.token_urlsafe(24)
    response = _page(request, "login.html", csrf=nonce, error=None)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, nonce, 600)
    return response


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    """Exchange a bearer token for a session cookie."""
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
        return _page(request, "login.html", 400, csrf=csrf, error="bad_form")
    try:
        user = request.app.state.tokens.authenticate(token.strip())
    except AuthError:
        return _page(request, "login.html", 401, csrf=csrf, error="bad_token")
    record = request.app.state.tokens.records()[user.token_id]
    response = RedirectResponse(request.url_for("ui_tasks"), status_code=_SEE_OTHER)
    start_session(request, response, request.app.state.session_key, user.token_id, record.sha256)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui")
    audit_task(request.app.state.audit, user, "ui:login", [])
    return response


@router.post("/logout", name="ui_logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the session."""
    session = _session(request)
    response = _to_login(request)
    if session is not None and csrf_ok(session.csrf, csrf):
        end_session(response)
    return response


@router.get("/lang/{code}", name="ui_lang")
def switch_language(request: Request, code: str, next: str = "/ui/") -> Response:
    """Switch the pages' language (``zh`` or ``en``) and go back."""
    target = next if next.startswith("/ui/") and "//" not in next else "/ui/"
    response = RedirectResponse(target, status_code=_SEE_OTHER)
    set_cookie(request, response, LANG_COOKIE, "en" if code == "en" else "zh", 365 * 86400)
    return response


# ------------------------------------------------------------------------- pages
@router.get("/tasks", name="ui_tasks")
def tasks_page(request: Request, view: str = "open", msg: str | None = None) -> Response:
    """My tasks (open, overdue or done) with band colours, reasons and the action forms."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    view = view if view in ("open", "overdue", "done") else "open"
    today = local_today()
    lang = _lang(request)
    try:
        frame = _db(request).tasks_frame(
            place=scope_of(session.user), status=view, today=today, limit=500
        )
    except TaskStoreError:
        return _page(
            request,
            "error.html",
            503,
            session=session,
            message="the task database cannot be reached",
        )
    items = [task_view(t, today, lang) for t in frame_records(frame)]
    items.sort(key=lambda t: (not t["overdue"], str(t["due"]), t.get("rank") or 10**9))
    audit_task(
        request.app.state.audit,
        session.user,
        f"ui:tasks?view={view}",
        [t["household_id"] for t in items],
    )
    return _page(
        request, "tasks.html", session=session, items=items, view=view, today=today, msg=msg,
        can_act=session.user.role in ACTORS, scope=_scope_text(session.user),
        path=str(request.url.path) + (f"?view={view}" if view != "open" else ""),
    )  # fmt: skip


@router.get("/households/{household_id}", name="ui_household")
def household_page(request: Request, household_id: str) -> Response:
    """One household: score, band and reasons from the snapshot, a history summary, its tasks."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    user = session.user
    lang = _lang(request)
    today = local_today()
    audit = request.app.state.audit
    try:
        tasks = frame_records(
            _db(request).tasks_frame(household_id=household_id[:100], status="all")
        )
    except TaskStoreError:
        tasks = []
    snapshot: dict[str, Any] | None = None
    place: dict[str, Any] | None = tasks[0] if tasks else None
    try:
        state = request.app.state.holder.get()
        position = state.position(household_id)
        row = state.row(position, rank=1)
        (reasons,) = with_rule_reasons(state, [row], state.reasons_for([position]))
        snapshot = {
            "row": row, "reasons": reasons_out(reasons, lang),  # type: ignore[arg-type]
            "model_version": state.model_info.version, "as_of": state.as_of.date(),
            "history": state.feature_values(position),
        }  # fmt: skip
        place = {"county": row.county, "township": row.township, "village": row.village}
    except (StateNotReady, UnknownHousehold):
        pass
    if place is None or not in_scope(user, place):
        audit_task(
            audit,
            user,
            "ui:households",
            [household_id] if place else [],
            "forbidden" if place else "not_found",
        )
        return _page(
            request, "error.html", 404, session=session, message=translate(lang, "not_found")
        )
    audit_task(audit, user, "ui:households", [household_id])
    return _page(
        request, "household.html", session=session, household_id=household_id, snap=snapshot,
        place=place, tasks=[task_view(t, today, lang) for t in tasks],
        can_act=user.role in ACTORS, path=str(request.url.path),
    )  # fmt: skip


@router.get("/supervise", name="ui_supervise")
def supervise_page(request: Request) -> Response:
    """督办: the units slowest to act and the overdue tasks of my units."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    lang = _lang(request)
    if session.user.role not in SUPERVISORS:
        return _page(
            request, "error.html", 403, session=session, message=translate(lang, "forbidden_role")
        )
    today = local_today()
    db = _db(request)
    place = scope_of(session.user)
    units = records(slow_units(db.tasks_frame(place=place, status="all"), today))
    late = [
        task_view(t, today, lang)
        for t in frame_records(
            db.tasks_frame(place=place, status="overdue", today=today, limit=200)
        )
    ]
    audit_task(
        request.app.state.audit, session.user, "ui:supervise", [t["household_id"] for t in late]
    )
    return _page(request, "supervise.html", session=session, units=units, items=late, today=today)


# ------------------------------------------------------------------------ actions
@router.post("/tasks/{task_id}/{action}", name="ui_act")
def act(
    request: Request,
    task_id: str,
    action: str,
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=300)] = "/ui/tasks",
    outcome: Annotated[str | None, Form(max_length=30)] = None,
    visited_at: Annotated[str | None, Form(max_length=30)] = None,
    reason: Annotated[str | None, Form(max_length=30)] = None,
) -> Response:
    """Acknowledge, record an outcome or decline, from a form; back to the page it came from."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    lang = _lang(request)
    if not csrf_ok(session.csrf, csrf):
        return _page(
            request, "error.html", 403, session=session, message=translate(lang, "bad_form")
        )
    user = session.user
    audit = request.app.state.audit
    endpoint = f"ui:tasks/{action}"
    if user.role not in ACTORS or action not in ("acknowledge", "outcome", "decline"):
        return _page(
            request, "error.html", 403, session=session, message=translate(lang, "forbidden_role")
        )
    db = _db(request)
    try:
        task = db.get(task_id[:40])
    except UnknownTask:
        task = None
    if task is None or not in_scope(user, task):
        audit_task(
            audit,
            user,
            endpoint,
            [task["household_id"]] if task else [],
            "forbidden" if task else "not_found",
        )
        return _page(
            request, "error.html", 404, session=session, message=translate(lang, "not_found")
        )
    msg = "saved"
    try:
        if action == "acknowledge":
            acknowledge(db, task_id, actor=user.token_id, role=user.role)
        elif action == "outcome":
            when = datetime.fromisoformat(visited_at) if visited_at else datetime.now().astimezone()
            record_outcome(
                db,
                task_id,
                outcome=str(outcome),
                visited_at=when,
                actor=user.token_id,
                role=user.role,
            )
        else:
            decline(db, task_id, reason=str(reason), actor=user.token_id, role=user.role)
        audit_task(audit, user, endpoint, [task["household_id"]])
    except (InvalidTaskAction, ValueError):
        audit_task(audit, user, endpoint, [task["household_id"]], "forbidden")
        msg = "conflict"
    target = next if next.startswith("/ui/") and "//" not in next else "/ui/tasks"
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}msg={quote(msg)}", status_code=_SEE_OTHER)
