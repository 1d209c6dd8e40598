"""Revisit tasks: lists and overdue alerts, officers' actions, adherence, 督办, notices, publishing."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from campaign.adherence import adherence, exposures, overall, records, slow_units
from campaign.config import DECLINE_CODES, OUTCOME_CODES, CampaignConfigError, load_publish_config
from campaign.db import TASK_COLUMNS, TaskDB
from campaign.errors import InvalidTaskAction, TaskStoreError, UnknownTask
from campaign.tasks import acknowledge, decline, local_today, record_outcome
from serving.auth import AdminUser, CurrentUser, User, require_role
from serving.deps import AuditDep, HolderDep, LanguageDep
from serving.errors import StateNotReady
from serving.tasks_support import (
    audit_task,
    frame_records,
    in_scope,
    place_filter,
    task_db,
    task_view,
)
from warehouse.home import HomeLockedError, home_lock

router = APIRouter(prefix="/v1", tags=["tasks"])
#: Seconds the publish endpoint waits for another writer to release the home.
PUBLISH_LOCK_WAIT_S = 30.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
logger = logging.getLogger(__name__)

TaskDBDep = Annotated[TaskDB, Depends(task_db)]
ActorUser = Annotated[User, require_role("officer", "supervisor", "admin")]
SupervisorUser = Annotated[User, require_role("supervisor", "analyst", "admin")]
NameQuery = Query(min_length=1, max_length=100)
TaskIdPath = Path(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
_NOT_FOUND = "no such task in your jurisdiction"

OutcomeCode = Literal["dispute_found", "resolved", "mediating", "referred", "none"]
DeclineCode = Literal["already_handled", "moved_away", "wrong_household", "disagree"]
assert set(OutcomeCode.__args__) == set(OUTCOME_CODES)  # type: ignore[attr-defined]
assert set(DeclineCode.__args__) == set(DECLINE_CODES)  # type: ignore[attr-defined]


class OutcomeIn(BaseModel):
    """The outcome of an officer's visit: codes only, never free text (no other field)."""

    model_config = ConfigDict(extra="forbid")

    visited_at: datetime = Field(
        description="When the visit happened (ISO 8601; no offset = Asia/Shanghai)."
    )
    outcome: OutcomeCode = Field(
        description="dispute_found, resolved, mediating, referred or none."
    )


class DeclineIn(BaseModel):
    """Why a task is declined: a code only (no other field)."""

    model_config = ConfigDict(extra="forbid")

    reason: DeclineCode = Field(
        description="already_handled, moved_away, wrong_household or disagree (with the list)."
    )


