"""The SQL of a theme's contact persons."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Theme, ThemePerson


async def theme(session: AsyncSession, theme_id: str) -> Theme | None:
    return await session.get(Theme, theme_id)


async def persons(session: AsyncSession, theme_id: str) -> list[ThemePerson]:
    """A theme's persons: intermediate body, coordination project, ministries; then by name."""
    return list((await session.scalars(select(ThemePerson).where(ThemePerson.theme_id == theme_id)
                                       .order_by(ThemePerson.role, ThemePerson.ministry,
                                                 ThemePerson.name, ThemePerson.id))).all())


async def person(session: AsyncSession, person_id: str) -> ThemePerson | None:
    return await session.get(ThemePerson, person_id)


async def add(session: AsyncSession, p: ThemePerson) -> None:
    session.add(p)
    await session.flush()


async def erase(session: AsyncSession, p: ThemePerson) -> None:
    await session.delete(p)
    await session.flush()
