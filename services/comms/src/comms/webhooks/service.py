"""Webhook rules: only safe targets, a secret per subscription (shown once), the delivery log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.common import token
from comms.delivery.ssrf import UnsafeTarget, check_target
from comms.models import Delivery, WebhookSubscription
from shared.errors import NotFound, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate


async def validate_target(url: str, allow_networks: Any) -> None:
    try:
        await check_target(url, allow_networks)
    except UnsafeTarget as exc:
        raise Unprocessable(str(exc), errors=[{"field": "body/url", "type": "unsafe_target",
                                               "message": str(exc)}]) from None


async def create(session: AsyncSession, identity: Identity, values: dict[str, Any],
                 secret: str | None) -> tuple[WebhookSubscription, str]:
    """A subscription with the given secret, else a new random one; both returned."""
    secret = secret or token()
    hook = WebhookSubscription(**values, secret=secret, organisation_id=identity.org,
                               created_by=identity.sub)
    session.add(hook)
    await session.flush()
    return hook, secret


async def hooks_page(session: AsyncSession, limit: int,
                     cursor: str | None) -> tuple[list[WebhookSubscription], int, str | None]:
    q = select(WebhookSubscription)
    rows, nxt = await paginate(session, q, [WebhookSubscription.created_at, WebhookSubscription.id],
                               cursor, limit)
    return rows, await count(session, q), nxt


async def deactivate(session: AsyncSession, webhook_id: str) -> None:
    """Nothing new is queued for it; its log is kept."""
    hook = await session.get(WebhookSubscription, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}")
    hook.active = False


async def deliveries(session: AsyncSession, filters: dict[str, str | None], limit: int,
                     cursor: str | None) -> tuple[list[Delivery], int, str | None]:
    """The log in delivery order; `filters`: item_id, webhook_id, channel, status."""
    q = select(Delivery)
    for col, val in ((Delivery.item_id, filters.get("item_id")),
                     (Delivery.webhook_id, filters.get("webhook_id")),
                     (Delivery.channel, filters.get("channel")),
                     (Delivery.status, filters.get("status"))):
        if val:
            q = q.where(col == val)
    rows, nxt = await paginate(session, q, [Delivery.seq, Delivery.id], cursor, limit)
    return rows, await count(session, q), nxt


async def summary(session: AsyncSession, item_id: str | None) -> dict[str, dict[str, int]]:
    """Counts by channel and status."""
    q = select(Delivery.channel, Delivery.status, func.count()).group_by(Delivery.channel, Delivery.status)
    if item_id:
        q = q.where(Delivery.item_id == item_id)
    out: dict[str, dict[str, int]] = {}
    for ch, st, n in (await session.execute(q)).all():
        out.setdefault(ch, {})[st] = n
    return out
