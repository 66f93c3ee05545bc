"""Report and target endpoints (HTTP only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlalchemy import ColumnElement, and_, func, or_, select

from indicators.catalogue.router import current_definitions
from indicators.common import (
    PERIOD_PATTERN,
    field_error,
    get_project,
    require_report,
    require_see,
    visible_project_filter,
)
from indicators.models import Report, Target, project_projection
from indicators.reports import service
from indicators.reports.schemas import ImportIn, ReopenIn, ReportIn, ReportOut, TargetIn, ValuesIn
from shared import limits
from shared.db import SessionDep
from shared.errors import Conflict, Unprocessable, problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(tags=["reports"])
R = problem_responses(401, 403, 404, 409, 422)
LIST_COLUMNS = [Column(k, {"fi": k, "en": k}) for k in (
    "id", "project_id", "period", "revision", "status", "submitted_at", "approved_at",
    "reopen_reason")]


async def _out(session, r: Report, with_values: bool = True) -> ReportOut:
    out = ReportOut.model_validate(r)
    if with_values:
        out.values = (await service.load_values(session, [r.id]))[r.id]
    return out


@router.post("/reports", summary="Start a report (draft)", status_code=status.HTTP_201_CREATED,
             responses=R)
async def create_report(body: ReportIn, session: SessionDep, identity: Authenticated) -> ReportOut:
    """A project's values for one period as a draft; the implementer submits it later."""
    r = await service.create(session, identity, body)
    return await _out(session, r)


@router.post("/reports/import", summary="Import many reports at once", status_code=201,
             responses=R)
async def import_reports(body: ImportIn, request: Request, session: SessionDep,
                         identity: Authenticated) -> dict:
    """All reports are checked; any problem rejects the whole import (nothing is stored)."""
    keys = [(x["project_id"], x["period"]) for x in body["reports"]]
    if len(set(keys)) != len(keys):
        raise Unprocessable("the import names a project and period twice", errors=[
            field_error("body/reports", "duplicate", "one report per project and period")])
    reports = await service.bulk_create(session, identity, body["reports"])
    if body.get("submit"):
        for r in reports:
            await service.submit(session, request.state.outbox, identity, r)
    ids = [r.id for r in reports]
    return {"created": len(ids), "ids": ids,
            "values": sum(len(x.get("values", ())) for x in body["reports"])}


