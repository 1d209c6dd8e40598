"""``GET /v1/reports/{period}`` and ``GET /v1/officers/review``: the command centre.

Reports are for supervisors, analysts and admins; a supervisor's token is
scoped to its jurisdiction (a report of another unit answers 403). The officer
review is for supervisors (and admins): a list to look at, never a sanction.
Both read the warehouse (not the model), so they answer without a scored
snapshot; results are cached per warehouse version. Every request is audited.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from serving.audit import AuditEvent
from serving.auth import User, require_role
from serving.deps import AuditDep
from serving.tasks_support import place_levels
from warehouse.contract import TABLE_INCIDENTS, TABLE_VISITS, warehouse_path
from warehouse.jurisdictions import LEVELS, SEP

router = APIRouter(prefix="/v1", tags=["command centre"])

ReportUser = Annotated[User, require_role("supervisor", "analyst", "admin")]
SupervisorUser = Annotated[User, require_role("supervisor", "admin")]

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _mtimes(home: Path) -> tuple[float, ...]:
    out = []
    paths = [warehouse_path(home, table) for table in (TABLE_VISITS, TABLE_INCIDENTS)]
    for path in [*paths, Path(home) / "tasks.db"]:  # tasks change the task figures
        out.append(path.stat().st_mtime if path.exists() else -1.0)
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _report(
    home: str,
    stamp: tuple[float, ...],
    period: str,
    as_of: date | None,
    scope: tuple[str, str],
    db_url: str | None = None,
) -> Any:
    from campaign.service import report_from_home

    level, name = scope
    return report_from_home(
        Path(home),
        period,
        as_of=as_of,
        county=name if level == "county" else None,
        township=name if level == "township" else None,
        village=name if level == "village" else None,
        db_url=db_url,
    )


@functools.lru_cache(maxsize=8)
def _review(home: str, stamp: tuple[float, ...], as_of: date | None) -> tuple[Any, pd.DataFrame]:
    from campaign.service import review_from_home

    return review_from_home(Path(home), as_of=as_of)


def _scope_for(user: User, county: str | None, township: str | None) -> tuple[str, str]:
    """The (level, name) a report covers; 403 when a supervisor asks outside the token's unit."""
    if county and township:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "give county or township, not both"
        )
    asked = ("county", county) if county else ("township", township) if township else ("", "")
    if user.role != "supervisor":
        return asked  # type: ignore[return-value]
    if user.level is None or user.jurisdiction is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this supervisor token has no jurisdiction")
    if not asked[0]:
        return (user.level, user.jurisdiction)
    # Tokens hold paths; an asked unit may be a path or a bare name. It must lie inside the
    # token's unit and be no larger than it.
    own = place_levels(user.level, user.jurisdiction)
    wanted = place_levels(asked[0], asked[1])
    if LEVELS.index(asked[0]) < LEVELS.index(user.level) or any(
        wanted.get(level, name) != name for level, name in own.items()
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's jurisdiction")
    merged = {**own, **wanted}
    return asked[0], SEP.join(merged[level] for level in LEVELS[: LEVELS.index(asked[0]) + 1])


def _audit(audit: Any, user: User, endpoint: str, as_of: str | None, outcome: str) -> None:
    audit.record(
        AuditEvent.make(
            token_id=user.token_id,
            role=user.role,
            level=user.level,
            jurisdiction=user.jurisdiction,
            endpoint=endpoint,
            household_ids=[],
            model_version=None,
            as_of=as_of,
            outcome=outcome,
            label=user.label,
        )
    )


@router.get(
    "/reports/{period}",
    responses={
        401: {"description": "No or invalid bearer token."},
        403: {
            "description": "Needs the supervisor, analyst or admin role; or outside the jurisdiction."
        },
        404: {"description": "No visits in the warehouse for this scope."},
    },
)
def get_report(
    period: Literal["daily", "weekly", "monthly"],
    request: Request,
    user: ReportUser,
    audit: AuditDep,
    as_of: Annotated[
        date | None, Query(description="Report date (default: day after the latest record).")
    ] = None,
    county: Annotated[str | None, Query(max_length=100)] = None,
    township: Annotated[str | None, Query(max_length=100)] = None,
    format: Annotated[Literal["json", "html", "xlsx"], Query()] = "json",
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """Daily dispatch, weekly bulletin or monthly appraisal of a unit (figures with 环比 and 同比)."""
    from campaign.render import render_html, to_json, write_xlsx
    from campaign.reports import ReportError, ReportInputError

    endpoint = "/v1/reports/{period}"
    try:
        scope = _scope_for(user, county, township)
    except HTTPException:
        _audit(audit, user, endpoint, as_of.isoformat() if as_of else None, "forbidden")
        raise
    home = request.app.state.settings.home
    try:
        db_url = request.app.state.settings.db_url
        rep = _report(str(home), _mtimes(home), period, as_of, scope, db_url)
    except ReportInputError as err:  # a place that is no path, a date out of range
        _audit(audit, user, endpoint, as_of.isoformat() if as_of else None, "invalid")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except ReportError as err:
        _audit(audit, user, endpoint, as_of.isoformat() if as_of else None, "not_found")
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    if rep.levels["county"].empty:
        _audit(audit, user, endpoint, rep.as_of.date().isoformat(), "not_found")
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no visits for this scope")
    _audit(audit, user, endpoint, rep.as_of.date().isoformat(), "ok")
    if format == "html":
        return HTMLResponse(render_html(rep, lang))
    if format == "xlsx":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            data = write_xlsx(rep, Path(tmp) / "report.xlsx", lang).read_bytes()
        name = f"report-{period}-{rep.as_of.date()}.xlsx"
        return Response(
            data,
            media_type=_XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(to_json(rep), media_type="application/json")


@router.get(
    "/officers/review",
    responses={
        401: {"description": "No or invalid bearer token."},
        403: {
            "description": "Needs the supervisor role (or admin); a village token cannot review."
        },
        404: {"description": "No visit records to review."},
    },
)
def get_officer_review(
    request: Request,
    user: SupervisorUser,
    audit: AuditDep,
    as_of: Annotated[
        date | None, Query(description="Review date (default: day after the latest record).")
    ] = None,
    only_listed: Annotated[bool, Query(description="Only officers on the review list.")] = False,
) -> JSONResponse:
    """Officers' visit records scored against same-township peers: a review list, never a sanction."""
    from campaign.reports import ReportError, ReportInputError

    endpoint = "/v1/officers/review"
    if user.role == "supervisor" and user.level not in ("county", "township"):
        _audit(audit, user, endpoint, None, "forbidden")
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the review needs a county or township token"
        )
    home = request.app.state.settings.home
    try:
        t, table = _review(str(home), _mtimes(home), as_of)
    except ReportInputError as err:
        _audit(audit, user, endpoint, as_of.isoformat() if as_of else None, "invalid")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except ReportError as err:
        _audit(audit, user, endpoint, None, "not_found")
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    if user.role == "supervisor":
        for level, name in place_levels(str(user.level), str(user.jurisdiction)).items():
            if level in table.columns:
                table = table[table[level] == name]
    if only_listed:
        table = table[table["review"]]
    _audit(audit, user, endpoint, t.date().isoformat(), "ok")
    rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    return JSONResponse(
        {
            "as_of": t.date().isoformat(),
            "note": "a review list for supervisors, never a sanction: check the records in person",
            "officers": rows,
        }
    )
