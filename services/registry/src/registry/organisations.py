"""Organisations: business ID checked, kinds, size classes, and succession (ELY -> elinvoimakeskus)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import ORJSONResponse
from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, audit, exports
from registry.events.projects import project_state as event_state
from registry.models import Organisation, Project, ProjectFunder, ProjectPartner
from registry.projects.service import etag, etag_matches, specific_objective
from registry.validators import check_business_id, check_region
from shared.contracts import registry as contracts
from shared.contracts.registry import LocalizedName
from shared.db import SessionDep, new_id, utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed, Unprocessable, problem_responses
from shared.events.outbox import Outbox
from shared.exports import EXPORT_RESPONSES, export_response
from shared.identity import Authenticated, Identity
from shared.limits import CodeQuery, IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.types import IsoDate, StrictInput

Kind = Literal["ministry", "funding_authority", "municipality", "company", "association",
               "foundation", "education", "research", "arts_culture", "other"]
Size = Literal["micro", "small", "medium", "large"]


class OrganisationIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedName | None = None
    business_id: str | None = Field(None, max_length=9, description="Y-tunnus, e.g. 0245437-2.")
    kind: Kind | None = None
    sector: Literal["public", "private", "third"] | None = None
    size_class: Size | None = Field(None, description="micro/small/medium/large (ESF+ SME counts).")
    region_code: str | None = Field(None, max_length=2)
    authority_code: str | None = Field(None, max_length=20,
                                       description="ELY/elinvoimakeskus code in /reference.")

    _bid = field_validator("business_id")(check_business_id)
    _region = field_validator("region_code")(check_region)


class Succession(StrictInput):
    model_config = ConfigDict(extra="forbid")

    successor_id: str = Field(max_length=36)
    date: IsoDate


router = APIRouter(prefix="/organisations", tags=["organisations"])
FIELDS = ("name", "business_id", "kind", "sector", "size_class", "region_code", "authority_code")


def state(o: Organisation) -> dict[str, Any]:
    return {"id": o.id, "version": o.version, "name": o.name, "business_id": o.business_id,
            "kind": o.kind, "sector": o.sector, "size_class": o.size_class,
            "region_code": o.region_code, "successor_id": o.successor_id}


def out(o: Organisation) -> dict[str, Any]:
    return audit.jsonable({**state(o), "authority_code": o.authority_code,
                           "succeeded_on": o.succeeded_on, "archived": o.archived,
                           "created_at": o.created_at, "updated_at": o.updated_at})


async def load(session: AsyncSession, org_id: str) -> Organisation:
    o = await session.get(Organisation, org_id)
    if o is None:
        raise access.hide("organisation", org_id)
    return o


async def _unique_bid(session: AsyncSession, bid: str | None, own_id: str | None = None) -> None:
    if bid and await session.scalar(select(Organisation.id).where(
            Organisation.business_id == bid, Organisation.id != (own_id or ""))):
        raise Conflict(f"an organisation with business ID {bid} exists")


async def create_org(session: AsyncSession, outbox: Outbox, identity: Identity,
                     data: dict[str, Any], actor: str | None = None) -> Organisation:
    await _unique_bid(session, data.get("business_id"))
    o = Organisation(id=new_id(), version=1, created_by=actor or identity.sub, **data)
    session.add(o)
    await session.flush()
    await audit.record(session, entity_type="organisation", entity_id=o.id, action="create",
                       version=1, actor=actor or identity.sub, before=None, after=out(o),
                       feed_state=state(o), published=True)
    await outbox.record(session, contracts.ORGANISATION_CREATED, o.id, state(o))
    return o


def _query(kind: str | None, region: str | None, business_id: str | None, q: str | None):
    query = select(Organisation).where(Organisation.archived.is_(False))
    if kind:
        query = query.where(Organisation.kind == kind)
    if region:
        query = query.where(Organisation.region_code == region)
    if business_id:
        query = query.where(Organisation.business_id == business_id)
    if q:
        query = query.where(cast(Organisation.name, String).ilike(f"%{q}%"))
    return query


@router.get("", summary="List organisations")
async def list_organisations(session: SessionDep, limit: Limit = 50, cursor: Cursor = None,
                             kind: Kind | None = None, region: CodeQuery = None,
                             business_id: CodeQuery = None,
                             q: Annotated[str | None, Field(max_length=100)] = None) -> ORJSONResponse:
    """Filter by kind, region, business ID or a name fragment; in id order."""
    query = _query(kind, region, business_id, q)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    after = decode_cursor(cursor)
    if after:
        query = query.where(Organisation.id > after[0])
    rows = list((await session.scalars(query.order_by(Organisation.id).limit(limit + 1))).all())
    nxt = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return ORJSONResponse({"items": [out(o) for o in rows[:limit]], "total": total,
                           "next_cursor": nxt})


@router.get("/export", summary="Export organisations (CSV, XLSX, JSON)",
            responses={**EXPORT_RESPONSES, **problem_responses(422)})
async def export_organisations(session: SessionDep, format: exports.Format = "csv",
                               lang: exports.Lang = "fi", kind: Kind | None = None,
                               region: Annotated[str | None, Query(max_length=2)] = None,
                               business_id: Annotated[str | None, Query(max_length=9)] = None,
                               q: Annotated[str | None, Query(max_length=100)] = None,
                               max_rows: Annotated[int, Query(ge=1, le=100_000)] = 100_000):
    """The organisations the list's filters select, code labels in `lang` (no personal data)."""
    rows = (await session.scalars(_query(kind, region, business_id, q)
                                  .order_by(Organisation.id).limit(max_rows))).all()
    return export_response([exports.organisation_row(o, lang) for o in rows],
                           exports.ORGANISATION_COLUMNS, format, lang=lang,
                           filename="organisations")


