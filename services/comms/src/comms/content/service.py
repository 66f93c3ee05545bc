"""Content rules: who may write what, the workflow, publishing and what publishing sets off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from comms.content import ministry
from comms.content.render import render_all
from comms.content.schemas import ItemCreate, ItemUpdate, Transition
from comms.delivery import queue
from comms.events import payloads
from comms.models import ContentItem, ContentTransition, project_projection
from shared.contracts import comms as contracts
from shared.db import utcnow
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.identity import Identity
from shared.uow import UnitOfWork

# to-status -> statuses it may come from; all but in_review need a coordinator.
ALLOWED = {
    "draft": {"in_review"},
    "in_review": {"draft"},
    "scheduled": {"in_review", "draft"},
    "published": {"in_review", "draft", "scheduled"},
    "archived": {"published", "draft", "in_review", "scheduled"},
}
EDITABLE = {"draft", "in_review"}


def _field_error(field: str, type_: str, message: str) -> list[dict[str, str]]:
    return [{"field": f"body/{field}", "type": type_, "message": message}]


async def own_projects(session: AsyncSession, identity: Identity, project_ids: list[str]) -> None:
    """An implementer writes only about its own organisation's projects."""
    if identity.is_national:
        return
    if not identity.has_role("implementer") or not identity.org:
        raise Forbidden("only coordinators and implementers write content")
    if not project_ids:
        raise Unprocessable("an implementer's item must be linked to its own project",
                            errors=_field_error("project_ids", "missing", "give your project's id"))
    t = project_projection
    owned = set((await session.scalars(select(t.c.id).where(
        t.c.id.in_(project_ids), t.c.organisation_id == identity.org))).all())
    foreign = sorted(set(project_ids) - owned)
    if foreign:
        raise Forbidden(f"not your organisation's project(s): {', '.join(foreign)}")


def may_see(identity: Identity, item: ContentItem) -> bool:
    if ministry.is_ministry(item):  # never public: national roles and the ministries only
        return identity.reads_national
    if item.status == "published" or identity.is_national:
        return True
    return bool(identity.has_role("implementer") and identity.org
                and identity.org == item.organisation_id)


async def get(session: AsyncSession, item_id: str, identity: Identity) -> ContentItem:
    item = await session.get(ContentItem, item_id)
    if item is None or not may_see(identity, item):
        raise NotFound(f"no content item {item_id}")
    return item


async def history(session: AsyncSession, item_id: str) -> list[ContentTransition]:
    return list((await session.scalars(select(ContentTransition).where(
        ContentTransition.item_id == item_id).order_by(ContentTransition.at))).all())


async def list_items(session: AsyncSession, identity: Identity, *, limit: int, cursor: str | None,
                     status: str | None, kind: str | None, language: str | None,
                     project_id: str | None) -> tuple[list[ContentItem], str | None]:
    q = select(ContentItem)
    if identity.is_national:
        pass
    elif identity.has_role("ministry"):
        q = q.where(or_(ContentItem.status == "published", ContentItem.kind == ministry.KIND))
    elif identity.has_role("implementer") and identity.org:
        q = q.where(or_(ContentItem.status == "published",
                        ContentItem.organisation_id == identity.org))
    else:
        q = q.where(ContentItem.status == "published")
    if not identity.reads_national:
        q = q.where(ContentItem.kind != ministry.KIND)
    if status:
        q = q.where(ContentItem.status == status)
    if kind:
        q = q.where(ContentItem.kind == kind)
    rows = list((await session.scalars(q.order_by(ContentItem.created_at.desc(), ContentItem.id))).all())
    if language:
        rows = [r for r in rows if r.title.get(language)]
    if project_id:
        rows = [r for r in rows if project_id in r.project_ids]
    start = 0
    if cursor:
        ids = [r.id for r in rows]
        start = ids.index(cursor) + 1 if cursor in ids else len(rows)
    page = rows[start:start + limit]
    nxt = page[-1].id if start + limit < len(rows) and page else None
    return page, nxt


def _record(session: AsyncSession, item: ContentItem, to: str, actor: str, note: str | None,
            from_status: str | None) -> None:
    session.add(ContentTransition(item_id=item.id, from_status=from_status, to_status=to,
                                  actor=actor, note=note))


async def create(session: AsyncSession, identity: Identity, data: ItemCreate, *,
                 actor: str | None = None, source_event_id: str | None = None) -> ContentItem:
    if actor is None:
        await own_projects(session, identity, data.project_ids)
    values = data.model_dump(exclude={"title", "body", "channels"})
    channels = data.channels or (["web", "email"] if data.kind == "newsletter" else ["web"])
    body = data.body.model_dump(exclude_none=True)
    item = ContentItem(**values, title=data.title.model_dump(exclude_none=True), body=body,
                       body_html=render_all(body), channels=sorted(set(channels)), status="draft",
                       organisation_id=None if identity.is_national else identity.org,
                       created_by=actor or identity.sub, source_event_id=source_event_id)
    session.add(item)
    await session.flush()
    _record(session, item, "draft", actor or identity.sub, None, None)
    await session.flush()
    return item


