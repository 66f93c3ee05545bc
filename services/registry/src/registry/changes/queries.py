"""The change feed's SQL."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Change
from shared.identity import Identity


async def changes_after(session: AsyncSession, identity: Identity, since: int, limit: int,
                        entity_type: str | None) -> list[Change]:
    """Change rows after `since` in seq (commit) order that `identity` may see: all for national
    users; otherwise the published ones and those of the caller's organisation (as lead or funder)."""
    q = select(Change).where(Change.seq > since)
    if entity_type:
        q = q.where(Change.entity_type == entity_type)
    if not identity.is_national:
        conds = [Change.published.is_(True)]
        if identity.org:
            conds += [Change.organisation_id == identity.org, Change.funder_id == identity.org]
        q = q.where(or_(*conds))
    return list((await session.scalars(q.order_by(Change.seq).limit(limit))).all())
