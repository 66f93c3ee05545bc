"""Events indicators consumes, and what each does to its own tables.

State events keep the highest version seen (out-of-order delivery cannot roll back);
fact events (workplace joined/left, adoption recorded) are keyed by their own id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.models import (
    adoption,
    organisation_projection,
    participation,
    practice_projection,
    project_extra,
    project_projection,
    theme_projection,
)
from shared.contracts import registry as c
from shared.db import dialect_insert, utcnow
from shared.events.consumer import HandlerRegistry
from shared.projections import register_project_handlers

handlers = HandlerRegistry()
register_project_handlers(handlers, project_projection)


_upserts: dict[tuple, Any] = {}


async def _versioned_upsert(session: AsyncSession, table: Table, row_id: str, version: int,
                            values: dict[str, Any]) -> None:
    """Insert, or update when `version` is newer: one statement (INSERT .. ON CONFLICT DO
    UPDATE .. WHERE older), not a read and then a write. Built once per table, dialect and
    column set; only the parameters change per event."""
    key = (table.name, session.bind.dialect.name, tuple(values))
    stmt = _upserts.get(key)
    if stmt is None:
        ins = dialect_insert(session, table)
        stmt = ins.on_conflict_do_update(
            index_elements=[table.c.id], set_={c: ins.excluded[c] for c in ("version", *values)},
            where=table.c.version < ins.excluded.version)
        _upserts[key] = stmt
    await session.execute(stmt, {"id": row_id, "version": version, **values})


async def on_project_state(session: AsyncSession, env: dict[str, Any]) -> None:
    """What indicators keeps beyond the shared projection (registered before this one)."""
    # The shared handler has just validated this payload as a ProjectState: read it as is.
    s = env["data"]
    await _versioned_upsert(session, project_extra, s["id"], int(s["version"]), {
        "theme_id": s.get("theme_id"), "programme_id": s.get("programme_id"),
        "specific_objective": s.get("specific_objective"), "archived": bool(s.get("archived"))})


handlers.on(c.PROJECT_CREATED)(on_project_state)
handlers.on(c.PROJECT_UPDATED)(on_project_state)


@handlers.on(c.PROJECT_STATUS_CHANGED)
async def on_project_status(session: AsyncSession, env: dict[str, Any]) -> None:
    e = c.ProjectStatusChangedV1.model_validate(env["data"])
    t = project_projection
    # Only a newer version moves the status. The version is left alone: the registry also
    # sends project.updated with this version and the full state, which must still apply.
    await session.execute(update(t).where(t.c.id == e.id, t.c.version < e.version)
                          .values(status=e.to_status, updated_at=utcnow()))


@handlers.on(c.PROJECT_ARCHIVED)
async def on_project_archived(session: AsyncSession, env: dict[str, Any]) -> None:
    e = c.ProjectArchivedV1.model_validate(env["data"])
    current = await session.scalar(select(project_extra.c.version).where(project_extra.c.id == e.id))
    if current is None:
        await session.execute(project_extra.insert().values(id=e.id, version=e.version, archived=True))
    elif e.version >= current:
        await session.execute(update(project_extra).where(project_extra.c.id == e.id)
                              .values(archived=True, version=e.version))


async def on_organisation_state(session: AsyncSession, env: dict[str, Any]) -> None:
    s = c.OrganisationState.model_validate(env["data"])
    await _versioned_upsert(session, organisation_projection, s.id, s.version, {
        "name": s.name.model_dump(exclude_none=True), "kind": s.kind, "sector": s.sector,
        "size_class": s.size_class, "region_code": s.region_code,
        "successor_id": s.successor_id, "updated_at": utcnow()})


handlers.on(c.ORGANISATION_CREATED)(on_organisation_state)
handlers.on(c.ORGANISATION_UPDATED)(on_organisation_state)


@handlers.on(c.ORGANISATION_SUCCEEDED)
async def on_organisation_succeeded(session: AsyncSession, env: dict[str, Any]) -> None:
    e = c.OrganisationSucceededV1.model_validate(env["data"])
    # A fact: setting the successor twice is harmless.
    await session.execute(update(organisation_projection)
                          .where(organisation_projection.c.id == e.id)
                          .values(successor_id=e.successor_id))


@handlers.on(c.WORKPLACE_JOINED)
async def on_workplace_joined(session: AsyncSession, env: dict[str, Any]) -> None:
    e = c.WorkplaceJoinedV1.model_validate(env["data"])
    if await session.scalar(select(participation.c.id).where(participation.c.id == e.id)):
        return
    await session.execute(participation.insert().values(
        id=e.id, project_id=e.project_id, organisation_id=e.organisation_id,
        joined_on=e.joined_on, size_class=e.size_class, region_code=e.region_code))


@handlers.on(c.WORKPLACE_LEFT)
async def on_workplace_left(session: AsyncSession, env: dict[str, Any]) -> None:
    e = c.WorkplaceLeftV1.model_validate(env["data"])
    p = participation
    # "left" may be keyed by the participation id, or arrive with its own id: match both.
    res = await session.execute(update(p).where(p.c.id == e.id).values(left_on=e.left_on))
    if res.rowcount == 0:
        await session.execute(update(p).where(p.c.project_id == e.project_id,
                                              p.c.organisation_id == e.organisation_id,
                                              p.c.left_on.is_(None)).values(left_on=e.left_on))


async def on_practice_state(session: AsyncSession, env: dict[str, Any]) -> None:
    s = c.PracticeState.model_validate(env["data"])
    await _versioned_upsert(session, practice_projection, s.id, s.version, {
        "name": s.name.model_dump(exclude_none=True), "kind": s.kind, "maturity": s.maturity,
        "project_ids": s.project_ids, "published": s.published})


handlers.on(c.PRACTICE_PUBLISHED)(on_practice_state)
handlers.on(c.PRACTICE_MATURITY_CHANGED)(on_practice_state)


@handlers.on(c.ADOPTION_RECORDED)
async def on_adoption(session: AsyncSession, env: dict[str, Any]) -> None:
    e = c.AdoptionRecordedV1.model_validate(env["data"])
    if await session.scalar(select(adoption.c.id).where(adoption.c.id == e.id)):
        return
    await session.execute(adoption.insert().values(
        id=e.id, practice_id=e.practice_id, organisation_id=e.organisation_id,
        adopted_on=e.adopted_on, scope=e.scope, region_code=e.region_code,
        project_id=e.project_id, within_origin=e.within_origin))


async def on_theme_state(session: AsyncSession, env: dict[str, Any]) -> None:
    """The registry's themes: the goals of a theme are kept here, so its id must be known."""
    s = c.ThemeState.model_validate(env["data"])
    await _versioned_upsert(session, theme_projection, s.id, s.version, {
        "code": s.code, "name": s.name.model_dump(exclude_none=True),
        "period_start": s.period_start, "period_end": s.period_end, "archived": s.archived})


handlers.on(c.THEME_CREATED)(on_theme_state)
handlers.on(c.THEME_UPDATED)(on_theme_state)


@handlers.on_reset
async def _reset(session: AsyncSession) -> None:
    for t in (project_extra, organisation_projection, participation, practice_projection,
              adoption, theme_projection):
        await session.execute(delete(t))
