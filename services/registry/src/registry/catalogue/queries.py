"""The catalogue's SQL: lists, code uniqueness, and the rows a theme's funding overview sums."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.models import Call, CallTheme, Project
from shared.identity import Identity


def listed(model: type, include_archived: bool) -> Select:
    q = select(model)
    return q if include_archived else q.where(model.archived.is_(False))


async def code_taken(session: AsyncSession, model: type, code: str) -> bool:
    return bool(await session.scalar(select(model.id).where(model.code == code)))


async def theme_projects(session: AsyncSession, identity: Identity, theme_id: str) -> list[Row[Any]]:
    """(id, budget_total, region_codes, funder_id, call_id) of the theme's projects that count
    as granted (not cancelled or archived) and that `identity` may see."""
    return list((await session.execute(select(
        Project.id, Project.budget_total, Project.region_codes, Project.funder_id, Project.call_id)
        .where(Project.theme_id == theme_id, Project.archived.is_(False),
               Project.status != "cancelled",
               access.project_filter(identity) if not identity.is_national else true()))).all())


async def project_kind(session: AsyncSession, project_id: str) -> str | None:
    """The kind of a project (None: no such project)."""
    return await session.scalar(select(Project.kind).where(Project.id == project_id))


async def theme_calls(session: AsyncSession, theme_id: str) -> list[Call]:
    """The calls a theme takes part in (joint calls included), not archived, in code order."""
    return list((await session.scalars(
        select(Call).where(Call.archived.is_(False), or_(
            Call.theme_id == theme_id,
            Call.id.in_(select(CallTheme.call_id).where(CallTheme.theme_id == theme_id))))
        .order_by(Call.code))).all())


async def calls_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Call]:
    return {c.id: c for c in (await session.scalars(select(Call).where(Call.id.in_(ids)))).all()}
