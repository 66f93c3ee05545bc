"""Rules of project outputs and lessons: seen by whoever may see the project, written by whoever
may edit it (its implementer, its funder, coordinators and admins); every write versioned, in the
history and the change feed, and announced by an event through the unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.events import outputs as events
from registry.models import Lesson, Project, ProjectOutput
from registry.outputs import queries
from registry.projects.service import etag, etag_matches
from registry.projects.service import project as project_service
from shared.contracts import coordination as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class Kind:
    """What differs between outputs and lessons; the rules are the same."""

    model: Any
    name: str  # in messages: "no output ..."
    entity_type: str  # in the history and the change feed
    fields: tuple[str, ...]
    required: tuple[str, ...]  # may not be set to null
    state: Callable[[Any, Project], dict[str, Any]]
    recorded: str
    updated: str
    removed: str
    order: tuple[str, ...]  # list order (keyset), the id last; no datetimes (cursor-safe)


OUTPUTS = Kind(ProjectOutput, "output", "project_output", events.OUTPUT_FIELDS,
               ("kind", "title", "language", "url", "date"), events.output_state,
               contracts.PROJECT_OUTPUT_RECORDED, contracts.PROJECT_OUTPUT_UPDATED,
               contracts.PROJECT_OUTPUT_REMOVED, ("date", "id"))
LESSONS = Kind(Lesson, "lesson", "lesson", events.LESSON_FIELDS, ("kind", "text", "audience"),
               events.lesson_state, contracts.LESSON_RECORDED, contracts.LESSON_UPDATED,
               contracts.LESSON_REMOVED, ("kind", "audience", "id"))


def out(kind: Kind, row: Any) -> dict[str, Any]:
    return history.jsonable({"id": row.id, "project_id": row.project_id,
                             **{f: getattr(row, f) for f in kind.fields}, "version": row.version,
                             "created_at": row.created_at, "updated_at": row.updated_at})


def _clean(value: Any) -> Any:
    """Localized texts are kept without their empty languages."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def _bad(field: str, message: str, type_: str = "value_error") -> Unprocessable:
    return Unprocessable(message, errors=[{"field": field, "type": type_, "message": message}])


async def readable_project(session: AsyncSession, identity: Identity, project_id: str) -> Project:
    """The project, if the caller may see it (404 otherwise, as for a missing one)."""
    return await project_service.get(session, project_id, identity)


async def editable_project(session: AsyncSession, identity: Identity, project_id: str) -> Project:
    """404 for a project the caller may not see, 403 for one it sees but may not edit, 409 for
    an archived one."""
    p = await project_service.get(session, project_id, identity)
    if not access.may_edit_project(identity, p):
        raise Forbidden("you may not change this project's records")
    if p.archived:
        raise Conflict("the project is archived")
    return p


async def _row(session: AsyncSession, kind: Kind, project: Project, row_id: str) -> Any:
    row = await session.get(kind.model, row_id)
    if row is None or row.project_id != project.id:
        raise access.hide(kind.name, row_id)
    return row


async def _log(uow: UnitOfWork, kind: Kind, project: Project, row: Any, action: str,
               identity: Identity, before: dict | None, after: dict | None,
               state: dict[str, Any]) -> None:
    """History, change feed (readable as the project is), and nothing else: events are the
    caller's, as they differ per action."""
    await history.record(uow.session, entity_type=kind.entity_type, entity_id=row.id,
                         action=action, version=row.version, actor=identity.sub, before=before,
                         after=after, feed_state=state,
                         published=bool(project.published and not project.archived),
                         organisation_id=project.organisation_id, funder_id=project.funder_id)


async def read(session: AsyncSession, identity: Identity, kind: Kind, project_id: str,
               row_id: str) -> Any:
    p = await readable_project(session, identity, project_id)
    return await _row(session, kind, p, row_id)


async def create(uow: UnitOfWork, identity: Identity, kind: Kind, project_id: str,
                 data: dict[str, Any]) -> Any:
    """Emits `<kind>.recorded`."""
    p = await editable_project(uow.session, identity, project_id)
    row = kind.model(id=new_id(), project_id=p.id, version=1, created_by=identity.sub,
                     **{f: _clean(data.get(f)) for f in kind.fields})
    uow.session.add(row)
    await uow.session.flush()
    state = kind.state(row, p)
    await _log(uow, kind, p, row, "create", identity, None, out(kind, row), state)
    await uow.emit(kind.recorded, row.id, state)
    return row


async def update(uow: UnitOfWork, identity: Identity, kind: Kind, project_id: str, row_id: str,
                 data: dict[str, Any], if_match: str | None) -> Any:
    """Only the fields sent; an unchanged record stays at its version and emits nothing."""
    p = await editable_project(uow.session, identity, project_id)
    row = await _row(uow.session, kind, p, row_id)
    if if_match is not None and not etag_matches(if_match, etag(row)):
        raise PreconditionFailed(f"the {kind.name} has changed since you read it")
    for f in kind.required:
        if f in data and data[f] is None:
            raise _bad(f"body/{f}", f"{f} may not be null", "missing")
    before = out(kind, row)
    for f, v in data.items():
        setattr(row, f, _clean(v))
    changed = [f for f in kind.fields if out(kind, row)[f] != before[f]]
    if not changed:
        return row
    row.version += 1
    row.updated_at = utcnow()
    await uow.session.flush()
    state = kind.state(row, p)
    await _log(uow, kind, p, row, "update", identity, before, out(kind, row), state)
    await uow.emit(kind.updated, row.id, events.updated(state, changed))
    return row


async def remove(uow: UnitOfWork, identity: Identity, kind: Kind, project_id: str, row_id: str,
                 if_match: str | None) -> None:
    """Gone from the lists; its history stays. Emits `<kind>.removed`."""
    p = await editable_project(uow.session, identity, project_id)
    row = await _row(uow.session, kind, p, row_id)
    if if_match is not None and not etag_matches(if_match, etag(row)):
        raise PreconditionFailed(f"the {kind.name} has changed since you read it")
    payload = events.removed(row, p)
    await _log(uow, kind, p, row, "delete", identity, out(kind, row), None, payload)
    await uow.session.delete(row)
    await uow.session.flush()
    await uow.emit(kind.removed, row.id, payload)


def _keys(kind: Kind) -> list[Any]:
    return [getattr(kind.model, k) for k in kind.order]


async def list_page(session: AsyncSession, identity: Identity, kind: Kind, *,
                    project_id: str | None, cursor: str | None, limit: int,
                    scoped: bool = False, **filters: Any) -> tuple[list[dict], int, str | None]:
    """A page across the projects the caller may list; `scoped`: of the one project, which the
    caller must be able to see (404 otherwise). Items carry their project's code and name."""
    if scoped:
        await readable_project(session, identity, project_id)
    q = queries.listed(kind.model, None if scoped else identity, project_id=project_id, **filters)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, _keys(kind), cursor, limit)
    labels = await queries.project_labels(session, {r.project_id for r in rows})
    items = [{**out(kind, r), "project_code": labels[r.project_id][0],
              "project_name": labels[r.project_id][1]} for r in rows]
    return items, total, nxt


async def export(session: AsyncSession, identity: Identity, kind: Kind, max_rows: int,
                 **filters: Any) -> tuple[list[Any], dict[str, tuple[str, dict]]]:
    """The rows the caller may list (the list's filters) and their projects' codes and names."""
    rows = await queries.first_rows(session, queries.listed(kind.model, identity, **filters),
                                    _keys(kind), max_rows)
    return rows, await queries.project_labels(session, {r.project_id for r in rows})
