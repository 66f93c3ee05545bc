"""Report rules: the draft -> submitted -> approved -> locked workflow, revisions, the rollup
kept current in the approving transaction, targets reached, and the events each step emits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.service import current_definitions
from indicators.common import (
    field_error,
    get_project,
    period_bounds,
    require_approve,
    require_report,
)
from indicators.events import payloads
from indicators.models import (
    Report,
    project_extra,
    project_projection,
    reported_value,
    rollup,
)
from indicators.reports import queries, targets
from indicators.reports.schemas import ReportIn, ValueIn
from indicators.reports.validation import check_values, rules_of, value_rows
from shared.contracts import indicators as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.identity import Identity
from shared.uow import UnitOfWork

ACTIVE = ("draft", "submitted", "approved", "locked")


async def _check_period(project: dict[str, Any], period: str, field: str) -> tuple[dt.date, dt.date]:
    start, end = period_bounds(period, field)
    ps, pe = project.get("start_date"), project.get("end_date")
    if (ps and end < ps) or (pe and start > pe):
        raise Unprocessable("the period is outside the project's term", errors=[field_error(
            field, "out_of_term", f"{period} ({start}..{end}) is outside {ps}..{pe}")])
    return start, end


async def validate_values(session: AsyncSession, values: list[ValueIn], period_end: dt.date,
                          prefix: str = "body/values", cache: dict | None = None) -> None:
    if cache is None:
        codes = {v["indicator_code"] for v in values}
        rules = rules_of(await current_definitions(session, codes, on=period_end))
    else:
        # Bulk imports: the catalogue is read once per period end, not once per report.
        rules = cache.get(period_end)
        if rules is None:
            rules = cache[period_end] = rules_of(await current_definitions(session, on=period_end))
    check_values(values, rules, prefix)


async def create(session: AsyncSession, identity: Identity, body: ReportIn,
                 prefix: str = "body") -> Report:
    """A draft report with its values."""
    project_id, period, values = body["project_id"], body["period"], body.get("values", [])
    project = await get_project(session, project_id)
    require_report(identity, project)
    if project.get("archived"):
        raise Conflict("the project is archived")
    start, end = await _check_period(project, period, f"{prefix}/period")
    await validate_values(session, values, end, f"{prefix}/values")
    existing = await session.scalar(select(Report.id).where(
        Report.project_id == project_id, Report.period == period,
        Report.status.in_(ACTIVE)))
    if existing:
        raise Conflict(f"a report for {period} exists ({existing}); change it, or reopen "
                       "it to correct it")
    r = Report(project_id=project_id, period=period, period_start=start,
               period_end=end, revision=1, status="draft", created_by=identity.sub)
    session.add(r)
    await session.flush()
    if values:
        await session.execute(reported_value.insert(), value_rows(r.id, values))
    return r


async def insert_values(session: AsyncSession, pending: list[tuple[str, list[ValueIn]]]) -> None:
    """Many reports' values at once: COPY on PostgreSQL (in this transaction), else executemany."""
    if not any(values for _, values in pending):
        return
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        import orjson

        def js(x: Any) -> str | None:
            return None if x is None else orjson.dumps(x).decode()

        raw = (await conn.get_raw_connection()).driver_connection
        cols = ["report_id", "indicator_code", "value", "disaggregations", "counted_ids"]
        records = [(rid, v["indicator_code"], v["value"], js(v.get("disaggregations")),
                    js(v.get("counted_ids")))
                   for rid, values in pending for v in values]
        await raw.copy_records_to_table("reported_value", records=records, columns=cols)
        return
    await session.execute(reported_value.insert(),
                          [row for rid, values in pending for row in value_rows(rid, values)])


async def bulk_create(session: AsyncSession, identity: Identity,
                      bodies: list[ReportIn]) -> list[Report]:
    """Many drafts in a few statements: projects and existing reports read once, the
    catalogue once per period end, one flush for the reports, one COPY for the values.
    Any problem rejects everything (the caller's transaction rolls back)."""
    ids = list({b["project_id"] for b in bodies})
    rows = (await session.execute(
        select(project_projection, project_extra.c.theme_id, project_extra.c.programme_id,
               project_extra.c.archived)
        .outerjoin(project_extra, project_extra.c.id == project_projection.c.id)
        .where(project_projection.c.id.in_(ids)))).mappings().all()
    projects = {r["id"]: dict(r) for r in rows}
    taken = set((await session.execute(select(Report.project_id, Report.period).where(
        Report.project_id.in_(ids), Report.status.in_(ACTIVE)))).all())
    cache: dict = {}
    reports: list[Report] = []
    pending: list[tuple[str, list[ValueIn]]] = []
    for i, body in enumerate(bodies):
        project_id, period, values = body["project_id"], body["period"], body.get("values", [])
        project = projects.get(project_id)
        if project is None:
            raise NotFound(f"no project {project_id} known to indicators (reports/{i})")
        try:
            require_report(identity, project)
        except Forbidden as exc:
            raise Forbidden(f"{exc.detail} (reports/{i}: project {project_id})") from None
        if project.get("archived"):
            raise Conflict(f"project {project_id} is archived (reports/{i})")
        start, end = await _check_period(project, period, f"body/reports/{i}/period")
        await validate_values(session, values, end, f"body/reports/{i}/values", cache)
        if (project_id, period) in taken:
            raise Conflict(f"a report for {period} exists for project {project_id} (reports/{i})")
        r = Report(id=new_id(), project_id=project_id, period=period, period_start=start,
                   period_end=end, revision=1, status="draft", created_by=identity.sub,
                   created_at=utcnow(), updated_at=utcnow())
        reports.append(r)
        pending.append((r.id, values))
    session.add_all(reports)
    await session.flush()
    await insert_values(session, pending)
    return reports