@router.post("", summary="Add an organisation", status_code=201,
             responses=problem_responses(401, 403, 409, 422))
async def create_organisation(request: Request, session: SessionDep, identity: Authenticated,
                              body: OrganisationIn) -> ORJSONResponse:
    """Emits `organisation.created`. Business IDs are checked (format and check digit)."""
    if not identity.has_role("admin", "coordinator", "implementer", "funder"):
        raise Forbidden("viewers cannot add organisations")
    data = body.model_dump(mode="python", exclude_none=True)
    missing = [f for f in ("name", "kind") if f not in data]
    if missing:
        raise Unprocessable("required field missing", errors=[
            {"field": f"body/{f}", "type": "missing", "message": "Field required"} for f in missing])
    o = await create_org(session, request.state.outbox, identity, data)
    return ORJSONResponse(out(o), status_code=201, headers={"ETag": etag(o)})


@router.get("/{org_id}", summary="Read an organisation", responses=problem_responses(404))
async def read_organisation(org_id: IdPath, session: SessionDep,
                            if_none_match: IfNoneMatch = None) -> Response:
    """With its ETag; 304 when If-None-Match still matches."""
    o = await load(session, org_id)
    if etag_matches(if_none_match, etag(o)):
        return Response(status_code=304, headers={"ETag": etag(o)})
    return ORJSONResponse(out(o), headers={"ETag": etag(o)})


@router.patch("/{org_id}", summary="Change an organisation",
              responses=problem_responses(401, 403, 404, 409, 412, 422))
