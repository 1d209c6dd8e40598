"""What the task routes and the officers' pages share: the database holder, scope, task views.

Scope: an officer's or supervisor's token has a jurisdiction (level and name); the
tasks it may see or act on are those whose path has that name at that level. Filters
asked for are intersected with it, so asking outside the jurisdiction gives nothing.
Analysts and admins see every task.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request, status

from campaign.bulletin import place_columns
from campaign.config import DECLINE_CODES, OUTCOME_CODES
from campaign.db import TaskDB
from campaign.errors import TaskStoreError
from campaign.reports import ReportInputError
from serving.audit import AuditEvent, AuditLog
from serving.auth import User


class TaskDBHolder:
    """Opens the task database on first use (a bad URL fails the request, not the start-up).

    Parameters
    ----------
    url : str
        SQLAlchemy URL.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: TaskDB | None = None
        self._lock = threading.Lock()

    def get(self) -> TaskDB:
        """The open database.

        Raises
        ------
        TaskStoreError
            When it cannot be opened.
        """
        with self._lock:
            if self._db is None:
                self._db = TaskDB(self.url)
            return self._db

    def close(self) -> None:
        """Dispose of the engine's connections."""
        with self._lock:
            if self._db is not None:
                self._db.dispose()
                self._db = None


def task_db(request: Request) -> TaskDB:
    """The app's task database; 503 when it cannot be opened."""
    holder: TaskDBHolder = request.app.state.tasks
    try:
        return holder.get()
    except TaskStoreError as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the task database cannot be reached"
        ) from err


def place_levels(level: str, text: str) -> dict[str, str]:
    """A place text as per-level names: a full path fills every level down to ``level``.

    :func:`campaign.bulletin.place_columns` for a route: a text that is no name nor
    path (``/``, ``a//b``, blanks) is a 422 naming the level.
    """
    try:
        return place_columns(level, text)
    except ReportInputError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err


def scope_of(user: User) -> dict[str, str]:
    """The path filter a user's tasks are held to (empty for unrestricted users).

    Tokens hold full paths (``兴仁市/城南街道``), tasks hold one column per level, so a
    township token becomes ``{"county": "兴仁市", "township": "城南街道"}``.
    """
    if user.unrestricted or user.level is None or user.jurisdiction is None:
        return {}
    return place_levels(user.level, user.jurisdiction)


def place_filter(user: User, asked: dict[str, str | None]) -> dict[str, str] | None:
    """Asked filters (names or paths) intersected with the user's scope; ``None`` on conflict.

    A filter that is no name nor path (``/``, blanks) is a 422 (:func:`place_levels`).
    """
    place: dict[str, str] = {}
    for level, value in asked.items():
        if value is None:
            continue
        for lvl, name in place_levels(level, value).items():
            if place.get(lvl, name) != name:
                return None
            place[lvl] = name
    for level, name in scope_of(user).items():
        if place.get(level, name) != name:
            return None
        place[level] = name
    return place


def in_scope(user: User, task: dict[str, Any]) -> bool:
    """Whether the task's path lies in the user's jurisdiction."""
    return all(task.get(level) == name for level, name in scope_of(user).items())


def task_view(task: dict[str, Any], today: date, lang: str) -> dict[str, Any]:
    """A task as the API and the pages show it: texts in ``lang``, ``overdue`` and its days."""
    due = task["due"]
    open_ = task["status"] in ("open", "acknowledged")
    overdue_days = (today - due).days if open_ and due < today else 0
    reasons = task.get("reasons") or []
    if isinstance(reasons, float):  # NaN from a frame
        reasons = []

    def text(code: Any, table: dict[str, tuple[str, str]]) -> str | None:
        if code is None or (isinstance(code, float) and pd.isna(code)):
            return None
        en, zh = table.get(str(code), (str(code), str(code)))
        return zh if lang == "zh" else en

    def clean(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, float) and pd.isna(v):
            return None
        if v is pd.NaT:
            return None
        return v

    out = {k: clean(v) for k, v in task.items() if k not in ("reasons",)}
    out.update(
        overdue=overdue_days > 0,
        days_overdue=overdue_days,
        reasons=[
            {
                "code": r.get("code"),
                "text": r.get("text_zh" if lang == "zh" else "text_en"),
                "text_en": r.get("text_en"),
                "text_zh": r.get("text_zh"),
                "contribution": r.get("contribution"),
            }
            for r in reasons
        ],
        outcome_text=text(task.get("outcome"), OUTCOME_CODES),
        decline_text=text(task.get("decline_reason"), DECLINE_CODES),
    )
    return out


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a tasks frame as dicts with ``None`` for missing values."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in rows]


def audit_task(
    audit: AuditLog,
    user: User,
    endpoint: str,
    household_ids: list[str],
    outcome: str = "ok",
    model_version: str | None = None,
) -> None:
    """Queue the audit row of a task read or action."""
    audit.record(
        AuditEvent.make(
            token_id=user.token_id,
            role=user.role,
            level=user.level,
            jurisdiction=user.jurisdiction,
            endpoint=endpoint,
            household_ids=household_ids,
            model_version=model_version,
            as_of=None,
            outcome=outcome,
            label=user.label,
        )
    )
