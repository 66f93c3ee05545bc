"""The SQL of steering-group meetings and service needs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Select, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import (
    Organisation,
    Project,
    ProjectFunder,
    ServiceNeed,
    ServiceNeedStep,
    SteeringMeeting,
    Theme,
)
from shared.identity import Identity


def private_projects(identity: Identity) -> ColumnElement[bool]:
    """SQL condition: the projects whose non-public records (steering groups, service needs)
    the caller may read: all for national readers (admin, coordinator, ministry); an
    implementer's own organisation's; a funder's funded ones (current or past)."""
    if identity.reads_national:
        return true()
    conds = []
    if identity.org and identity.has_role("implementer"):
        conds.append(Project.organisation_id == identity.org)
    if identity.org and identity.has_role("funder"):
        conds.append(Project.funder_id == identity.org)
        conds.append(Project.id.in_(select(ProjectFunder.project_id)
                                    .where(ProjectFunder.organisation_id == identity.org)))
    return or_(*conds) if conds else false()


def _year(year: int | None) -> ColumnElement[bool]:
    if year is None:
        return true()
    return (SteeringMeeting.date >= dt.date(year, 1, 1)) & (SteeringMeeting.date < dt.date(year + 1, 1, 1))


def meetings(identity: Identity, project_id: str | None = None, theme_id: str | None = None,
             year: int | None = None, coordination_attended: bool | None = None) -> Select:
    """Meetings of the projects the caller may read privately, filtered."""
    q = select(SteeringMeeting).join(Project, Project.id == SteeringMeeting.project_id) \
        .where(private_projects(identity), _year(year))
    if project_id:
        q = q.where(SteeringMeeting.project_id == project_id)
    if theme_id:
        q = q.where(Project.theme_id == theme_id)
    if coordination_attended is not None:
        q = q.where(SteeringMeeting.coordination_attended.is_(coordination_attended))
    return q


async def participation(session: AsyncSession, identity: Identity, theme_id: str | None,
                        year: int) -> list[tuple]:
    """Per project with meetings in `year`: id, code, name, meetings, coordination attended
    (0/1), funder attended (0/1), in project-code order."""
    m = SteeringMeeting
    per_project = (select(m.project_id, func.count(m.id).label("n"),
                          func.max(case((m.coordination_attended.is_(True), 1), else_=0)).label("coord"),
                          func.max(case((m.funder_attended.is_(True), 1), else_=0)).label("funder"))
                   .where(_year(year)).group_by(m.project_id).subquery())
    # Aggregated apart from the project (PostgreSQL cannot group by a JSON name).
    q = (select(Project.id, Project.code, Project.name, per_project.c.n, per_project.c.coord,
                per_project.c.funder)
         .join(per_project, per_project.c.project_id == Project.id)
         .where(private_projects(identity)).order_by(Project.code))
    if theme_id:
        q = q.where(Project.theme_id == theme_id)
    return list((await session.execute(q)).tuples().all())


async def project(session: AsyncSession, project_id: str) -> Project | None:
    return await session.get(Project, project_id)


async def theme_exists(session: AsyncSession, theme_id: str) -> bool:
    return await session.scalar(select(func.count()).select_from(Theme)
                                .where(Theme.id == theme_id)) > 0


async def projects_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Project]:
    rows = (await session.scalars(select(Project).where(Project.id.in_(ids)))).all()
    return {p.id: p for p in rows}


async def readable_project_ids(session: AsyncSession, identity: Identity, ids: list[str]) -> set[str]:
    return set((await session.scalars(select(Project.id).where(
        Project.id.in_(ids), private_projects(identity)))).all())


def needs(theme_id: str | None, statuses: list[str] | None,
          visible_ids: list[str] | None) -> Select:
    """Service needs, filtered; `visible_ids` (None: all) limits them to what the caller sees."""
    q = select(ServiceNeed).where(ServiceNeed.archived.is_(False))
    if theme_id:
        q = q.where(ServiceNeed.theme_id == theme_id)
    if statuses:
        q = q.where(ServiceNeed.status.in_(statuses))
    if visible_ids is not None:
        q = q.where(ServiceNeed.id.in_(visible_ids))
    return q


async def need_rows(session: AsyncSession, query: Select) -> list[ServiceNeed]:
    return list((await session.scalars(query)).all())


async def steps(session: AsyncSession, need_id: str) -> list[ServiceNeedStep]:
    return list((await session.scalars(select(ServiceNeedStep).where(
        ServiceNeedStep.need_id == need_id).order_by(ServiceNeedStep.id))).all())


async def existing_organisations(session: AsyncSession, ids: set[str]) -> set[str]:
    return set((await session.scalars(select(Organisation.id).where(Organisation.id.in_(ids)))).all())


async def all_of(session: AsyncSession, query: Select) -> list:
    return list((await session.scalars(query)).all())