async def update_organisation(org_id: IdPath, request: Request, session: SessionDep,
                              identity: Authenticated, body: OrganisationIn,
                              if_match: IfMatch = None) -> ORJSONResponse:
    """Coordinators/admins, or the organisation's own users; emits `organisation.updated`."""
    o = await load(session, org_id)
    if not (identity.is_national or access.owns(identity, o.id)):
        raise Forbidden("you may change only your own organisation")
    if if_match is not None and not etag_matches(if_match, etag(o)):
        raise PreconditionFailed("the organisation has changed since you read it")
    data = body.model_dump(mode="python", exclude_unset=True)
    await _unique_bid(session, data.get("business_id"), o.id)
    before = out(o)
    for k, v in data.items():
        if v is None and k in ("name", "kind"):
            continue
        setattr(o, k, v)
    changed = [k for k in FIELDS if before.get(k) != audit.jsonable(getattr(o, k))]
    if changed:
        o.version += 1
        o.updated_at = utcnow()
        await session.flush()
        await audit.record(session, entity_type="organisation", entity_id=o.id, action="update",
                           version=o.version, actor=identity.sub, before=before, after=out(o),
                           feed_state=state(o), published=True)
        await request.state.outbox.record(session, contracts.ORGANISATION_UPDATED, o.id,
                                          {**state(o), "changed_fields": changed})
    return ORJSONResponse(out(o), headers={"ETag": etag(o)})


@router.post("/{org_id}/succession", summary="Record that another organisation succeeded this one",
             responses=problem_responses(401, 403, 404, 409, 422))
async def succeed(org_id: IdPath, request: Request, session: SessionDep, identity: Authenticated,
                  body: Succession) -> ORJSONResponse:
    """E.g. an ELY centre replaced by an elinvoimakeskus on 1.1.2026. Projects funded by the
    predecessor and running on that date get a new dated funder period with the successor."""
    access.require_national(identity, "record a succession")
    o = await load(session, org_id)
    successor = await load(session, body.successor_id)
    if successor.id == o.id:
        raise Unprocessable("an organisation cannot succeed itself", errors=[
            {"field": "body/successor_id", "type": "value_error", "message": "same organisation"}])
    if o.successor_id:
        raise Conflict(f"already succeeded by {o.successor_id}")
    outbox: Outbox = request.state.outbox
    before = out(o)
    o.successor_id, o.succeeded_on = successor.id, body.date
    o.version += 1
    o.updated_at = utcnow()
    await session.flush()
    await audit.record(session, entity_type="organisation", entity_id=o.id, action="update",
                       version=o.version, actor=identity.sub, before=before, after=out(o),
                       feed_state=state(o), published=True)
    await outbox.record(session, contracts.ORGANISATION_UPDATED, o.id,
                        {**state(o), "changed_fields": ["successor_id"]})
    await outbox.record(session, contracts.ORGANISATION_SUCCEEDED, o.id, {
        "id": o.id, "successor_id": successor.id, "date": body.date.isoformat()})
    moved = await _move_funded_projects(session, outbox, identity, o, successor, body.date)
    return ORJSONResponse({**out(o), "projects_moved": moved})


async def _move_funded_projects(session: AsyncSession, outbox: Outbox, identity: Identity,
                                old: Organisation, new: Organisation, date: dt.date) -> int:
    projects = (await session.scalars(select(Project).where(
        Project.funder_id == old.id, Project.archived.is_(False),
        Project.status.in_(("planned", "active")),
        or_(Project.end_date.is_(None), Project.end_date >= date)))).all()
    for p in projects:
        periods = (await session.scalars(select(ProjectFunder).where(
            ProjectFunder.project_id == p.id, ProjectFunder.valid_to.is_(None)))).all()
        for row in periods:
            row.valid_to = date - dt.timedelta(days=1)
        session.add(ProjectFunder(project_id=p.id, organisation_id=new.id, valid_from=date))
        p.funder_id = new.id
        p.version += 1
        p.updated_at = utcnow()
        await session.flush()
        partner_ids = list(await session.scalars(select(ProjectPartner.organisation_id).where(
            ProjectPartner.project_id == p.id)))
        st = event_state(p, partner_ids, await specific_objective(session, p.theme_id))
        await audit.record(session, entity_type="project", entity_id=p.id, action="update",
                           version=p.version, actor=identity.sub, before={"funder_id": old.id},
                           after={"funder_id": new.id}, feed_state=st, published=p.published,
                           organisation_id=p.organisation_id, funder_id=p.funder_id)
        await outbox.record(session, contracts.PROJECT_UPDATED, p.id,
                            {**st, "changed_fields": ["funder_id"]})
    return len(projects)
