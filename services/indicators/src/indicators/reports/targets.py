"""Target rules: setting a baseline and target, and noticing when an approval reaches one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.service import current_definitions
from indicators.common import field_error, get_project, require_report, require_see
from indicators.events import payloads
from indicators.models import Report, Target
from indicators.reports import queries
from indicators.reports.schemas import TargetIn
from shared.contracts import indicators as contracts
from shared.errors import Conflict, Unprocessable
from shared.identity import Identity
from shared.uow import UnitOfWork


async def create(session: AsyncSession, identity: Identity, body: TargetIn) -> Target:
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
    if await queries.target_exists(session, body.project_id, body.indicator_code, body.target_date):
        raise Conflict("that project already has a target for this indicator and date")
    t = Target(**body.model_dump(), created_by=identity.sub)
    session.add(t)
    await session.flush()
    return t


async def of_project(session: AsyncSession, identity: Identity, project_id: str) -> list[Target]:
    require_see(identity, await get_project(session, project_id))
    return await queries.targets_of(session, project_id)


async def reached(uow: UnitOfWork, r: Report, codes: list[str]) -> None:
    """Mark the targets an approval reaches, each with `target.reached`."""
    session = uow.session
    targets = await queries.open_targets(session, r.project_id, codes)
    if not targets:
        return
    defs = await current_definitions(session, {t.indicator_code for t in targets})
    for tg in targets:
        d = defs.get(tg.indicator_code)
        value, period = await queries.achieved(session, r.project_id, tg.indicator_code,
                                               d.aggregation if d else "sum")
        if value is None:
            continue
        hit = value >= tg.target_value if (d is None or d.higher_is_better) else value <= tg.target_value
        if hit:
            tg.reached_on, tg.reached_value = dt.date.today(), value
            await uow.emit(contracts.TARGET_REACHED, tg.id,
                           payloads.target_reached(tg, value, period or r.period))
