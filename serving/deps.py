"""Shared FastAPI dependencies (``Annotated`` aliases).

They are ``async def`` because they only read in-memory state: FastAPI would run a
plain ``def`` dependency in the thread pool, one thread hop per dependency per request.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from serving.audit import AuditLog
from serving.errors import StateNotReady
from serving.listing import reasons_out
from serving.schemas import Language, preferred_language
from serving.state import ServingState, StateHolder

__all__ = [
    "AcceptLanguageHeader",
    "AuditDep",
    "HolderDep",
    "LanguageDep",
    "StateDep",
    "current_state",
    "reasons_out",
]


async def get_holder(request: Request) -> StateHolder:
    """The app's :class:`StateHolder`."""
    holder: StateHolder = request.app.state.holder
    return holder


def current_state(request: Request) -> ServingState:
    """The current scored snapshot of the request's app; 503 while none is loaded.

    A plain function for hot routes that avoid a dependency node (each costs
    about 10 µs per request in FastAPI's resolver); others use :data:`StateDep`.

    Raises
    ------
    HTTPException
        503 when no snapshot has loaded yet.
    """
    holder: StateHolder = request.app.state.holder
    try:
        return holder.get()
    except StateNotReady as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the service has no scored snapshot loaded yet"
        ) from err


async def get_state(request: Request) -> ServingState:
    """The current scored snapshot; 503 while none is loaded."""
    return current_state(request)


async def get_audit(request: Request) -> AuditLog:
    """The app's audit log."""
    audit: AuditLog = request.app.state.audit
    return audit


#: The ``Accept-Language`` header parameter (bounded), for routes that read it themselves.
AcceptLanguageHeader = Annotated[str | None, Header(max_length=500)]


async def get_language(
    accept_language: AcceptLanguageHeader = None,
) -> Language:
    """Language of reason texts and sheet headers, from ``Accept-Language``."""
    return preferred_language(accept_language)


HolderDep = Annotated[StateHolder, Depends(get_holder)]
StateDep = Annotated[ServingState, Depends(get_state)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
LanguageDep = Annotated[Language, Depends(get_language)]


def single_valued_query(request: Request) -> None:
    """Refuse a query that gives a parameter more than once (a dependency of every /v1 router).

    ``?township=A&township=B`` is ambiguous: FastAPI would silently use the last value,
    so a jurisdiction filter could name one place and answer for another. No /v1
    parameter takes several values.

    Raises
    ------
    HTTPException
        422 naming the repeated parameters.
    """
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(n for n, k in counts.items() if k > 1)
    if repeated:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"each query parameter may be given once; got {', '.join(repeated)} more than once",
        )
