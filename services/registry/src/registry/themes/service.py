"""Rules of a theme's contact persons: personal data, shown to national roles only (admin,
coordinator, funder, ministry), added and erased by admins and coordinators. History keeps only
that a person of a role was added or erased, never who; the theme's version moves on (its ETag
changes) and `theme.updated` says `persons` changed, with no personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.catalogue import queries as catalogue_queries
from registry.catalogue.service import CALL, THEME, out
from registry.changes import history
from registry.events import catalogue as events
from registry.models import Theme, ThemePerson
from registry.themes import queries
from shared.db import new_id, utcnow
from shared.errors import Forbidden
from shared.identity import Identity
from shared.uow import UnitOfWork

FIELDS = ("role", "ministry", "name", "title", "organisation", "email", "phone")


def view(p: ThemePerson) -> dict[str, Any]:
    return {"id": p.id, **{k: getattr(p, k) for k in FIELDS}}


async def persons_for(session: AsyncSession, identity: Identity, theme_id: str
                      ) -> list[dict[str, Any]] | None:
    """The theme's persons for a national role; None (the key left out) for anyone else."""
    if not access.sees_national_contacts(identity):
        return None
    return [view(p) for p in await queries.persons(session, theme_id)]


async def persons_list(session: AsyncSession, identity: Identity, theme_id: str
                       ) -> list[dict[str, Any]]:
    """GET /themes/{id}/persons: the theme must exist; a non-national caller gets 403."""
    await load_theme(session, theme_id)
    items = await persons_for(session, identity, theme_id)
    if items is None:
        raise Forbidden("a theme's contact persons are shown to national roles only")
    return items


async def calls_of(session: AsyncSession, theme_id: str) -> list[dict[str, Any]]:
    """The calls a theme takes part in, joint calls included, each with the themes it is shared
    with: a joint call is listed under each of its themes (its budget is one amount)."""
    await load_theme(session, theme_id)
    return [{**out(CALL, c), "shared_with": [t for t in c.theme_ids if t != theme_id]}
            for c in await catalogue_queries.theme_calls(session, theme_id)]


async def load_theme(session: AsyncSession, theme_id: str) -> Theme:
    theme = await queries.theme(session, theme_id)
    if theme is None:
        raise access.hide("theme", theme_id)
    return theme


async def _touched(uow: UnitOfWork, identity: Identity, theme: Theme, action: str,
                   role: str) -> None:
    before = out(THEME, theme)
    theme.version += 1
    theme.updated_at = utcnow()
    await uow.session.flush()
    await history.record(uow.session, entity_type="theme", entity_id=theme.id, action=action,
                         version=theme.version, actor=identity.sub, before=None,
                         after={"role": role}, feed=False)
    event_type, data = events.changed("theme", out(THEME, theme), before)
    await uow.emit(event_type, theme.id, {**data, "changed_fields": ["persons"]})


async def add(uow: UnitOfWork, identity: Identity, theme_id: str, data: dict[str, Any]
              ) -> dict[str, Any]:
    access.require_national(identity, "add a theme's contact person")
    theme = await load_theme(uow.session, theme_id)
    p = ThemePerson(id=new_id(), theme_id=theme.id, **{k: data.get(k) for k in FIELDS})
    await queries.add(uow.session, p)
    await _touched(uow, identity, theme, "add_person", p.role)
    return view(p)


async def erase(uow: UnitOfWork, identity: Identity, theme_id: str, person_id: str) -> None:
    """Erase one person's data on request (history never held it)."""
    access.require_national(identity, "erase a theme's contact person")
    theme = await load_theme(uow.session, theme_id)
    p = await queries.person(uow.session, person_id)
    if p is None or p.theme_id != theme.id:
        raise access.hide("person", person_id)
    role = p.role
    await queries.erase(uow.session, p)
    await _touched(uow, identity, theme, "erase_person", role)
