"""Catalogue rules and queries: which version of a definition is in force, who versions the
catalogue, and who records which organisation-level figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.schemas import DefinitionIn, FiguresIn
from indicators.common import field_error
from indicators.models import IndicatorDefinition, organisation_figure, participation, project_projection
from shared.db import dialect_insert, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.identity import Identity


async def current_definitions(session, codes=None,
                              on: dt.date | None = None) -> dict[str, IndicatorDefinition]:
    """Per code, the version in force on `on` (default today), else its latest version."""
    on = on or dt.date.today()
    q = select(IndicatorDefinition)
    if codes is not None:
        q = q.where(IndicatorDefinition.code.in_(list(codes)))
    by_code: dict[str, list[IndicatorDefinition]] = {}
    for d in (await session.scalars(q.order_by(IndicatorDefinition.code, IndicatorDefinition.version))).all():
        by_code.setdefault(d.code, []).append(d)
    out: dict[str, IndicatorDefinition] = {}
    for code, vs in by_code.items():
        in_force = [v for v in vs if (v.valid_from is None or v.valid_from <= on)
                    and (v.valid_to is None or v.valid_to >= on)]
        out[code] = in_force[-1] if in_force else vs[-1]
    return out


async def list_definitions(session: AsyncSession, family: str | None,
                           all_versions: bool) -> list[IndicatorDefinition]:
    """Definitions in force (or every version), optionally of one family."""
    q = select(IndicatorDefinition).order_by(IndicatorDefinition.code, IndicatorDefinition.version)
    if family:
        q = q.where(IndicatorDefinition.family == family)
    defs = list((await session.scalars(q)).all())
    if not all_versions:
        cur = await current_definitions(session, {d.code for d in defs})
        defs = [d for d in defs if cur.get(d.code) is d]
    return defs


async def versions(session: AsyncSession, code: str) -> tuple[IndicatorDefinition, list[IndicatorDefinition]]:
    """The version in force and every version, oldest first."""
    vs = list((await session.scalars(select(IndicatorDefinition).where(
        IndicatorDefinition.code == code).order_by(IndicatorDefinition.version))).all())
    if not vs:
        raise NotFound(f"no indicator {code}")
    return (await current_definitions(session, [code]))[code], vs


async def create_definition(session: AsyncSession, identity: Identity,
                            body: DefinitionIn) -> IndicatorDefinition:
    """A new indicator (programme-specific or custom), or a new version that closes the
    previous one the day before it starts."""
    if not identity.is_national:
        raise Forbidden("only coordinators and admins edit the catalogue")
    prev = (await session.scalars(select(IndicatorDefinition).where(
        IndicatorDefinition.code == body.code).order_by(IndicatorDefinition.version.desc()))).first()
    if prev is None and body.family not in ("programme_specific", "custom"):
        raise Unprocessable("new indicators are programme-specific or custom", errors=[
            field_error("body/family", "family", "use programme_specific or custom")])
    version = 1
    if prev is not None:
        if body.valid_from is None or (prev.valid_from and body.valid_from <= prev.valid_from):
            raise Conflict(f"indicator {body.code} exists: a new version needs a valid_from "
                           "after the current version's")
        prev.valid_to = body.valid_from - dt.timedelta(days=1)
        version = prev.version + 1
    d = IndicatorDefinition(**body.model_dump(exclude={"name", "description", "bands"}),
                            name=body.name.model_dump(exclude_none=True),
                            description=(body.description.model_dump(exclude_none=True)
                                         if body.description else None),
                            bands=[b.model_dump(exclude_none=True) for b in body.bands],
                            version=version, created_by=identity.sub)
    session.add(d)
    await session.flush()
    return d


async def _check_figures(session: AsyncSession, body: FiguresIn) -> None:
    defs = await current_definitions(session, {f.indicator_code for f in body.figures})
    errors = []
    for i, f in enumerate(body.figures):
        d = defs.get(f.indicator_code)
        if d is None:
            errors.append(field_error(f"body/figures/{i}/indicator_code", "unknown", "no such indicator"))
        elif (d.min_value is not None and f.value < d.min_value) or \
                (d.max_value is not None and f.value > d.max_value):
            errors.append(field_error(f"body/figures/{i}/value", "out_of_bounds",
                                      f"must be within [{d.min_value}, {d.max_value}]"))
    if errors:
        raise Unprocessable("invalid figures", errors=errors[:50])


async def _require_figures_for(session: AsyncSession, identity: Identity, body: FiguresIn) -> None:
    """Coordinators record anyone's figures; an implementer its own organisation's and those
    of the workplaces in its projects."""
    if identity.is_national:
        return
    orgs = {f.organisation_id for f in body.figures}
    allowed = {identity.org} if identity.org else set()
    if identity.has_role("implementer") and identity.org:
        allowed |= set((await session.scalars(
            select(participation.c.organisation_id).join(
                project_projection, project_projection.c.id == participation.c.project_id)
            .where(project_projection.c.organisation_id == identity.org))).all())
    if not identity.has_role("implementer") or not orgs <= allowed:
        raise Forbidden("figures only for your organisation or workplaces in your projects")


async def put_figures(session: AsyncSession, identity: Identity, body: FiguresIn) -> int:
    """Store the figures; the latest value for an organisation, indicator and period wins."""
    await _check_figures(session, body)
    await _require_figures_for(session, identity, body)
    now = utcnow()
    t = organisation_figure
    rows = [{**f.model_dump(), "reported_by": identity.sub, "updated_at": now} for f in body.figures]
    ins = dialect_insert(session, t)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.organisation_id, t.c.indicator_code, t.c.period],
        set_={"value": ins.excluded.value, "reported_by": ins.excluded.reported_by,
              "updated_at": ins.excluded.updated_at})
    await session.execute(stmt, rows)
    return len(rows)


async def list_figures(session: AsyncSession, identity: Identity,
                       organisation_id: str | None) -> list[dict[str, Any]]:
    """National roles see every organisation's figures; others their own organisation's."""
    t = organisation_figure
    q = select(t).order_by(t.c.organisation_id, t.c.indicator_code, t.c.period)
    if not identity.is_national:
        q = q.where(t.c.organisation_id == identity.org)
    if organisation_id:
        q = q.where(t.c.organisation_id == organisation_id)
    return [dict(r) for r in (await session.execute(q)).mappings().all()]
