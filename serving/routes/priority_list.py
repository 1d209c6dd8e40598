"""``GET /v1/priority-list``: a ranked slice of one jurisdiction's households."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from serving.audit import AuditEvent
from serving.auth import CurrentUser, check_jurisdiction
from serving.deps import AuditDep, LanguageDep, StateDep
from serving.errors import ForbiddenError, UnknownJurisdiction
from serving.listing import priority_list
from serving.schemas import MAX_LIST_LIMIT, PriorityList
from serving.sheets import content_disposition, sheet_title, to_csv, to_xlsx

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
        404: {"description": "No such jurisdiction in the snapshot."},
        503: {"description": "No scored snapshot loaded yet."},
    },
)
def get_priority_list(
    user: CurrentUser,
    state: StateDep,
    audit: AuditDep,
    lang: LanguageDep,
    county: Annotated[str | None, NameQuery] = None,
    township: Annotated[str | None, NameQuery] = None,
    village: Annotated[str | None, NameQuery] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="Rows (1–500).")] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> PriorityList | Response:
    """Households of one county, township or village, highest risk first, with reasons.

    Exactly one of ``county``, ``township``, ``village`` must be given. Officers
    may ask only for their jurisdiction or one inside it. ``format=csv|xlsx``
    returns the early-warning notice (预警提示单) as a sheet.
    """
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
    ((level, name),) = given.items()
    try:
        allowed = user.unrestricted or (
            user.level is not None
            and user.jurisdiction is not None
            and state.contains(user.level, user.jurisdiction, level, name)
        )
        check_jurisdiction(user, allowed)
        body = priority_list(state, level, name, limit=limit, offset=offset, lang=lang)
    except ForbiddenError as err:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this {level} is outside your jurisdiction"
        ) from err
    except UnknownJurisdiction as err:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no {level} named {name!r} in the snapshot"
        ) from err

    items = body.items
    info = state.model_info
    as_of = state.as_of.date()
    audit.record(
        AuditEvent.make(
            token_id=user.token_id,
            role=user.role,
            level=level,
            jurisdiction=name,
            endpoint=f"/v1/priority-list?format={format}",
            household_ids=[it.household_id for it in items],
            model_version=info.version,
            as_of=as_of.isoformat(),
        )
    )
    if format in ("csv", "xlsx"):
        title = sheet_title(level, name, as_of, info.horizon_days, lang)
        content = to_csv(title, items, lang) if format == "csv" else to_xlsx(title, items, lang)
        media = "text/csv; charset=utf-8" if format == "csv" else XLSX_MEDIA_TYPE
        return Response(
            content,
            media_type=media,
            headers={
                "Content-Disposition": content_disposition(level, name, as_of, format),
                "X-Model-Version": info.version,
            },
        )
    # Serialised once here; FastAPI would validate the model again against response_model.
    return Response(body.model_dump_json(), media_type="application/json")
