"""Adoption rules: who may record that an organisation took a practice up, and whether it did
so within the practice's own projects."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.events import practices as events
from registry.models import Adoption, Organisation, Project
from registry.practices import queries
from registry.practices.service import load
from shared.contracts import registry as contracts
from shared.db import new_id
from shared.errors import Forbidden, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork


def out(a: Adoption) -> dict[str, Any]:
    return history.jsonable({c: getattr(a, c) for c in (
        "id", "practice_id", "organisation_id", "adopted_on", "scope", "region_code", "project_id",
        "within_origin", "notes", "created_at")})


async def record(uow: UnitOfWork, identity: Identity, practice_id: str,
                 data: dict[str, Any]) -> dict[str, Any]:
    """For one's own organisation or one's own practices; emits `adoption.recorded`. The
    adoption's region defaults to the adopter's."""
    session = uow.session
    p = await load(session, practice_id, identity)
    if not (identity.is_national or access.owns(identity, data["organisation_id"])
            or access.may_edit_practice(identity, p)):
        raise Forbidden("record adoptions for your own organisation or your own practices")
    adopter = await session.get(Organisation, data["organisation_id"])
    if adopter is None:
        raise Unprocessable("unknown organisation", errors=[
            {"field": "body/organisation_id", "type": "unknown_id", "message": "no such organisation"}])
    if data["project_id"] and await session.get(Project, data["project_id"]) is None:
        raise Unprocessable("unknown project", errors=[
            {"field": "body/project_id", "type": "unknown_id", "message": "no such project"}])
    origin = list(p.project_ids or [])
    within = bool(origin) and await queries.takes_part_in(session, adopter.id, origin)
    a = Adoption(id=new_id(), practice_id=p.id, created_by=identity.sub, within_origin=within,
                 **data)
    if a.region_code is None:
        a.region_code = adopter.region_code
    session.add(a)
    await session.flush()
    view = out(a)
    await history.record(session, entity_type="adoption", entity_id=a.id, action="create",
                         version=1, actor=identity.sub, before=None, after=view, feed_state=view,
                         published=p.published, organisation_id=a.organisation_id)
    await uow.emit(contracts.ADOPTION_RECORDED, a.id, events.adoption_recorded(view))
    return view


async def list_page(session: AsyncSession, identity: Identity, practice_id: str | None,
                    organisation_id: str | None, region: str | None, cursor: str | None,
                    limit: int) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page of the adoptions of the practices the caller may see, in id order."""
    q = queries.adoptions(identity, practice_id, organisation_id, region)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [Adoption.id], cursor, limit)
    return [out(a) for a in rows], total, nxt
