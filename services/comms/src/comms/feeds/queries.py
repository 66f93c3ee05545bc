"""What the public feeds read: open events, the newest published items."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import ContentItem, Event


async def open_events(session: AsyncSession) -> list[Event]:
    return list((await session.scalars(select(Event).where(Event.status != "cancelled")
                                       .order_by(Event.starts_at))).all())


async def newest_published(session: AsyncSession, limit: int = 500) -> list[ContentItem]:
    return list((await session.scalars(select(ContentItem).where(
        ContentItem.status == "published", ContentItem.kind != "ministry_message")
                                       .order_by(ContentItem.published_at.desc()).limit(limit))).all())