@router.get("/reports", summary="List reports", response_model=None, responses=R)
async def list_reports(
    session: SessionDep, identity: Authenticated,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
    period: Annotated[str | None, Query(max_length=limits.CODE, pattern=PERIOD_PATTERN)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=limits.CODE,
                                         pattern="^(draft|submitted|approved|locked|superseded)$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: Annotated[str | None, Query(max_length=limits.CODE, pattern="^(csv|xlsx|json)$")] = None,
):
    """Reports of the projects you may see, newest period first (then project, period and
    revision), a page at a time: `next_cursor` gives the next page, `total` counts them all.
    The cursor holds the last row's sort key, so reports added while paging are neither
    skipped nor repeated on the pages that follow."""
    q = select(Report).join(project_projection, project_projection.c.id == Report.project_id)
    cond = visible_project_filter(identity)
    if cond is not None:
        q = q.where(cond)
    if project_id:
        q = q.where(Report.project_id == project_id)
    if period:
        q = q.where(Report.period == period)
    if status_:
        q = q.where(Report.status == status_)
    order = (Report.period_end.desc(), Report.project_id, Report.period, Report.revision.desc())
    if format:
        rows = [ReportOut.model_validate(r).model_dump(mode="json")
                for r in (await session.scalars(q.order_by(*order).limit(100000))).all()]
        return export_response(rows, LIST_COLUMNS, format, filename="reports")
    total = await session.scalar(select(func.count()).select_from(q.subquery()))
    after = decode_cursor(cursor)
    if after:
        q = q.where(_after(after))
    rows = (await session.scalars(q.order_by(*order).limit(limit + 1))).all()
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = encode_cursor([last.period_end.isoformat(), last.project_id, last.period, last.revision])
    return {"items": [ReportOut.model_validate(r).model_dump(mode="json") for r in rows[:limit]],
            "total": int(total or 0), "next_cursor": nxt}


def _after(values: list) -> ColumnElement[bool]:
    """Rows after the cursor's (period_end desc, project_id, period, revision desc)."""
    try:
        end, pid, per, rev = dt.date.fromisoformat(values[0]), str(values[1]), str(values[2]), int(values[3])
    except (ValueError, TypeError, IndexError):
        raise Unprocessable("invalid cursor", errors=[field_error(
            "query/cursor", "value_error", "not a cursor this list gave out")]) from None
    return or_(Report.period_end < end,
               and_(Report.period_end == end, Report.project_id > pid),
               and_(Report.period_end == end, Report.project_id == pid, Report.period > per),
               and_(Report.period_end == end, Report.project_id == pid, Report.period == per,
                    Report.revision < rev))


@router.get("/reports/{report_id}", summary="Read a report with its values", responses=R)
async def read_report(report_id: IdPath, session: SessionDep, identity: Authenticated) -> ReportOut:
    """One revision of a report."""
    r = await service.get_report(session, report_id)
    require_see(identity, await get_project(session, r.project_id))
    return await _out(session, r)


@router.get("/reports/{report_id}/history", summary="Every revision of a report", responses=R)
async def report_history(report_id: IdPath, session: SessionDep, identity: Authenticated) -> dict:
    """All revisions for the report's project and period, oldest first, with their values."""
    r = await service.get_report(session, report_id)
    require_see(identity, await get_project(session, r.project_id))
    revs = (await session.scalars(select(Report).where(
        Report.project_id == r.project_id, Report.period == r.period).order_by(Report.revision))).all()
    values = await service.load_values(session, [x.id for x in revs])
    items = []
    for x in revs:
        o = ReportOut.model_validate(x)
        o.values = values[x.id]
        items.append(o.model_dump(mode="json"))
    return {"items": items, "total": len(items)}


@router.put("/reports/{report_id}/values", summary="Replace a draft's values", responses=R)
async def put_values(report_id: IdPath, body: ValuesIn, session: SessionDep,
                     identity: Authenticated) -> ReportOut:
    """Only drafts change; a submitted or approved report is corrected by reopening it."""
    r = await service.get_report(session, report_id)
    await service.replace_values(session, identity, r, body["values"])
    return await _out(session, r)


@router.post("/reports/{report_id}/submit", summary="Submit a draft for approval", responses=R)
async def submit_report(report_id: IdPath, request: Request, session: SessionDep,
                        identity: Authenticated) -> ReportOut:
    """Implementer submits; emits `report.submitted`."""
    r = await service.get_report(session, report_id)
    return await _out(session, await service.submit(session, request.state.outbox, identity, r))


@router.post("/reports/{report_id}/approve", summary="Approve a submitted report", responses=R)
async def approve_report(report_id: IdPath, request: Request, session: SessionDep,
                         identity: Authenticated) -> ReportOut:
    """The project's funder approves; emits `report.approved` (and `target.reached`)."""
    r = await service.get_report(session, report_id)
    return await _out(session, await service.approve(session, request.state.outbox, identity, r))


@router.post("/reports/{report_id}/lock", summary="Lock an approved report", responses=R)
async def lock_report(report_id: IdPath, session: SessionDep, identity: Authenticated) -> ReportOut:
    """A locked report reopens only by an admin (e.g. after EU reporting)."""
    r = await service.get_report(session, report_id)
    return await _out(session, await service.lock(session, identity, r))


@router.post("/reports/{report_id}/reopen", summary="Reopen a report for correction",
             status_code=201, responses=R)
async def reopen_report(report_id: IdPath, body: ReopenIn, request: Request, session: SessionDep,
                        identity: Authenticated) -> ReportOut:
    """Needs a reason; the revision is kept and a new draft revision is returned."""
    r = await service.get_report(session, report_id)
    new = await service.reopen(session, request.state.outbox, identity, r, body.reason)
    return await _out(session, new)


# --- targets ---------------------------------------------------------------------------------

TARGET_KEYS = ("id", "project_id", "indicator_code", "baseline_value", "baseline_date",
               "target_value", "target_date", "reached_on", "reached_value")


def _target_dict(t: Target) -> dict:
    return {k: getattr(t, k) for k in TARGET_KEYS}


@router.post("/targets", summary="Set a baseline and target", status_code=201, responses=R)
async def create_target(body: TargetIn, session: SessionDep, identity: Authenticated) -> dict:
    """Per project and indicator (IATI: baseline value/date, target value/date)."""
    project = await get_project(session, body.project_id)
    require_report(identity, project)
    defs = await current_definitions(session, [body.indicator_code])
    d = defs.get(body.indicator_code)
    errors = []
    if d is None:
        errors.append(field_error("body/indicator_code", "unknown", "no such indicator"))
    else:
        for f in ("target_value", "baseline_value"):
            v = getattr(body, f)
            if v is not None and ((d.min_value is not None and v < d.min_value)
                                  or (d.max_value is not None and v > d.max_value)):
                errors.append(field_error(f"body/{f}", "out_of_bounds",
                                          f"must be within [{d.min_value}, {d.max_value}]"))
    if body.baseline_date and body.baseline_date > body.target_date:
        errors.append(field_error("body/target_date", "date_order", "target_date is before baseline_date"))
    if errors:
        raise Unprocessable("invalid target", errors=errors)
    if await session.scalar(select(Target.id).where(
            Target.project_id == body.project_id, Target.indicator_code == body.indicator_code,
            Target.target_date == body.target_date)):
        raise Conflict("that project already has a target for this indicator and date")
    t = Target(**body.model_dump(), created_by=identity.sub)
    session.add(t)
    await session.flush()
    return _target_dict(t)


@router.get("/targets", summary="Targets of a project", response_model=None, responses=R)
async def list_targets(session: SessionDep, identity: Authenticated,
                       project_id: Annotated[str, Query(max_length=36)],
                       format: Annotated[str | None, Query(max_length=limits.CODE,
                                                           pattern="^(csv|xlsx|json)$")] = None):
    """Targets with baseline, target and (once reached) when."""
    require_see(identity, await get_project(session, project_id))
    rows = (await session.scalars(select(Target).where(Target.project_id == project_id)
                                  .order_by(Target.indicator_code, Target.target_date))).all()
    items = [_target_dict(t) for t in rows]
    if format:
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in TARGET_KEYS], format,
                               filename="targets")
    return {"items": items, "total": len(rows)}
