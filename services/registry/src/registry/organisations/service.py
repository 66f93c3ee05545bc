"""Organisation rules: who may add or change one, unique business IDs, and succession."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.events import organisations as events
from registry.events.projects import project_state as event_state
from registry.models import Organisation, Project, ProjectPartner
from registry.organisations import queries
from registry.projects.service import change_funder, etag, etag_matches, specific_objective
from shared.contracts import registry as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

FIELDS = ("name", "business_id", "kind", "sector", "size_class", "region_code", "authority_code")


def out(o: Organisation) -> dict[str, Any]:
    return history.jsonable({**events.state(o), "authority_code": o.authority_code,
                             "succeeded_on": o.succeeded_on, "archived": o.archived,
                             "created_at": o.created_at, "updated_at": o.updated_at})


async def load(session: AsyncSession, org_id: str) -> Organisation:
    o = await session.get(Organisation, org_id)
    if o is None:
        raise access.hide("organisation", org_id)
    return o


async def _unique_bid(session: AsyncSession, bid: str | None, own_id: str | None = None) -> None:
    if bid and await queries.business_id_taken(session, bid, own_id):
        raise Conflict(f"an organisation with business ID {bid} exists")


async def list_page(session: AsyncSession, kind: str | None, region: str | None,
                    business_id: str | None, q: str | None, cursor: str | None,
                    limit: int) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page in id order, the total and the next page's cursor."""
    query = queries.listed(kind, region, business_id, q)
    total = await count(session, query)
    rows, nxt = await paginate(session, query, [Organisation.id], cursor, limit)
    return [out(o) for o in rows], total, nxt


async def export(session: AsyncSession, kind: str | None, region: str | None,
                 business_id: str | None, q: str | None, max_rows: int) -> list[Organisation]:
    return await queries.export_rows(session, queries.listed(kind, region, business_id, q), max_rows)


async def create(uow: UnitOfWork, identity: Identity, data: dict[str, Any]) -> Organisation:
    """Any role but viewer adds organisations; name and kind are required, business IDs unique."""
    if not identity.has_role("admin", "coordinator", "implementer", "funder"):
        raise Forbidden("viewers cannot add organisations")
    missing = [f for f in ("name", "kind") if f not in data]
    if missing:
        raise Unprocessable("required field missing", errors=[
            {"field": f"body/{f}", "type": "missing", "message": "Field required"} for f in missing])
    session = uow.session
    await _unique_bid(session, data.get("business_id"))
    o = Organisation(id=new_id(), version=1, created_by=identity.sub, **data)
    session.add(o)
    await session.flush()
    await history.record(session, entity_type="organisation", entity_id=o.id, action="create",
                         version=1, actor=identity.sub, before=None, after=out(o),
                         feed_state=events.state(o), published=True)
    await uow.emit(contracts.ORGANISATION_CREATED, o.id, events.state(o))
    return o


async def _record_update(session: AsyncSession, identity: Identity, o: Organisation,
                         before: dict[str, Any]) -> None:
    """A changed organisation: its next version, its history and its feed row."""
    o.version += 1
    o.updated_at = utcnow()
    await session.flush()
    await history.record(session, entity_type="organisation", entity_id=o.id, action="update",
                         version=o.version, actor=identity.sub, before=before, after=out(o),
                         feed_state=events.state(o), published=True)


async def update(uow: UnitOfWork, identity: Identity, org_id: str, data: dict[str, Any],
                 if_match: str | None) -> Organisation:
    """Coordinators/admins, or the organisation's own users; name and kind cannot be unset."""
    session = uow.session
    o = await load(session, org_id)
    if not (identity.is_national or access.owns(identity, o.id)):
        raise Forbidden("you may change only your own organisation")
    if if_match is not None and not etag_matches(if_match, etag(o)):
        raise PreconditionFailed("the organisation has changed since you read it")
    await _unique_bid(session, data.get("business_id"), o.id)
    before = out(o)
    for k, v in data.items():
        if v is None and k in ("name", "kind"):
            continue
        setattr(o, k, v)
    changed = [k for k in FIELDS if before.get(k) != history.jsonable(getattr(o, k))]
    if changed:
        await _record_update(session, identity, o, before)
        await uow.emit(contracts.ORGANISATION_UPDATED, o.id, events.updated(o, changed))
    return o


async def succeed(uow: UnitOfWork, identity: Identity, org_id: str, successor_id: str,
                  date: dt.date) -> tuple[Organisation, int]:
    """E.g. an ELY centre replaced by an elinvoimakeskus on 1.1.2026. Projects funded by the
    predecessor and running on that date get a new dated funder period with the successor.
    The organisation, and how many projects moved."""
    session = uow.session
    access.require_national(identity, "record a succession")
    o = await load(session, org_id)
    successor = await load(session, successor_id)
    if successor.id == o.id:
        raise Unprocessable("an organisation cannot succeed itself", errors=[
            {"field": "body/successor_id", "type": "value_error", "message": "same organisation"}])
    if o.successor_id:
        raise Conflict(f"already succeeded by {o.successor_id}")
    before = out(o)
    o.successor_id, o.succeeded_on = successor.id, date
    await _record_update(session, identity, o, before)
    await uow.emit(contracts.ORGANISATION_UPDATED, o.id, events.updated(o, ["successor_id"]))
    await uow.emit(contracts.ORGANISATION_SUCCEEDED, o.id, events.succeeded(o, successor.id, date))
    moved = await _move_funded_projects(uow, identity, o, successor, date)
    return o, moved


async def _move_funded_projects(uow: UnitOfWork, identity: Identity, old: Organisation,
                                new: Organisation, date: dt.date) -> int:
    """The successor becomes the funder of the predecessor's running projects from `date`."""
    session = uow.session
    projects = (await session.scalars(select(Project).where(
        Project.funder_id == old.id, Project.archived.is_(False),
        Project.status.in_(("planned", "active")),
        or_(Project.end_date.is_(None), Project.end_date >= date)))).all()
    for p in projects:
        await change_funder(session, p, new.id, date)
        p.version += 1
        p.updated_at = utcnow()
        await session.flush()
        partner_ids = list(await session.scalars(select(ProjectPartner.organisation_id).where(
            ProjectPartner.project_id == p.id)))
        st = event_state(p, partner_ids, await specific_objective(session, p.theme_id))
        await history.record(session, entity_type="project", entity_id=p.id, action="update",
                             version=p.version, actor=identity.sub, before={"funder_id": old.id},
                             after={"funder_id": new.id}, feed_state=st, published=p.published,
                             organisation_id=p.organisation_id, funder_id=p.funder_id)
        await uow.emit(contracts.PROJECT_UPDATED, p.id, {**st, "changed_fields": ["funder_id"]})
    return len(projects)
