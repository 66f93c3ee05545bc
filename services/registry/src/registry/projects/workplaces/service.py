"""Participating workplaces of a project: the rules of joining and leaving (events for
indicators, entries in the change feed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history as audit
from registry.models import Organisation, ProjectWorkplace
from registry.projects.service import project as project_service
from shared.contracts import registry as contracts
from shared.db import new_id
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork


def out(w: ProjectWorkplace) -> dict[str, Any]:
    return audit.jsonable({"id": w.id, "project_id": w.project_id,
                           "organisation_id": w.organisation_id, "joined_on": w.joined_on,
                           "left_on": w.left_on})


def _bad(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[{"field": field, "type": "value_error", "message": message}])


async def list_for(session: AsyncSession, project_id: str, identity: Identity, cursor: str | None,
                   limit: int) -> tuple[list[dict[str, Any]], int, str | None]:
    """Visible to those who may see the project's private fields; a page in joining order."""
    p = await project_service.get(session, project_id, identity)
    if not access.project_private(identity, p, await project_service.past_funders(session, p.id)):
        raise access.hide("project", project_id)
    query = select(ProjectWorkplace).where(ProjectWorkplace.project_id == p.id)
    total = await count(session, query)
    rows, nxt = await paginate(session, query, [ProjectWorkplace.joined_on, ProjectWorkplace.id],
                               cursor, limit)
    return [out(w) for w in rows], total, nxt


async def _editable_project(session: AsyncSession, identity: Identity, project_id: str):
    p = await project_service.get(session, project_id)
    if not access.may_edit_project(identity, p):
        raise Forbidden("you may not change this project")
    return p


async def join(uow: UnitOfWork, identity: Identity, project_id: str, organisation_id: str,
               joined_on: dt.date) -> dict[str, Any]:
    """Emits `workplace.joined` (with the workplace's size class and region)."""
    session = uow.session
    p = await _editable_project(session, identity, project_id)
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise _bad("body/organisation_id", f"no organisation {organisation_id}")
    if p.start_date and joined_on < p.start_date:
        raise _bad("body/joined_on", "joined_on is before the project's start_date")
    if p.end_date and joined_on > p.end_date:
        raise _bad("body/joined_on", "joined_on is after the project's end_date")
    if await session.scalar(select(ProjectWorkplace.id).where(
            ProjectWorkplace.project_id == p.id, ProjectWorkplace.organisation_id == org.id,
            ProjectWorkplace.left_on.is_(None))):
        raise Conflict("this workplace already takes part in the project")
    w = ProjectWorkplace(id=new_id(), project_id=p.id, organisation_id=org.id, joined_on=joined_on)
    session.add(w)
    await session.flush()
    # In the change feed too (commit order with the rest), readable as the project's private
    # parts are: by its implementer, its funder and national roles.
    await audit.record(session, entity_type="workplace", entity_id=w.id, action="create",
                       version=1, actor=identity.sub, before=None, after=out(w), feed_state=out(w),
                       published=False, organisation_id=p.organisation_id, funder_id=p.funder_id)
    await uow.emit(contracts.WORKPLACE_JOINED, w.id, {
        "id": w.id, "project_id": p.id, "organisation_id": org.id,
        "joined_on": w.joined_on.isoformat(), "size_class": org.size_class,
        "region_code": org.region_code})
    return out(w)


async def leave(uow: UnitOfWork, identity: Identity, project_id: str, workplace_id: str,
                left_on: dt.date) -> dict[str, Any]:
    """Emits `workplace.left`."""
    session = uow.session
    p = await _editable_project(session, identity, project_id)
    w = await session.get(ProjectWorkplace, workplace_id)
    if w is None or w.project_id != p.id:
        raise access.hide("workplace", workplace_id)
    if w.left_on is not None:
        raise Conflict("this workplace has already left")
    if left_on < w.joined_on:
        raise _bad("body/left_on", "left_on is before joined_on")
    w.left_on = left_on
    await session.flush()
    await audit.record(session, entity_type="workplace", entity_id=w.id, action="update",
                       version=2, actor=identity.sub, before={"left_on": None},
                       after={"left_on": w.left_on}, feed_state=out(w), published=False,
                       organisation_id=p.organisation_id, funder_id=p.funder_id)
    await uow.emit(contracts.WORKPLACE_LEFT, w.id, {
        "id": w.id, "project_id": p.id, "organisation_id": w.organisation_id,
        "left_on": w.left_on.isoformat()})
    return out(w)
