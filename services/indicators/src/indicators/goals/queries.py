"""Goal queries: themes known here, goals and their indicators, and the figures of a theme's
projects (approved report values, closed survey rounds)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.models import (
    Goal,
    GoalIndicator,
    Instrument,
    Report,
    SurveyRound,
    goal_revision,
    project_extra,
    reported_value,
    survey_response,
    theme_projection,
)


async def theme(session: AsyncSession, theme_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(theme_projection).where(
        theme_projection.c.id == theme_id))).mappings().first()
    return dict(row) if row else None


async def theme_by_code(session: AsyncSession, code: str) -> str | None:
    return await session.scalar(select(theme_projection.c.id).where(
        theme_projection.c.code == code).order_by(theme_projection.c.version.desc()).limit(1))


async def theme_known(session: AsyncSession, theme_id: str) -> bool:
    """The registry told us of the theme, or of a project in it, or goals were set for it."""
    for q in (select(theme_projection.c.id).where(theme_projection.c.id == theme_id),
              select(project_extra.c.id).where(project_extra.c.theme_id == theme_id),
              select(Goal.id).where(Goal.theme_id == theme_id)):
        if await session.scalar(q.limit(1)) is not None:
            return True
    return False


async def code_taken(session: AsyncSession, theme_id: str, code: str) -> bool:
    return await session.scalar(select(Goal.id).where(Goal.theme_id == theme_id,
                                                      Goal.code == code)) is not None


async def get_goal(session: AsyncSession, goal_id: str) -> Goal | None:
    return await session.get(Goal, goal_id)


def goals_query(theme_id: str | None) -> Select:
    q = select(Goal)
    if theme_id:
        q = q.where(Goal.theme_id == theme_id)
    return q


async def goals_of(session: AsyncSession, theme_id: str) -> list[Goal]:
    return list((await session.scalars(select(Goal).where(Goal.theme_id == theme_id)
                                       .order_by(Goal.position, Goal.code))).all())


async def indicators_of(session: AsyncSession, goal_ids: Iterable[str]) -> dict[str, list[GoalIndicator]]:
    ids = list(goal_ids)
    out: dict[str, list[GoalIndicator]] = {i: [] for i in ids}
    if not ids:
        return out
    for gi in (await session.scalars(select(GoalIndicator).where(GoalIndicator.goal_id.in_(ids))
                                     .order_by(GoalIndicator.position))).all():
        out[gi.goal_id].append(gi)
    return out


async def replace_indicators(session: AsyncSession, goal_id: str, rows: list[GoalIndicator]) -> None:
    await session.execute(delete(GoalIndicator).where(GoalIndicator.goal_id == goal_id))
    session.add_all(rows)
    await session.flush()


async def add_revision(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(goal_revision.insert().values(**values))


async def revisions(session: AsyncSession, goal_id: str) -> list[dict[str, Any]]:
    rows = (await session.execute(select(goal_revision).where(goal_revision.c.goal_id == goal_id)
                                  .order_by(goal_revision.c.version, goal_revision.c.id))).mappings()
    return [dict(r) for r in rows.all()]


# --- the theme's figures -------------------------------------------------------------------

def _theme_projects(theme_id: str):
    """Ids of the theme's projects (archived ones left out: the registry withdrew them)."""
    return select(project_extra.c.id).where(project_extra.c.theme_id == theme_id,
                                            or_(project_extra.c.archived.is_(None),
                                                project_extra.c.archived.is_(False)))


async def approved_values(session: AsyncSession, theme_id: str,
                          codes: Iterable[str]) -> list[dict[str, Any]]:
    """Approved (or locked) values of the theme's projects for these indicators. A corrected
    report's earlier revision is `superseded`, so each period counts once; drafts and
    submitted reports never count."""
    codes = list(codes)
    if not codes:
        return []
    t = reported_value
    q = (select(Report.project_id, t.c.indicator_code, Report.period, Report.period_start,
                Report.period_end, t.c.value)
         .join(Report, Report.id == t.c.report_id)
         .where(Report.project_id.in_(_theme_projects(theme_id)),
                Report.status.in_(("approved", "locked")), t.c.indicator_code.in_(codes))
         .order_by(Report.period_end))
    return [dict(r) for r in (await session.execute(q)).mappings().all()]


async def instruments(session: AsyncSession) -> list[Instrument]:
    return list((await session.scalars(select(Instrument))).all())


async def closed_rounds(session: AsyncSession, theme_id: str,
                        instrument_ids: Iterable[str]) -> list[SurveyRound]:
    ids = list(instrument_ids)
    if not ids:
        return []
    return list((await session.scalars(select(SurveyRound).where(
        SurveyRound.status == "closed", SurveyRound.instrument_id.in_(ids),
        SurveyRound.project_id.in_(_theme_projects(theme_id)))
        .order_by(SurveyRound.closes_on, SurveyRound.label))).all())


async def response_counts(session: AsyncSession, round_ids: Iterable[str]) -> dict[str, int]:
    ids = list(round_ids)
    if not ids:
        return {}
    return dict((await session.execute(select(survey_response.c.round_id, func.count())
                                       .where(survey_response.c.round_id.in_(ids))
                                       .group_by(survey_response.c.round_id))).all())