class PublishIn(BaseModel):
    """Options of a publication (the snapshot's as-of date decides the week).

    Strict: ``{"capacity": true}`` is refused, not read as 1.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    capacity: int | None = Field(
        default=None, ge=0, le=10_000, description="Households per township."
    )


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


#: Columns of the CSV task list (also those of ``revisit tasks list --format csv``).
LIST_COLUMNS = ["task_id", "household_id", "kind", "status", "due", "overdue", "days_overdue",
                "county", "township", "village", "officer_id", "risk_band", "rank_range",
                "notice_no", "outcome", "decline_reason"]  # fmt: skip


#: Answers every task read may give besides 200 (and the app's common errors).
_READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid token."},
    503: {"description": "No task database."},
}


@router.get(
    "/tasks",
    # format=csv: the OpenAPI document said JSON only
    responses={200: {"content": {"text/csv": {}}}, **_READ_RESPONSES},
)
def list_tasks(
    user: CurrentUser,
    db: TaskDBDep,
    audit: AuditDep,
    lang: LanguageDep,
    status_: Annotated[
        Literal["open", "overdue", "done", "declined", "all"], Query(alias="status")
    ] = "open",
    county: Annotated[str | None, NameQuery] = None,
    township: Annotated[str | None, NameQuery] = None,
    village: Annotated[str | None, NameQuery] = None,
    household_id: Annotated[str | None, NameQuery] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """Tasks of your jurisdiction: ``open`` (open or acknowledged), ``overdue`` (超时预警:
    open past the due date), ``done``, ``declined`` or ``all``; most urgent first.

    Filters are intersected with the token's jurisdiction. Audited (the households listed).
    """
    today = local_today()
    place = place_filter(user, {"county": county, "township": township, "village": village})
    if place is None:
        items: list[dict[str, Any]] = []
    else:
        frame = db.tasks_frame(
            place=place, status=status_, today=today, household_id=household_id,
            limit=limit, offset=offset,
        )  # fmt: skip
        items = [task_view(t, today, lang) for t in frame_records(frame)]
    audit_task(audit, user, f"/v1/tasks?status={status_}", [t["household_id"] for t in items])
    if format == "csv":
        return Response(_csv(items, LIST_COLUMNS), media_type="text/csv; charset=utf-8")
    body = {"status": status_, "today": today, "limit": limit, "offset": offset,
            "language": lang, "items": items}  # fmt: skip
    return Response(
        json.dumps(body, default=str, ensure_ascii=False), media_type="application/json"
    )


@router.get(
    "/tasks/summary",
    responses=_READ_RESPONSES,
)
def tasks_summary(
    request: Request,
    user: CurrentUser,
    db: TaskDBDep,
    audit: AuditDep,
    county: Annotated[str | None, NameQuery] = None,
    township: Annotated[str | None, NameQuery] = None,
) -> dict[str, Any]:
    """List adherence: the share of listed households visited within their due date, per
    township and per officer (from the tasks), with how many were seen in audited reads."""
    from serving.audit import AuditError, read_events

    today = local_today()
    place = place_filter(user, {"county": county, "township": township})
    frame = db.tasks_frame(place=place or {}, status="all") if place is not None else None
    if frame is None or len(frame) == 0:
        audit_task(audit, user, "/v1/tasks/summary", [])
        return {"today": today, "overall": overall(_empty(db), today), "by_township": [],
                "by_officer": []}  # fmt: skip
    audit.flush()
    try:
        since = pd.Timestamp(frame["issued_at"].min()).to_pydatetime()
        reads = [r for r in read_events(request.app.state.settings.audit_db, since=since)
                 if str(r.get("endpoint", "")).startswith(("/v1/priority-list", "/v1/households", "ui:"))]  # fmt: skip
        seen: set[str] | None = exposures(frame, reads)
    except AuditError:
        seen = None
    audit_task(audit, user, "/v1/tasks/summary", [])
    return {
        "today": today,
        "overall": overall(frame, today),
        "by_township": records(adherence(frame, today, exposed=seen)),
        "by_officer": records(adherence(frame, today, by=("officer_id",), exposed=seen)),
    }


def _empty(db: TaskDB) -> pd.DataFrame:
    """An empty tasks frame (a filter that contradicts the token's scope matches nothing)."""
    return pd.DataFrame(columns=list(TASK_COLUMNS))


@router.get(
    "/tasks/supervision",
    responses={
        403: {"description": "Officers do not see the supervision view."},
        **_READ_RESPONSES,
    },
)
def supervision(
    user: SupervisorUser,
    db: TaskDBDep,
    audit: AuditDep,
    lang: LanguageDep,
    county: Annotated[str | None, NameQuery] = None,
    township: Annotated[str | None, NameQuery] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """督办: your units' overdue tasks and the units slowest to acknowledge or complete."""
    today = local_today()
    place = place_filter(user, {"county": county, "township": township})
    frame = db.tasks_frame(place=place or {}, status="all") if place is not None else _empty(db)
    late = frame_records(db.tasks_frame(place=place or {}, status="overdue", today=today, limit=limit)) if place is not None else []  # fmt: skip
    overdue = [task_view(t, today, lang) for t in late]
    audit_task(audit, user, "/v1/tasks/supervision", [t["household_id"] for t in overdue])
    body = {"today": today, "slow_units": records(slow_units(frame, today)), "overdue": overdue}
    return Response(
        json.dumps(body, default=str, ensure_ascii=False), media_type="application/json"
    )


def _scoped_task(db: TaskDB, user: User, audit: Any, task_id: str, endpoint: str) -> dict[str, Any]:
    try:
        task = db.get(task_id)
    except UnknownTask as err:
        audit_task(audit, user, endpoint, [], "not_found")
        raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_FOUND) from err
    if not in_scope(user, task):
        audit_task(audit, user, endpoint, [task["household_id"]], "forbidden")
        raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_FOUND)
    return task


@router.get(
    "/tasks/{task_id}",
    responses={
        404: {"description": "Unknown task, or outside your jurisdiction."},
        **_READ_RESPONSES,
    },
)
def get_task(
    task_id: Annotated[str, TaskIdPath], user: CurrentUser, db: TaskDBDep, audit: AuditDep,
    lang: LanguageDep,
) -> Any:  # fmt: skip
    """One task with its history of actions (404 outside your jurisdiction, like an unknown id)."""
    task = _scoped_task(db, user, audit, task_id, "/v1/tasks/{task_id}")
    audit_task(audit, user, "/v1/tasks/{task_id}", [task["household_id"]])
    body = task_view(task, local_today(), lang)
    body["events"] = frame_records(db.events(task_id).drop(columns=["id"]))
    return Response(
        json.dumps(body, default=str, ensure_ascii=False), media_type="application/json"
    )


def _act(
    action: str, task_id: str, user: User, db: TaskDB, audit: Any, lang: str, **kw: Any
) -> Any:
    endpoint = f"/v1/tasks/{{task_id}}/{action}"
    task = _scoped_task(db, user, audit, task_id, endpoint)
    actions: dict[str, Callable[..., dict[str, Any]]] = {
        "acknowledge": acknowledge,
        "outcome": record_outcome,
        "decline": decline,
    }
    fn = actions[action]  # fmt: skip
    try:
        updated = fn(db, task_id, actor=user.token_id, role=user.role, **kw)
    except InvalidTaskAction as err:
        audit_task(audit, user, endpoint, [task["household_id"]], "forbidden")
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    audit_task(audit, user, endpoint, [task["household_id"]])
    body = task_view(updated, local_today(), lang)
    return Response(
        json.dumps(body, default=str, ensure_ascii=False), media_type="application/json"
    )


