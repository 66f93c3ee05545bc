"""Indicator catalogue: definitions as data, versions with validity dates, organisation figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from indicators.catalogue.schemas import DefinitionIn, DefinitionOut, FiguresIn
from indicators.common import field_error
from indicators.models import IndicatorDefinition, organisation_figure, participation, project_projection
from shared import limits
from shared.db import SessionDep, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable, problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated
from shared.limits import IdPath

router = APIRouter(prefix="/indicators", tags=["catalogue"])
EXPORT_COLUMNS = [Column(k, {"fi": k, "en": k}) for k in (
    "code", "version", "name", "family", "measure", "unit", "aggregation", "min_value",
    "max_value", "disaggregations", "parts", "valid_from", "valid_to")]


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


@router.get("/definitions", summary="The indicator catalogue", response_model=None,
            responses=problem_responses(422))
async def list_definitions(
    session: SessionDep,
    family: Annotated[str | None, Query(max_length=30)] = None,
    all_versions: bool = False,
    format: Annotated[str | None, Query(max_length=limits.CODE, pattern="^(csv|xlsx|json)$")] = None,
    lang: Annotated[str, Query(max_length=limits.CODE, pattern="^(fi|sv|en)$")] = "fi",
):
    """Definitions in force (or every version), optionally of one family; exportable."""
    q = select(IndicatorDefinition).order_by(IndicatorDefinition.code, IndicatorDefinition.version)
    if family:
        q = q.where(IndicatorDefinition.family == family)
    defs = list((await session.scalars(q)).all())
    if not all_versions:
        cur = await current_definitions(session, {d.code for d in defs})
        defs = [d for d in defs if cur.get(d.code) is d]
    items = [DefinitionOut.model_validate(d).model_dump(mode="json") for d in defs]
    if format:
        return export_response(items, EXPORT_COLUMNS, format, lang=lang, filename="indicators")
    return {"items": items, "total": len(items)}


@router.get("/definitions/{code}", summary="One indicator with its versions",
            responses=problem_responses(404))
async def read_definition(code: IdPath, session: SessionDep) -> dict:
    """The version in force and the full version history."""
    versions = list((await session.scalars(select(IndicatorDefinition).where(
        IndicatorDefinition.code == code).order_by(IndicatorDefinition.version))).all())
    if not versions:
        raise NotFound(f"no indicator {code}")
    cur = (await current_definitions(session, [code]))[code]
    return {"current": DefinitionOut.model_validate(cur).model_dump(mode="json"),
            "versions": [DefinitionOut.model_validate(v).model_dump(mode="json") for v in versions]}


@router.post("/definitions", summary="Add an indicator or a new version of one",
             status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422))
async def create_definition(body: DefinitionIn, session: SessionDep,
                            identity: Authenticated) -> DefinitionOut:
    """Coordinators add programme-specific and custom indicators, or version existing ones
    (a new version closes the previous one the day before it starts)."""
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
    return DefinitionOut.model_validate(d)


@router.put("/organisation-figures", summary="Record organisation-level figures (productivity)",
            responses=problem_responses(401, 403, 404, 422))
async def put_figures(body: FiguresIn, session: SessionDep, identity: Authenticated) -> dict:
    """Figures per participating organisation and period (e.g. value added per FTE);
    the latest value for an organisation, indicator and period wins."""
    codes = {f.indicator_code for f in body.figures}
    defs = await current_definitions(session, codes)
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
    if not identity.is_national:
        orgs = {f.organisation_id for f in body.figures}
        allowed = {identity.org} if identity.org else set()
        if identity.has_role("implementer") and identity.org:
            allowed |= set((await session.scalars(
                select(participation.c.organisation_id).join(
                    project_projection, project_projection.c.id == participation.c.project_id)
                .where(project_projection.c.organisation_id == identity.org))).all())
        if not identity.has_role("implementer") or not orgs <= allowed:
            raise Forbidden("figures only for your organisation or workplaces in your projects")
    now = utcnow()
    t = organisation_figure
    rows = [{**f.model_dump(), "reported_by": identity.sub, "updated_at": now} for f in body.figures]
    dialect = session.bind.dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.organisation_id, t.c.indicator_code, t.c.period],
        set_={"value": ins.excluded.value, "reported_by": ins.excluded.reported_by,
              "updated_at": ins.excluded.updated_at})
    await session.execute(stmt, rows)
    return {"stored": len(rows)}


@router.get("/organisation-figures", summary="Organisation-level figures", response_model=None,
            responses=problem_responses(401, 403))
async def list_figures(session: SessionDep, identity: Authenticated,
                       organisation_id: Annotated[str | None, Query(max_length=36)] = None,
                       format: Annotated[str | None, Query(max_length=limits.CODE,
                                                           pattern="^(csv|xlsx|json)$")] = None):
    """Figures per organisation (national roles see all; others their own organisation's)."""
    t = organisation_figure
    q = select(t).order_by(t.c.organisation_id, t.c.indicator_code, t.c.period)
    if not identity.is_national:
        q = q.where(t.c.organisation_id == identity.org)
    if organisation_id:
        q = q.where(t.c.organisation_id == organisation_id)
    items = [dict(r) for r in (await session.execute(q)).mappings().all()]
    if format:
        keys = ["organisation_id", "indicator_code", "period", "value", "updated_at"]
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in keys], format,
                               filename="organisation-figures")
    return {"items": items, "total": len(items)}

