"""Catalogue rules: programmes, themes and calls share one shape (create, read, change with
If-Match, archive, list), so one set of rules serves them; each kind has its own schema and checks.
Coordinators and admins only write them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.catalogue import queries
from registry.catalogue.schemas import PERIODS, CallIn, ProgrammeIn, ThemeIn
from registry.changes import history
from registry.events import catalogue as events
from registry.models import Call, CallTheme, Organisation, Programme, Theme
from registry.projects.service import etag, etag_matches
from shared.db import new_id, utcnow
from shared.errors import Conflict, PreconditionFailed, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

REFS = {"programme_id": Programme, "theme_id": Theme, "intermediate_body_id": Organisation,
        "funder_id": Organisation}
LISTS = ("ministries", "priorities", "sub_themes", "target_groups", "strategy_codes")


@dataclass(frozen=True)
class Kind:
    """One kind of catalogue record: its name in events and history, its table and its body."""

    name: str
    model: type
    schema: type[BaseModel]

    @property
    def columns(self) -> list[str]:
        return list(self.schema.model_fields)


PROGRAMME = Kind("programme", Programme, ProgrammeIn)
THEME = Kind("theme", Theme, ThemeIn)
CALL = Kind("call", Call, CallIn)


def out(kind: Kind, obj) -> dict[str, Any]:
    d = {c: getattr(obj, c) for c in kind.columns}
    d.update(id=obj.id, version=obj.version, archived=obj.archived,
             created_at=obj.created_at, updated_at=obj.updated_at)
    return history.jsonable(d)


async def _emit(uow: UnitOfWork, kind: Kind, obj, before: dict | None) -> None:
    event_type, data = events.changed(kind.name, out(kind, obj), before)
    await uow.emit(event_type, obj.id, data)


async def load(session: AsyncSession, kind: Kind, obj_id: str):
    obj = await session.get(kind.model, obj_id)
    if obj is None:
        raise access.hide(kind.name, obj_id)
    return obj


def _field_error(key: str, kind: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[{"field": f"body/{key}", "type": kind, "message": message}])


async def _check_refs(session: AsyncSession, data: dict[str, Any]) -> None:
    for key, ref in REFS.items():
        if data.get(key) and await session.get(ref, data[key]) is None:
            raise _field_error(key, "unknown_id", f"no {ref.__tablename__} {data[key]}")
    for i, theme_id in enumerate(data.get("theme_ids") or []):
        if await session.get(Theme, theme_id) is None:
            raise _field_error(f"theme_ids/{i}", "unknown_id", f"no theme {theme_id}")
    if data.get("coordination_project_id"):
        pid = data["coordination_project_id"]
        kind = await queries.project_kind(session, pid)
        if kind is None:
            raise _field_error("coordination_project_id", "unknown_id", f"no project {pid}")
        if kind != "coordination":
            raise _field_error("coordination_project_id", "wrong_kind",
                               f"project {pid} is a {kind} project, not a coordination project")


def _call_themes(obj, data: dict[str, Any]) -> None:
    """A call's themes: `theme_ids` in full, or `theme_id` alone as the new first of them."""
    ids = data.pop("theme_ids", None)
    if ids is None and "theme_id" in data:
        first = data["theme_id"]
        ids = ([first] if first else []) + [t for t in obj.theme_ids if t != first and first]
    if ids is None:
        return
    data["theme_id"] = ids[0] if ids else None
    _link_themes(obj, ids)


def _link_themes(obj, ids: list[str]) -> None:
    """Set a call's theme links in order (a link kept is reused, not deleted and re-added)."""
    have = {x.theme_id: x for x in obj.theme_links} if obj.id and "theme_links" in obj.__dict__ else {}
    links = []
    for i, t in enumerate(ids):
        link = have.get(t) or CallTheme(call_id=obj.id, theme_id=t)
        link.position = i
        links.append(link)
    obj.theme_links = links