_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid token."},
    403: {"description": "Analysts may not act on tasks."},
    404: {"description": "Unknown task, or outside your jurisdiction."},
    409: {"description": "The task's status does not allow this action."},
}


@router.post("/tasks/{task_id}/acknowledge", responses=_ACTION_RESPONSES)
def post_acknowledge(
    task_id: Annotated[str, TaskIdPath], user: ActorUser, db: TaskDBDep, audit: AuditDep,
    lang: LanguageDep,
) -> Any:  # fmt: skip
    """Acknowledge (签收) an open task of your jurisdiction. Audited."""
    return _act("acknowledge", task_id, user, db, audit, lang)


@router.post("/tasks/{task_id}/outcome", responses=_ACTION_RESPONSES)
def post_outcome(
    task_id: Annotated[str, TaskIdPath], body: OutcomeIn, user: ActorUser, db: TaskDBDep,
    audit: AuditDep, lang: LanguageDep,
) -> Any:  # fmt: skip
    """Record the outcome of the visit (a code) and close the task. Audited."""
    return _act(
        "outcome", task_id, user, db, audit, lang, outcome=body.outcome, visited_at=body.visited_at
    )


@router.post("/tasks/{task_id}/decline", responses=_ACTION_RESPONSES)
def post_decline(
    task_id: Annotated[str, TaskIdPath], body: DeclineIn, user: ActorUser, db: TaskDBDep,
    audit: AuditDep, lang: LanguageDep,
) -> Any:  # fmt: skip
    """Decline a task with a reason code and close it. Audited."""
    return _act("decline", task_id, user, db, audit, lang, reason=body.reason)


admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])


@admin_router.post(
    "/publish",
    responses={
        401: {"description": "No or invalid token."},
        403: {"description": "Admins only."},
        422: {"description": "A roster or capacity file under the home is invalid."},
        503: {"description": "No scored snapshot or no task database."},
    },
)
def post_publish(
    request: Request, user: AdminUser, holder: HolderDep, db: TaskDBDep,
    body: PublishIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Publish the week of the loaded snapshot as tasks (idempotent: once per ISO week)."""
    from serving.publishing import publish_state

    settings = request.app.state.settings
    try:
        state = holder.get()
    except StateNotReady as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "no scored snapshot loaded"
        ) from err
    try:
        config = load_publish_config(settings.home, capacity=body.capacity if body else None)
        with home_lock(settings.home, wait_s=PUBLISH_LOCK_WAIT_S):
            report = publish_state(
                state, db, settings.home, config, actor=user.token_id, now=datetime.now(UTC)
            )
    except HomeLockedError as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "another revisit command is writing to the home; publish again in a moment",
        ) from err
    except CampaignConfigError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except TaskStoreError as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the task database cannot be written"
        ) from err
    logger.info(
        "week %s published by token %s (created=%s)", report.week, user.token_id, report.created
    )
    return {
        "week": report.week, "as_of": report.as_of, "created": report.created,
        "model_tasks": report.n_model, "followup_tasks": report.n_followup,
        "carried_over": report.n_carried, "closed_from_exports": report.n_closed,
        "model_version": report.model_version,
    }  # fmt: skip


@router.get("/notices", responses={200: {"content": {XLSX: {}}}, 404: {"description": "No tasks."}})
def get_notice(
    request: Request, user: CurrentUser, db: TaskDBDep, audit: AuditDep, lang: LanguageDep,
    county: Annotated[str, NameQuery], week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$")] = None,
) -> Response:  # fmt: skip
    """The tracked early-warning notice (预警提示单) of a county's week as XLSX: a sheet per
    township, limited to your jurisdiction; the latest week unless ``week`` (``2026-W49``)."""
    from campaign.notice import notice_workbook
    from serving.sheets import BAND_RULE, content_disposition

    place = place_filter(user, {"county": county})
    frame = db.tasks_frame(place=place, status="all") if place is not None else _empty(db)
    if len(frame):
        week = week or str(frame["week"].max())
        frame = frame[frame["week"] == week]
    if len(frame) == 0:
        audit_task(audit, user, "/v1/notices", [], "not_found")
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no tasks of this county and week in your jurisdiction"
        )
    try:
        config = load_publish_config(request.app.state.settings.home)
    except CampaignConfigError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    content = notice_workbook(
        frame, county=county, unit=NOTICE_UNIT[lang], issued_on=date.today(),
        band_rule=BAND_RULE[lang], due_days=config.due_days, lang=lang,
    )  # fmt: skip
    audit_task(audit, user, "/v1/notices", [str(h) for h in frame["household_id"]])
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": content_disposition(
                "county", county, frame["as_of"].iloc[0], "xlsx"
            )
        },
    )


#: Default issuing unit of notices.
NOTICE_UNIT = {"zh": "州公安局指挥中心", "en": "Prefecture police command centre"}
