"""The organisations' SQL."""

from __future__ import annotations

from sqlalchemy import Select, String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Organisation


def listed(kind: str | None, region: str | None, business_id: str | None, q: str | None) -> Select:
    """Organisations not archived, filtered by kind, region, business ID or a name fragment."""
    query = select(Organisation).where(Organisation.archived.is_(False))
    if kind:
        query = query.where(Organisation.kind == kind)
    if region:
        query = query.where(Organisation.region_code == region)
    if business_id:
        query = query.where(Organisation.business_id == business_id)
    if q:
        query = query.where(cast(Organisation.name, String).ilike(f"%{q}%"))
    return query


async def export_rows(session: AsyncSession, query: Select, max_rows: int) -> list[Organisation]:
    return list((await session.scalars(query.order_by(Organisation.id).limit(max_rows))).all())


async def business_id_taken(session: AsyncSession, bid: str, own_id: str | None) -> bool:
    return bool(await session.scalar(select(Organisation.id).where(
        Organisation.business_id == bid, Organisation.id != (own_id or ""))))

