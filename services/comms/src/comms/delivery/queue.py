"""Putting deliveries in the queue (inside the caller's transaction)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import ContentItem, Delivery, Subscriber, WebhookSubscription, next_seq
from shared.db import new_id, utcnow

# Set by the worker when it starts: a callable that wakes it after a commit.
WAKE: list[Any] = []


def _row(channel: str, purpose: str, recipient: str, payload: dict[str, Any], *,
         item_id: str | None = None, subscriber_id: str | None = None,
         webhook_id: str | None = None, entity_key: str | None = None,
         source_id: str | None = None, at: dt.datetime | None = None) -> dict[str, Any]:
    now = utcnow()
    return {"id": new_id(), "seq": next_seq(), "channel": channel, "purpose": purpose,
            "item_id": item_id, "recipient": recipient, "subscriber_id": subscriber_id,
            "webhook_id": webhook_id, "entity_key": entity_key, "source_id": source_id,
            "payload": payload,
            "status": "queued", "attempts": 0, "next_attempt_at": at or now, "created_at": now}


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    for i in range(0, len(rows), 2000):
        await session.execute(insert(Delivery), rows[i:i + 2000])
    if rows:
        session.sync_session.info["comms_wake"] = True
    return len(rows)


async def mail(session: AsyncSession, purpose: str, to: str, subject: str, text: str, *,
               html: str | None = None, subscriber_id: str | None = None,
               item_id: str | None = None, unsubscribe_url: str | None = None) -> None:
    """One transactional mail (confirmation, registration ...)."""
    await _insert(session, [_row("email", purpose, to, {
        "subject": subject, "text": text, "html": html, "unsubscribe_url": unsubscribe_url,
    }, subscriber_id=subscriber_id, item_id=item_id)])


def _overlaps(wanted: list[str], offered: list[str]) -> bool:
    """An empty list on either side means "all"."""
    return not wanted or not offered or bool(set(wanted) & set(offered))


async def newsletter(session: AsyncSession, item: ContentItem, base_url: str) -> int:
    """One mail per confirmed subscriber whose themes, regions and groups the item matches."""
    rows = []
    subs = (await session.execute(select(
        Subscriber.id, Subscriber.email, Subscriber.language, Subscriber.themes, Subscriber.regions,
        Subscriber.target_groups, Subscriber.unsubscribe_token,
    ).where(Subscriber.status == "confirmed"))).all()
    for s in subs:
        if not (_overlaps(s.themes, item.themes) and _overlaps(s.regions, item.regions)
                and _overlaps(s.target_groups, item.target_groups)):
            continue
        lang = s.language if item.title.get(s.language) else "fi"
        rows.append(_row("email", "newsletter", s.email, {
            "item_id": item.id, "language": lang,
            "unsubscribe_url": f"{base_url}/api/v1/subscriptions/unsubscribe?token={s.unsubscribe_token}",
        }, item_id=item.id, subscriber_id=s.id))
    return await _insert(session, rows)


async def fan_out(session: AsyncSession, env: dict[str, Any], regions: list[str]) -> int:
    """A signed webhook per active subscription wanting this event type (and these regions)."""
    subs = (await session.scalars(select(WebhookSubscription).where(
        WebhookSubscription.active.is_(True), WebhookSubscription.purpose == "events"))).all()
    # A subscription receives what happens from its creation on (a replay brings no older news).
    happened = dt.datetime.fromisoformat(env["time"]) if env.get("time") else utcnow()
    wanted = [w for w in subs
              if env["type"] in w.event_types and (not w.regions or set(w.regions) & set(regions))
              and w.created_at <= happened]
    if not wanted:
        return 0
    # Replaying the stream (rebuild-projections) must not send an event to anyone twice.
    done = set((await session.scalars(select(Delivery.webhook_id).where(
        Delivery.source_id == env["id"], Delivery.webhook_id.in_([w.id for w in wanted])))).all())
    rows = [_row("webhook", "event", w.url, {"event": env}, webhook_id=w.id,
                 entity_key=env.get("subject"), source_id=env["id"])
            for w in wanted if w.id not in done]
    return await _insert(session, rows)


async def social(session: AsyncSession, webhook: WebhookSubscription, post_id: str,
                 body: dict[str, Any]) -> None:
    await _insert(session, [_row("social", "social_post", webhook.url, body,
                                 webhook_id=webhook.id, entity_key=post_id, item_id=post_id)])
