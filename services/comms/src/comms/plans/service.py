"""Plans and their progress, counted from deliveries, items, registrations and subscribers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.common import HELSINKI
from comms.models import ContentItem, Delivery, Event, Plan, Registration, Subscriber, project_projection
from comms.plans.schemas import PlanBody, PlanCreate
from shared.db import utcnow
from shared.errors import NotFound, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate


def _bounds(plan: Plan) -> tuple[dt.datetime, dt.datetime]:
    """The plan's period as UTC instants (its dates are Helsinki calendar days)."""
    start = dt.datetime.combine(plan.period_start, dt.time(), HELSINKI).astimezone(dt.UTC)
    end = dt.datetime.combine(plan.period_end + dt.timedelta(days=1), dt.time(), HELSINKI).astimezone(dt.UTC)
    return start, end


async def get(session: AsyncSession, plan_id: str) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


async def _item_ids(session: AsyncSession, plan: Plan, start, end) -> list[str]:
    q = select(ContentItem.id, ContentItem.project_ids, ContentItem.plan_id).where(
        ContentItem.status.in_(("published", "archived")),
        ContentItem.published_at >= start, ContentItem.published_at < end)
    rows = (await session.execute(q)).all()
    if plan.scope == "theme":
        return [r.id for r in rows]
    return [r.id for r in rows if r.plan_id == plan.id or plan.project_id in (r.project_ids or [])]


async def _items(session: AsyncSession, ids: list[str], channel: str | None, kind: str | None) -> int:
    if not ids:
        return 0
    rows = (await session.execute(select(ContentItem.channels, ContentItem.kind).where(
        ContentItem.id.in_(ids)))).all()
    return sum(1 for ch, k in rows if (not channel or channel in ch) and (not kind or k == kind))


async def progress(session: AsyncSession, plan: Plan) -> list[dict[str, Any]]:
    start, end = _bounds(plan)
    item_ids = await _item_ids(session, plan, start, end)
    out = []
    for r in plan.expected_results:
        metric, channel, kind = r["metric"], r.get("channel"), r.get("kind")
        if metric == "subscribers":
            actual = await session.scalar(select(func.count()).select_from(Subscriber).where(
                Subscriber.status == "confirmed")) or 0
        elif metric == "items_published":
            actual = await _items(session, item_ids, channel, kind)
        elif metric == "deliveries":
            q = select(func.count()).select_from(Delivery).where(
                Delivery.status == "sent", Delivery.sent_at >= start, Delivery.sent_at < end,
                Delivery.purpose.in_(("newsletter", "event", "social_post")))
            if channel:
                q = q.where(Delivery.channel == channel)
            if plan.scope == "project":
                q = q.where(Delivery.item_id.in_(item_ids or [""]))
            actual = await session.scalar(q) or 0
        else:  # event_participants
            period = and_(Event.starts_at >= start, Event.starts_at < end)
            if plan.scope == "project":
                period = and_(period, Event.project_id == plan.project_id)
            ev = or_(Event.plan_id == plan.id, period)
            actual = await session.scalar(select(func.count()).select_from(Registration).join(
                Event, Event.id == Registration.event_id).where(ev, Registration.status == "confirmed")) or 0
        out.append({"key": r["key"], "metric": metric, "channel": channel, "kind": kind,
                    "label": r.get("label"), "target": r["target"], "actual": int(actual),
                    "percent": round(100.0 * int(actual) / r["target"], 1)})
    return out


def now() -> dt.datetime:
    return utcnow()


async def list_page(session: AsyncSession, limit: int,
                    cursor: str | None) -> tuple[list[Plan], int, str | None]:
    """Plans by period start, a page at a time."""
    q = select(Plan)
    rows, nxt = await paginate(session, q, [Plan.period_start, Plan.id], cursor, limit)
    return rows, await count(session, q), nxt


async def create(session: AsyncSession, identity: Identity, body: PlanCreate) -> Plan:
    """A plan for the theme, or for a project the service knows of."""
    if body.project_id:
        t = project_projection
        if await session.scalar(select(t.c.id).where(t.c.id == body.project_id)) is None:
            raise Unprocessable(f"unknown project {body.project_id}", errors=[
                {"field": "body/project_id", "type": "unknown", "message": "no such project (yet)"}])
    plan = Plan(**body.model_dump(mode="json", exclude={"period_start", "period_end"}),
                period_start=body.period_start, period_end=body.period_end, created_by=identity.sub)
    session.add(plan)
    await session.flush()
    return plan


async def replace(session: AsyncSession, plan_id: str, body: PlanBody) -> Plan:
    """Everything but its scope, as a new version."""
    plan = await get(session, plan_id)
    for k, v in body.model_dump(mode="json", exclude={"period_start", "period_end"}).items():
        setattr(plan, k, v)
    plan.period_start, plan.period_end = body.period_start, body.period_end
    plan.version += 1
    plan.updated_at = utcnow()
    await session.flush()
    return plan
