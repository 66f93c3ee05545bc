"""The SQL of theme evaluations, recommendations and follow-ups."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.models import (
    FollowUp,
    FollowUpPractice,
    Organisation,
    Practice,
    Project,
    Recommendation,
    RecommendationLink,
    RecommendationStep,
    ThemeEvaluation,
)
from shared.identity import Identity


def sees_ongoing(identity: Identity) -> bool:
    """Evaluations still under way: the coordination project, the ministries (admin) and the
    funders (the intermediate body) follow them; everyone else reads completed ones."""
    return identity.is_national or identity.has_role("funder")


def evaluations(identity: Identity, theme_id: str | None) -> Select:
    q = select(ThemeEvaluation).where(ThemeEvaluation.archived.is_(False))
    if theme_id:
        q = q.where(ThemeEvaluation.theme_id == theme_id)
    if not sees_ongoing(identity):
        q = q.where(ThemeEvaluation.completed.is_not(None))
    return q


async def recommendations_of(session: AsyncSession, evaluation_ids: list[str]
                             ) -> list[Recommendation]:
    if not evaluation_ids:
        return []
    return list((await session.scalars(select(Recommendation).where(
        Recommendation.evaluation_id.in_(evaluation_ids))
        .order_by(Recommendation.evaluation_id, Recommendation.number))).all())


async def links_of(session: AsyncSession, rec_ids: list[str]) -> list[RecommendationLink]:
    if not rec_ids:
        return []
    return list((await session.scalars(select(RecommendationLink).where(
        RecommendationLink.recommendation_id.in_(rec_ids))
        .order_by(RecommendationLink.kind, RecommendationLink.target_id))).all())


async def steps_of(session: AsyncSession, rec_ids: list[str]) -> list[RecommendationStep]:
    if not rec_ids:
        return []
    return list((await session.scalars(select(RecommendationStep).where(
        RecommendationStep.recommendation_id.in_(rec_ids))
        .order_by(RecommendationStep.at, RecommendationStep.id))).all())


async def next_number(session: AsyncSession, evaluation_id: str) -> int:
    return (await session.scalar(select(func.max(Recommendation.number)).where(
        Recommendation.evaluation_id == evaluation_id)) or 0) + 1


async def existing(session: AsyncSession, model, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set((await session.scalars(select(model.id).where(model.id.in_(ids)))).all())


async def visible_projects(session: AsyncSession, identity: Identity, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set((await session.scalars(select(Project.id).where(
        Project.id.in_(ids), access.project_filter(identity)))).all())


async def visible_practices(session: AsyncSession, identity: Identity, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set((await session.scalars(select(Practice.id).where(
        Practice.id.in_(ids), access.practice_filter(identity)))).all())


async def recommendations_for_project(session: AsyncSession, identity: Identity,
                                      project_id: str) -> list[Recommendation]:
    """The recommendations that concern a project: linked to it or to one of its practices."""
    practice_ids = [p.id for p in (await session.scalars(select(Practice))).all()
                    if project_id in (p.project_ids or [])]  # JSON list: filtered here
    targets = select(RecommendationLink.recommendation_id).where(
        ((RecommendationLink.kind == "project") & (RecommendationLink.target_id == project_id))
        | ((RecommendationLink.kind == "practice")
           & RecommendationLink.target_id.in_(practice_ids or [""])))
    q = select(Recommendation).join(ThemeEvaluation,
                                    ThemeEvaluation.id == Recommendation.evaluation_id) \
        .where(Recommendation.id.in_(targets), ThemeEvaluation.archived.is_(False))
    if not sees_ongoing(identity):
        q = q.where(ThemeEvaluation.completed.is_not(None))
    return list((await session.scalars(q.order_by(ThemeEvaluation.started, Recommendation.number)))
                .all())


async def practices_of_project(session: AsyncSession, project_id: str) -> dict[str, Practice]:
    rows = (await session.scalars(select(Practice).where(Practice.archived.is_(False)))).all()
    return {p.id: p for p in rows if project_id in (p.project_ids or [])}


async def organisations(session: AsyncSession, ids: list[str]) -> dict[str, Organisation]:
    if not ids:
        return {}
    rows = (await session.scalars(select(Organisation).where(Organisation.id.in_(ids)))).all()
    return {o.id: o for o in rows}


async def follow_up_taken(session: AsyncSession, project_id: str, months: int) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(FollowUp).where(
        FollowUp.project_id == project_id, FollowUp.months == months)))


async def follow_ups_of(session: AsyncSession, project_id: str) -> list[FollowUp]:
    return list((await session.scalars(select(FollowUp).where(FollowUp.project_id == project_id)
                                       .order_by(FollowUp.months))).all())


async def follow_up_practices(session: AsyncSession, follow_up_ids: list[str]
                              ) -> list[FollowUpPractice]:
    if not follow_up_ids:
        return []
    return list((await session.scalars(select(FollowUpPractice).where(
        FollowUpPractice.follow_up_id.in_(follow_up_ids))
        .order_by(FollowUpPractice.follow_up_id, FollowUpPractice.practice_id))).all())


async def ended_projects(session: AsyncSession, identity: Identity,
                         theme_id: str | None) -> list[tuple[str, str, dict, dt.date | None]]:
    """(id, code, name, end_date) of the ended projects the caller may see (of one theme, if
    given), not archived, in end date order."""
    q = select(Project.id, Project.code, Project.name, Project.end_date).where(
        Project.status == "ended", Project.archived.is_(False), access.project_filter(identity))
    if theme_id:
        q = q.where(Project.theme_id == theme_id)
    return list((await session.execute(q.order_by(Project.end_date, Project.code))).tuples().all())


async def follow_ups_at(session: AsyncSession, project_ids: list[str],
                        months: int) -> list[FollowUp]:
    if not project_ids:
        return []
    out: list[FollowUp] = []
    for i in range(0, len(project_ids), 5_000):  # bounded IN lists
        out += (await session.scalars(select(FollowUp).where(
            FollowUp.project_id.in_(project_ids[i:i + 5_000]), FollowUp.months == months))).all()
    return out


async def practice_names(session: AsyncSession, identity: Identity,
                         ids: list[str]) -> dict[str, dict]:
    """Names of the practices among `ids` the caller may see."""
    if not ids:
        return {}
    rows = (await session.execute(select(Practice.id, Practice.name).where(
        Practice.id.in_(ids), access.practice_filter(identity)))).tuples().all()
    return dict(rows)
