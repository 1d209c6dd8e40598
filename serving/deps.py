"""Shared FastAPI dependencies (``Annotated`` aliases) and small response helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status

from serving.audit import AuditLog
from serving.errors import StateNotReady
from serving.schemas import Language, ReasonOut, preferred_language
from serving.state import ServingState, StateHolder


def get_holder(request: Request) -> StateHolder:
    """The app's :class:`StateHolder`."""
    holder: StateHolder = request.app.state.holder
    return holder


def get_state(holder: Annotated[StateHolder, Depends(get_holder)]) -> ServingState:
    """The current scored snapshot; 503 while none is loaded."""
    try:
        return holder.get()
    except StateNotReady as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the service has no scored snapshot loaded yet"
        ) from err


def get_audit(request: Request) -> AuditLog:
    """The app's audit log."""
    audit: AuditLog = request.app.state.audit
    return audit


def get_language(
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> Language:
    """Language of reason texts and sheet headers, from ``Accept-Language``."""
    return preferred_language(accept_language)


HolderDep = Annotated[StateHolder, Depends(get_holder)]
StateDep = Annotated[ServingState, Depends(get_state)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
LanguageDep = Annotated[Language, Depends(get_language)]


def reasons_out(reasons: Sequence[Any], lang: Language) -> list[ReasonOut]:
    """Reasons (``models.reasons.Reason``-like) as response objects."""
    return [
        ReasonOut(
            code=str(r.code),
            text=str(r.text_zh if lang == "zh" else r.text_en),
            text_en=str(r.text_en),
            text_zh=str(r.text_zh),
            contribution=float(r.contribution),
        )
        for r in reasons
    ]
