"""The practices' and adoptions' SQL."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.models import Adoption, Practice, Project, ProjectPartner, ProjectWorkplace
from shared.identity import Identity


async def listed(session: AsyncSession, identity: Identity, maturity: str | None,
                 project_id: str | None, sub_theme: str | None,
                 theme_id: str | None = None) -> Select:
    """The practices `identity` may see, not archived, filtered. A practice belongs to a theme
    when it names the theme or comes from one of the theme's projects."""
    q = select(Practice).where(access.practice_filter(identity), Practice.archived.is_(False))
    if maturity:
        q = q.where(Practice.maturity == maturity)
    if project_id or sub_theme or theme_id:  # JSON lists: filtered here (practices are few)
        theme_projects = set((await session.scalars(
            select(Project.id).where(Project.theme_id == theme_id))).all()) if theme_id else set()
        rows_all = [p for p in (await session.scalars(q)).all()
                    if (not project_id or project_id in (p.project_ids or []))
                    and (not sub_theme or sub_theme in (p.sub_themes or []))
                    and (not theme_id or theme_id in (p.theme_ids or [])
                         or theme_projects.intersection(p.project_ids or []))]
        q = q.where(Practice.id.in_([p.id for p in rows_all]))
    return q


async def by_maturity(session: AsyncSession, query: Select) -> dict[str, int]:
    sub = query.subquery()
    rows = await session.execute(select(sub.c.maturity, func.count()).group_by(sub.c.maturity))
    return dict(rows.tuples().all())


async def export_rows(session: AsyncSession, query: Select, max_rows: int) -> list[Practice]:
    return list((await session.scalars(query.order_by(Practice.id).limit(max_rows))).all())


async def existing_projects(session: AsyncSession, ids: list[str]) -> set[str]:
    return set((await session.scalars(select(Project.id).where(Project.id.in_(ids)))).all())


async def takes_part_in(session: AsyncSession, organisation_id: str, project_ids: list[str]) -> bool:
    """Whether the organisation leads, partners in or is a workplace of any of the projects."""
    lead = await session.scalar(select(func.count()).select_from(Project).where(
        Project.id.in_(project_ids), Project.organisation_id == organisation_id))
    partner = await session.scalar(select(func.count()).select_from(ProjectPartner).where(
        ProjectPartner.project_id.in_(project_ids),
        ProjectPartner.organisation_id == organisation_id))
    workplace = await session.scalar(select(func.count()).select_from(ProjectWorkplace).where(
        ProjectWorkplace.project_id.in_(project_ids),
        ProjectWorkplace.organisation_id == organisation_id))
    return bool(lead or partner or workplace)


def adoptions(identity: Identity, practice_id: str | None, organisation_id: str | None,
              region: str | None) -> Select:
    """Adoptions of the practices `identity` may see, filtered."""
    q = select(Adoption).join(Practice, Practice.id == Adoption.practice_id) \
        .where(access.practice_filter(identity))
    if practice_id:
        q = q.where(Adoption.practice_id == practice_id)
    if organisation_id:
        q = q.where(Adoption.organisation_id == organisation_id)
    if region:
        q = q.where(Adoption.region_code == region)
    return q
