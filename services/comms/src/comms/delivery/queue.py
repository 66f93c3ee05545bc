"""Putting deliveries in the queue (inside the caller's transaction)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import ContentItem, Delivery, Subscriber, WebhookSubscription, next_seq
from shared.db import new_id, new_ids, utcnow

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


# Subscribers read and delivery rows written per step of a newsletter fan-out; the worker sets
# it from COMMS_NEWSLETTER_BATCH_SIZE when it starts. Memory grows with this, not the list.
NEWSLETTER_BATCH: list[int] = [5000]


def _overlap_sql(column: str, offered: list[str], dialect: str, name: str) -> Any:
    """SQL for `_overlaps(subscriber.<column>, offered)` with offered non-empty: the
    subscriber's list is empty (or not a list at all, as `not wanted` reads it) or shares a
    value. Both databases look into the JSON per row, so no non-matching row is fetched."""
    col = f"subscriber.{column}"
    if dialect == "postgresql":
        # CASE, not OR: json_array_length raises on a JSON scalar and OR may run it anyway.
        sql = (f"(CASE WHEN json_typeof({col}) = 'array' THEN json_array_length({col}) = 0"
               f" OR EXISTS (SELECT 1 FROM json_array_elements_text({col}) AS e(v)"
               f" WHERE e.v IN :{name}) ELSE true END)")
    else:
        sql = (f"(json_type({col}) IS NOT 'array' OR json_array_length({col}) = 0"
               f" OR EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value IN :{name}))")
    return text(sql).bindparams(bindparam(name, value=list(offered), expanding=True))


async def newsletter(session: AsyncSession, item: ContentItem, base_url: str, *,
                     batch_size: int | None = None) -> int:
    """One mail per confirmed subscriber whose themes, regions and groups the item matches.

    Streams: subscribers are read in keyset pages (by id) of `batch_size`, matched in SQL and
    their delivery rows inserted page by page, so memory stays bounded whatever the count.
    Everything stays in the caller's transaction: the publish and its mails commit together.
    """
    size = batch_size or NEWSLETTER_BATCH[0]
    dialect = session.bind.dialect.name
    match = [_overlap_sql(col, offered, dialect, f"offered_{col}")
             for col, offered in (("themes", item.themes), ("regions", item.regions),
                                  ("target_groups", item.target_groups)) if offered]
    # `status || ''` keeps SQLite off ix_subscriber_status: with it every page would sort all
    # confirmed rows by id (quadratic); the primary key walks them in order on both databases.
    q = (select(Subscriber.id, Subscriber.email, Subscriber.language, Subscriber.unsubscribe_token)
         .where((Subscriber.status + "") == "confirmed", *match)
         .order_by(Subscriber.id).limit(size))
    languages = {k for k, v in item.title.items() if v}
    unsubscribe = f"{base_url}/api/v1/subscriptions/unsubscribe?token="
    table = Delivery.__table__
    total, last = 0, None
    while True:
        page = (await session.execute(q if last is None else q.where(Subscriber.id > last))).all()
        if not page:
            break
        now = utcnow()
        ids = new_ids(len(page))
        rows = [{"id": did, "seq": next_seq(), "channel": "email", "purpose": "newsletter",
                 "item_id": item.id, "recipient": email, "subscriber_id": sid,
                 "webhook_id": None, "entity_key": None, "source_id": None,
                 "payload": {"item_id": item.id, "language": lang if lang in languages else "fi",
                             "unsubscribe_url": unsubscribe + token},
                 "status": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now}
                for did, (sid, email, lang, token) in zip(ids, page, strict=True)]
        # Core insert (executemany): the ORM bulk path costs more than it gives for plain rows.
        await session.execute(insert(table), rows)
        total += len(rows)
        last = page[-1][0]
        if len(page) < size:
            break
    if total:
        session.sync_session.info["comms_wake"] = True
    return total


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