async def import_reports(uow: UnitOfWork, identity: Identity, bodies: list[ReportIn],
                         submit_them: bool) -> list[Report]:
    """All reports are checked; any problem rejects the whole import (nothing is stored)."""
    keys = [(x["project_id"], x["period"]) for x in bodies]
    if len(set(keys)) != len(keys):
        raise Unprocessable("the import names a project and period twice", errors=[
            field_error("body/reports", "duplicate", "one report per project and period")])
    reports = await bulk_create(uow.session, identity, bodies)
    if submit_them:
        for r in reports:
            await submit(uow, identity, r)
    return reports


async def replace_values(session: AsyncSession, identity: Identity, r: Report,
                         values: list[ValueIn]) -> None:
    project = await get_project(session, r.project_id)
    require_report(identity, project)
    if r.status != "draft":
        raise Conflict(f"the report is {r.status}; only drafts change (reopen to correct)")
    await validate_values(session, values, r.period_end)
    await session.execute(delete(reported_value).where(reported_value.c.report_id == r.id))
    if values:
        await session.execute(reported_value.insert(), value_rows(r.id, values))
    r.updated_at = utcnow()


async def submit(uow: UnitOfWork, identity: Identity, r: Report) -> Report:
    session = uow.session
    project = await get_project(session, r.project_id)
    require_report(identity, project)
    if r.status != "draft":
        raise Conflict(f"the report is {r.status}; only a draft can be submitted")
    codes = await queries.codes_of(session, r)
    if not codes:
        raise Unprocessable("an empty report cannot be submitted", errors=[
            field_error("body/values", "empty", "add at least one value")])
    r.status, r.submitted_by, r.submitted_at, r.updated_at = "submitted", identity.sub, utcnow(), utcnow()
    await session.flush()
    await uow.emit(contracts.REPORT_SUBMITTED, r.id, payloads.report_event(r, codes, identity.sub))
    return r


async def _rollup_add(session: AsyncSession, project: dict[str, Any], r: Report,
                      sign: int) -> None:
    """Add (sign=1) or take out (sign=-1) a report's values in the pre-aggregated rollup."""
    t = reported_value
    sums = (await session.execute(
        select(t.c.indicator_code, func.sum(t.c.value), func.count())
        .where(t.c.report_id == r.id).group_by(t.c.indicator_code))).all()
    if not sums:
        return
    regions = project.get("region_codes") or [""]
    rows = [{"indicator_code": code, "period": r.period, "year": r.period_start.year,
             "region_code": reg, "funder_id": project.get("funder_id") or "",
             "theme_id": project.get("theme_id") or "", "programme_id": project.get("programme_id") or "",
             "total": sign * float(total), "n": sign * int(n)}
            for code, total, n in sums for reg in regions]
    ins = (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(rollup)
    stmt = ins.on_conflict_do_update(
        index_elements=[rollup.c.indicator_code, rollup.c.period, rollup.c.region_code,
                        rollup.c.funder_id, rollup.c.theme_id, rollup.c.programme_id],
        set_={"total": rollup.c.total + ins.excluded.total, "n": rollup.c.n + ins.excluded.n})
    await session.execute(stmt, rows)


async def approve(uow: UnitOfWork, identity: Identity, r: Report) -> Report:
    session = uow.session
    project = await get_project(session, r.project_id)
    require_approve(identity, project)
    if r.status != "submitted":
        raise Conflict(f"the report is {r.status}; only a submitted report can be approved")
    r.status, r.approved_by, r.approved_at, r.updated_at = "approved", identity.sub, utcnow(), utcnow()
    await session.flush()
    await _rollup_add(session, project, r, +1)
    codes = await queries.codes_of(session, r)
    await uow.emit(contracts.REPORT_APPROVED, r.id, payloads.report_event(r, codes, identity.sub))
    await targets.reached(uow, r, codes)
    return r


async def lock(session: AsyncSession, identity: Identity, r: Report) -> Report:
    project = await get_project(session, r.project_id)
    require_approve(identity, project)
    if r.status != "approved":
        raise Conflict(f"the report is {r.status}; only an approved report can be locked")
    r.status, r.updated_at = "locked", utcnow()
    return r


async def reopen(uow: UnitOfWork, identity: Identity, r: Report, reason: str) -> Report:
    """Reopen for correction: this revision is kept (superseded), a new draft revision copies it."""
    session = uow.session
    project = await get_project(session, r.project_id)
    if r.status == "locked":
        if not identity.has_role("admin"):
            raise Forbidden("a locked report is reopened only by an admin")
    elif r.status in ("submitted", "approved"):
        require_approve(identity, project)
    else:
        raise Conflict(f"the report is {r.status}; only submitted, approved or locked reports reopen")
    if r.status in ("approved", "locked"):
        await _rollup_add(session, project, r, -1)
    codes = await queries.codes_of(session, r)
    r.status, r.updated_at = "superseded", utcnow()
    new = Report(project_id=r.project_id, period=r.period, period_start=r.period_start,
                 period_end=r.period_end, revision=r.revision + 1, status="draft",
                 reopen_reason=reason, previous_id=r.id, created_by=identity.sub)
    session.add(new)
    await session.flush()
    t = reported_value
    await session.execute(t.insert().from_select(
        ["report_id", "indicator_code", "value", "disaggregations", "counted_ids"],
        select(literal(new.id, String(36)).label("r"), t.c.indicator_code, t.c.value,
               t.c.disaggregations, t.c.counted_ids).where(t.c.report_id == r.id)))
    await uow.emit(contracts.REPORT_REOPENED, new.id,
                   payloads.report_event(new, codes, identity.sub, reason))
    return new