async def list_page(session: AsyncSession, kind: Kind, include_archived: bool, cursor: str | None,
                    limit: int) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page in code order, the total and the next page's cursor."""
    q = queries.listed(kind.model, include_archived)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [kind.model.code], cursor, limit)
    return [out(kind, r) for r in rows], total, nxt


async def create(uow: UnitOfWork, identity: Identity, kind: Kind, data: dict[str, Any]):
    session = uow.session
    access.require_national(identity, f"add a {kind.name}")
    missing = [f for f in ("code", "name") if f not in data]
    if missing:
        raise Unprocessable("required field missing", errors=[
            {"field": f"body/{f}", "type": "missing", "message": "Field required"}
            for f in missing])
    if await queries.code_taken(session, kind.model, data["code"]):
        raise Conflict(f"a {kind.name} with code {data['code']} exists")
    await _check_refs(session, data)
    for key in LISTS:
        if key in kind.columns:
            data.setdefault(key, [])
    theme_ids = data.pop("theme_ids", None) or ([data["theme_id"]] if data.get("theme_id") else [])
    if kind is CALL and theme_ids:
        data["theme_id"] = theme_ids[0]
    obj = kind.model(id=new_id(), version=1, created_by=identity.sub, **data)
    if kind is CALL:
        _link_themes(obj, theme_ids)
    session.add(obj)
    await session.flush()
    await history.record(session, entity_type=kind.name, entity_id=obj.id, action="create",
                         version=1, actor=identity.sub, before=None, after=out(kind, obj),
                         feed_state=out(kind, obj), published=True)
    await _emit(uow, kind, obj, None)
    return obj


async def update(uow: UnitOfWork, identity: Identity, kind: Kind, obj_id: str,
                 data: dict[str, Any], if_match: str | None):
    """If-Match guards against lost updates; a change that changes nothing writes nothing."""
    session = uow.session
    access.require_national(identity, f"change a {kind.name}")
    obj = await load(session, kind, obj_id)
    if if_match is not None and not etag_matches(if_match, etag(obj)):
        raise PreconditionFailed(f"the {kind.name} has changed since you read it")
    await _check_refs(session, data)
    before = out(kind, obj)
    if kind is CALL:
        _call_themes(obj, data)
    for k, v in data.items():
        if v is None and k in ("code", "name"):
            continue
        setattr(obj, k, v if v is not None or k not in LISTS else [])
    for a, b in PERIODS:
        x, y = getattr(obj, a, None), getattr(obj, b, None)
        if x and y and y < x:
            raise Unprocessable(f"{b} is before {a}", errors=[
                {"field": f"body/{b}", "type": "date_order", "message": f"{b} is before {a}"}])
    after = out(kind, obj)
    if {k: v for k, v in after.items() if k != "updated_at"} != \
            {k: v for k, v in before.items() if k != "updated_at"}:
        obj.version += 1
        obj.updated_at = utcnow()
        await session.flush()
        after = out(kind, obj)
        await history.record(session, entity_type=kind.name, entity_id=obj.id, action="update",
                             version=obj.version, actor=identity.sub, before=before, after=after,
                             feed_state=after, published=True)
        await _emit(uow, kind, obj, before)
    return obj


async def archive(uow: UnitOfWork, identity: Identity, kind: Kind, obj_id: str):
    """Hidden from lists, history kept; archiving an archived record changes nothing."""
    session = uow.session
    access.require_national(identity, f"archive a {kind.name}")
    obj = await load(session, kind, obj_id)
    if not obj.archived:
        before = out(kind, obj)
        obj.archived = True
        obj.version += 1
        obj.updated_at = utcnow()
        await session.flush()
        await history.record(session, entity_type=kind.name, entity_id=obj.id, action="archive",
                             version=obj.version, actor=identity.sub, before={"archived": False},
                             after={"archived": True}, feed_state=out(kind, obj), published=True)
        await _emit(uow, kind, obj, before)
    return obj
