"""``GET /v1/priority-list``: a ranked slice of one jurisdiction's households."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from serving.audit import AuditEvent, AuditLog
from serving.auth import CurrentUser, User, check_jurisdiction
from serving.deps import AcceptLanguageHeader, current_state
from serving.errors import AmbiguousJurisdiction, ForbiddenError, UnknownJurisdiction
from serving.listing import cached_page, priority_list, render_page
from serving.schemas import MAX_LIST_LIMIT, Language, PriorityList, preferred_language
from serving.scope import may_see, token_scope_or_none
from serving.sheets import content_disposition, sheet_title, to_csv, to_xlsx
from serving.state import ServingState

router = APIRouter(prefix="/v1", tags=["priority list"])

NameQuery = Query(min_length=1, max_length=100)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/priority-list",
    response_model=PriorityList,
    responses={
        200: {"content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}}},
        401: {"description": "No or invalid bearer token."},
        403: {"description": "Jurisdiction outside the token's."},
        422: {"description": "A name that several places share (candidates listed)."},
        404: {"description": "No such jurisdiction in the snapshot."},
        503: {"description": "No scored snapshot loaded yet."},
    },
)
async def get_priority_list(
    request: Request,
    user: CurrentUser,
    accept_language: AcceptLanguageHeader = None,
    county: Annotated[str | None, NameQuery] = None,
    township: Annotated[str | None, NameQuery] = None,
    village: Annotated[str | None, NameQuery] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="Rows (1–500).")] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> PriorityList | Response:
    """Households of one county, township or village, highest risk first, with reasons.

    Exactly one of ``county``, ``township``, ``village`` must be given, as the
    place's path (``township=兴仁市/城南街道``) or a bare name that only one
    place has (an ambiguous name answers 422 with the candidate paths). Officers,
    and analysts issued with a jurisdiction, may ask only for their place or one inside it. ``format=csv|xlsx``
    returns the early-warning notice (预警提示单) as a sheet.
    """
    # Hot path: a cached JSON page is answered on the event loop; building a page
    # (model explanations, serialisation) and sheets run in the thread pool. State,
    # audit log and language are read here, not as dependencies (~10 µs each).
    state = current_state(request)
    lang = preferred_language(accept_language)
    given = {
        k: v
        for k, v in (("county", county), ("township", township), ("village", village))
        if v is not None
    }
    if len(given) != 1:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"give exactly one of county, township or village; got {sorted(given) or 'none'}",
        )
    ((level, asked),) = given.items()
    info = state.model_info
    try:
        name = state.resolve(level, asked)  # the full path: names repeat across the prefecture
    except AmbiguousJurisdiction as err:
        # A confined token learns only of the candidates inside its own place.
        visible = [c for c in err.candidates if may_see(state, user, level, c)]
        if not visible:
            _audit(request, user, state, level, asked, format, "[]", "forbidden")
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this {level} is outside your jurisdiction"
            ) from err
        _audit(request, user, state, level, asked, format, "[]", "ambiguous")
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": f"the {level} name {asked!r} is ambiguous: give its path",
                "candidates": visible,
            },
        ) from err
    except UnknownJurisdiction as err:
        if token_scope_or_none(state, user) is not None:  # no probing of what exists elsewhere
            _audit(request, user, state, level, asked, format, "[]", "forbidden")
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this {level} is outside your jurisdiction"
            ) from err
        _audit(request, user, state, level, asked, format, "[]", "not_found")
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no {level} named {asked!r} in the snapshot"
        ) from err
    try:
        check_jurisdiction(user, may_see(state, user, level, name))
        if format == "json":
            page = cached_page(state, level, name, limit=limit, offset=offset, lang=lang)
            if page is None:
                page = await run_in_threadpool(
                    render_page, state, level, name, limit=limit, offset=offset, lang=lang
                )
            ids_json = page.household_ids_json
            # Serialised once per page and state; FastAPI would validate it again otherwise.
            response = Response(page.body, media_type="application/json")
        else:
            content, ids = await run_in_threadpool(
                _sheet, state, level, name, limit, offset, lang, format
            )
            ids_json = json.dumps(ids, ensure_ascii=False)
            response = Response(
                content,
                media_type="text/csv; charset=utf-8" if format == "csv" else XLSX_MEDIA_TYPE,
                headers={
                    "Content-Disposition": content_disposition(
                        level, name, state.as_of.date(), format
                    ),
                    "X-Model-Version": info.version,
                },
            )
    except ForbiddenError as err:
        _audit(request, user, state, level, name, format, "[]", "forbidden")
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this {level} is outside your jurisdiction"
        ) from err
    except UnknownJurisdiction as err:
        _audit(request, user, state, level, name, format, "[]", "not_found")
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no {level} named {name!r} in the snapshot"
        ) from err

    # Every request is audited, answered (cached page or not) or refused: a queue put.
    _audit(request, user, state, level, name, format, ids_json, "ok")
    return response


def _audit(
    request: Request,
    user: User,
    state: ServingState,
    level: str,
    name: str,
    format: str,
    ids_json: str,
    outcome: str,
) -> None:
    """Queue the audit row of one list request (never waits on disk)."""
    audit: AuditLog = request.app.state.audit
    audit.record(
        AuditEvent.make(
            token_id=user.token_id,
            role=user.role,
            level=level,
            jurisdiction=name,
            endpoint=f"/v1/priority-list?format={format}",
            household_ids_json=ids_json,
            model_version=state.model_info.version,
            as_of=state.as_of_day,
            outcome=outcome,
            label=user.label,
        )
    )


def _sheet(
    state: ServingState,
    level: str,
    name: str,
    limit: int,
    offset: int,
    lang: Language,
    format: str,
) -> tuple[bytes, list[str]]:
    """The early-warning notice as CSV or XLSX, and the ids it lists (blocking: thread pool)."""
    body = priority_list(state, level, name, limit=limit, offset=offset, lang=lang)
    title = sheet_title(level, name, state.as_of.date(), state.model_info.horizon_days, lang)
    items = body.items
    content = to_csv(title, items, lang) if format == "csv" else to_xlsx(title, items, lang)
    return content, [it.household_id for it in items]