def _may_edit(identity: Identity, item: ContentItem) -> None:
    if identity.is_national:
        return
    if identity.has_role("implementer") and identity.org and item.organisation_id == identity.org:
        return
    raise Forbidden("you may not change this item")


async def change(session: AsyncSession, identity: Identity, item: ContentItem,
                 data: ItemUpdate) -> ContentItem:
    _may_edit(identity, item)
    if item.status not in EDITABLE:
        raise Unprocessable(f"a {item.status} item cannot be edited; move it back to draft first",
                            errors=_field_error("status", "not_editable", item.status))
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "project_ids" in changes:
        await own_projects(session, identity, changes["project_ids"])
    if data.title is not None:
        changes["title"] = data.title.model_dump(exclude_none=True)
    if data.body is not None:
        changes["body"] = data.body.model_dump(exclude_none=True)
        item.body_html = render_all(changes["body"])
    for key, value in changes.items():
        setattr(item, key, value)
    item.version += 1
    item.updated_at = utcnow()
    await session.flush()
    return item


async def transition(uow: UnitOfWork, identity: Identity, item: ContentItem,
                     data: Transition, base_url: str,
                     ministry_addresses: Sequence[str] = ()) -> ContentItem:
    session = uow.session
    _may_edit(identity, item)
    if item.status not in ALLOWED[data.to]:
        raise Unprocessable(f"an item cannot move from {item.status} to {data.to}", errors=_field_error(
            "to", "transition", f"allowed from {item.status}: "
            f"{sorted(k for k, v in ALLOWED.items() if item.status in v)}"))
    if data.to not in ("in_review",) and not identity.is_national:
        raise Forbidden("only coordinators schedule, publish, archive or return items")
    if ministry.is_ministry(item) and data.to in ("scheduled", "published") and not ministry_addresses:
        raise Unprocessable("no ministry addresses are configured (COMMS_MINISTRY_ADDRESSES)",
                            errors=_field_error("to", "no_recipients",
                                                "a ministry message goes only to the ministries"))
    if data.to == "scheduled":
        if data.scheduled_at is None:
            raise Unprocessable("scheduling needs scheduled_at",
                                errors=_field_error("scheduled_at", "missing", "give the time"))
        if data.scheduled_at <= utcnow():
            raise Unprocessable("scheduled_at is in the past",
                                errors=_field_error("scheduled_at", "past", "give a future time"))
        item.scheduled_at = data.scheduled_at.astimezone(dt.UTC)
    elif data.scheduled_at is not None:
        raise Unprocessable("scheduled_at is only for `scheduled`",
                            errors=_field_error("scheduled_at", "unexpected", "leave it out"))
    if data.to == "published":
        await publish(uow, item, identity.sub, data.note, base_url, ministry_addresses)
        return item
    _record(session, item, data.to, identity.sub, data.note, item.status)
    if data.to != "scheduled":
        item.scheduled_at = None
    item.status = data.to
    item.version += 1
    item.updated_at = utcnow()
    await session.flush()
    return item


async def publish(uow: UnitOfWork, item: ContentItem, actor: str, note: str | None,
                  base_url: str, ministry_addresses: Sequence[str] = ()) -> None:
    """Publish now: record who, emit content.published, queue the newsletter and webhooks. A
    ministry message is only sent to the ministries' addresses (nothing public happens)."""
    session = uow.session
    _record(session, item, "published", actor, note, item.status)
    item.status = "published"
    item.published_at = utcnow()
    item.version += 1
    item.updated_at = item.published_at
    await session.flush()
    if ministry.is_ministry(item):
        await ministry.send(session, item, ministry_addresses)
        return
    env = await uow.emit(contracts.CONTENT_PUBLISHED, item.id, payloads.content_published(item))
    if "email" in item.channels:
        await queue.newsletter(session, item, base_url)
    await queue.fan_out(session, env, item.regions)


async def publish_due(uow: UnitOfWork, base_url: str, ministry_addresses: Sequence[str] = ()) -> int:
    """Publish scheduled items whose time has come; safe with several replicas running this."""
    session = uow.session
    now = utcnow()
    due = (await session.scalars(select(ContentItem.id).where(
        ContentItem.status == "scheduled", ContentItem.scheduled_at <= now).limit(100))).all()
    done = 0
    for item_id in due:
        # Compare-and-set: only the replica whose update hits the row publishes it.
        won = await session.execute(update(ContentItem).where(
            ContentItem.id == item_id, ContentItem.status == "scheduled")
            .values(status="publishing").execution_options(synchronize_session=False))
        if won.rowcount != 1:
            continue
        item = await session.get(ContentItem, item_id, populate_existing=True)
        item.status = "scheduled"
        await publish(uow, item, "scheduler", "published at its scheduled time", base_url,
                      ministry_addresses)
        done += 1
    return done
