"""Report and target endpoints (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from indicators.common import EXPORTABLE, PERIOD_PATTERN, ExportFormat, get_project, require_see
from indicators.models import Report, Target
from indicators.reports import queries, targets
from indicators.reports import service as report_service
from indicators.reports.schemas import ImportIn, ReopenIn, ReportIn, ReportOut, TargetIn, TargetOut, ValuesIn
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor, page_of
from shared.uow import UnitOfWorkDep

router = APIRouter(tags=["reports"])
R = problem_responses(401, 403, 404, 409, 422)
LIST_COLUMNS = [Column(k, {"fi": k, "en": k}) for k in (
    "id", "project_id", "period", "revision", "status", "submitted_at", "approved_at",
    "reopen_reason")]


async def _out(session, r: Report, with_values: bool = True) -> ReportOut:
    out = ReportOut.model_validate(r)
    if with_values:
        out.values = (await queries.load_values(session, [r.id]))[r.id]
    return out


@router.post("/reports", summary="Start a report (draft)", status_code=status.HTTP_201_CREATED,
             responses=R)
async def create_report(body: ReportIn, session: SessionDep, identity: Authenticated) -> ReportOut:
    """A project's values for one period as a draft; the implementer submits it later."""
    r = await report_service.create(session, identity, body)
    return await _out(session, r)


@router.post("/reports/import", summary="Import many reports at once", status_code=201,
             responses=R)
async def import_reports(body: ImportIn, uow: UnitOfWorkDep, identity: Authenticated) -> dict:
    """All reports are checked; any problem rejects the whole import (nothing is stored)."""
    reports = await report_service.import_reports(uow, identity, body["reports"],
                                                  bool(body.get("submit")))
    ids = [r.id for r in reports]
    return {"created": len(ids), "ids": ids,
            "values": sum(len(x.get("values", ())) for x in body["reports"])}


@router.get("/reports", summary="List reports", response_model=Page[ReportOut],
            responses={**EXPORTABLE, **R})
async def list_reports(
    session: SessionDep, identity: Authenticated,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
    period: Annotated[str | None, Query(max_length=limits.CODE, pattern=PERIOD_PATTERN)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=limits.CODE,
                                         pattern="^(draft|submitted|approved|locked|superseded)$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: ExportFormat = None,
):
    """Reports of the projects you may see, newest period first (then project, period and
    revision), a page at a time: `next_cursor` gives the next page, `total` counts them all.
    The cursor holds the last row's sort key, so reports added while paging are neither
    skipped nor repeated on the pages that follow."""
    q = queries.visible_reports(identity, project_id, period, status_)
    if format:
        rows = [ReportOut.model_validate(r).model_dump(mode="json")
                for r in await queries.all_reports(session, q)]
        return export_response(rows, LIST_COLUMNS, format, filename="reports")
    rows, total, nxt = await queries.page(session, q, limit, decode_cursor(cursor))
    return Page[ReportOut](items=[ReportOut.model_validate(r) for r in rows], total=total,
                           next_cursor=encode_cursor(nxt) if nxt else None)


@router.get("/reports/{report_id}", summary="Read a report with its values", responses=R)
async def read_report(report_id: IdPath, session: SessionDep, identity: Authenticated) -> ReportOut:
    """One revision of a report."""
    r = await queries.get_report(session, report_id)
    require_see(identity, await get_project(session, r.project_id))
    return await _out(session, r)


@router.get("/reports/{report_id}/history", summary="Every revision of a report", responses=R)
async def report_history(report_id: IdPath, session: SessionDep, identity: Authenticated) -> dict:
    """All revisions for the report's project and period, oldest first, with their values."""
    r = await queries.get_report(session, report_id)
    require_see(identity, await get_project(session, r.project_id))
    revs = await queries.revisions(session, r)
    values = await queries.load_values(session, [x.id for x in revs])
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
    r = await queries.get_report(session, report_id)
    await report_service.replace_values(session, identity, r, body["values"])
    return await _out(session, r)


@router.post("/reports/{report_id}/submit", summary="Submit a draft for approval", responses=R)
async def submit_report(report_id: IdPath, uow: UnitOfWorkDep,
                        identity: Authenticated) -> ReportOut:
    """Implementer submits; emits `report.submitted`."""
    r = await queries.get_report(uow.session, report_id)
    return await _out(uow.session, await report_service.submit(uow, identity, r))


@router.post("/reports/{report_id}/approve", summary="Approve a submitted report", responses=R)
async def approve_report(report_id: IdPath, uow: UnitOfWorkDep,
                         identity: Authenticated) -> ReportOut:
    """The project's funder approves; emits `report.approved` (and `target.reached`)."""
    r = await queries.get_report(uow.session, report_id)
    return await _out(uow.session, await report_service.approve(uow, identity, r))


@router.post("/reports/{report_id}/lock", summary="Lock an approved report", responses=R)
async def lock_report(report_id: IdPath, session: SessionDep, identity: Authenticated) -> ReportOut:
    """A locked report reopens only by an admin (e.g. after EU reporting)."""
    r = await queries.get_report(session, report_id)
    return await _out(session, await report_service.lock(session, identity, r))


@router.post("/reports/{report_id}/reopen", summary="Reopen a report for correction",
             status_code=201, responses=R)
async def reopen_report(report_id: IdPath, body: ReopenIn, uow: UnitOfWorkDep,
                        identity: Authenticated) -> ReportOut:
    """Needs a reason; the revision is kept and a new draft revision is returned."""
    r = await queries.get_report(uow.session, report_id)
    new = await report_service.reopen(uow, identity, r, body.reason)
    return await _out(uow.session, new)


# --- targets ---------------------------------------------------------------------------------

TARGET_KEYS = ("id", "project_id", "indicator_code", "baseline_value", "baseline_date",
               "target_value", "target_date", "reached_on", "reached_value")


def _target_dict(t: Target) -> dict:
    return {k: getattr(t, k) for k in TARGET_KEYS}


@router.post("/targets", summary="Set a baseline and target", status_code=201, responses=R)
async def create_target(body: TargetIn, session: SessionDep, identity: Authenticated) -> dict:
    """Per project and indicator (IATI: baseline value/date, target value/date)."""
    return _target_dict(await targets.create(session, identity, body))


@router.get("/targets", summary="Targets of a project", response_model=Page[TargetOut],
            responses={**EXPORTABLE, **R})
async def list_targets(session: SessionDep, identity: Authenticated,
                       project_id: Annotated[str, Query(max_length=36)],
                       format: ExportFormat = None,
                       limit: Limit = 50, cursor: Cursor = None):
    """Targets with baseline, target and (once reached) when; an export holds them all."""
    rows = await targets.of_project(session, identity, project_id)
    items = [_target_dict(t) for t in rows]
    if format:
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in TARGET_KEYS], format,
                               filename="targets")
    page, nxt = page_of(items, limit, cursor)
    return Page[TargetOut](items=page, total=len(items), next_cursor=nxt)
