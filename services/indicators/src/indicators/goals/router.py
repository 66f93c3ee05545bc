"""Theme goals (HTTP only): the goals, their indicators and history; and the theme's goals
measured (`/analyses/themes/{theme_id}/goals`, which the gateway's theme view reads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, status

from indicators.goals import progress, queries
from indicators.goals import service as goal_service
from indicators.goals.schemas import (
    GoalIn,
    GoalIndicatorOut,
    GoalIndicatorsIn,
    GoalOut,
    GoalPatch,
)
from indicators.models import Goal, GoalIndicator
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import IdPath
from shared.pagination import Cursor, Limit
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/goals", tags=["goals"])
analyses_router = APIRouter(prefix="/analyses", tags=["analyses"])
W = problem_responses(401, 403, 404, 409, 422)


def _out(goal: Goal, indicators: list[GoalIndicator]) -> GoalOut:
    out = GoalOut.model_validate(goal)
    out.indicators = [GoalIndicatorOut.model_validate(i) for i in indicators]
    return out


@router.post("", summary="Add a goal to a theme", status_code=status.HTTP_201_CREATED,
             responses=W)
async def create_goal(body: GoalIn, uow: UnitOfWorkDep, identity: Authenticated) -> GoalOut:
    """Coordinators, ministries and admins; the theme must be one the registry has announced
    (422 naming `theme_id` otherwise). Emits goal.created."""
    return _out(await goal_service.create(uow, identity, body), [])


@router.get("", summary="List theme goals", responses=problem_responses(422))
async def list_goals(session: SessionDep, theme_id: Annotated[str | None, Query(max_length=36)] = None,
                     limit: Limit = 100, cursor: Cursor = None) -> dict:
    """Public: goals in theme, order and code order, each with its indicators."""
    rows, total, nxt = await goal_service.list_page(session, theme_id, cursor, limit)
    inds = await queries.indicators_of(session, [g.id for g in rows])
    return {"items": [_out(g, inds[g.id]).model_dump(mode="json") for g in rows],
            "total": total, "next_cursor": nxt}


@router.get("/{goal_id}", summary="Read a goal", responses=problem_responses(404))
async def read_goal(goal_id: IdPath, session: SessionDep) -> GoalOut:
    goal = await goal_service.get(session, goal_id)
    return _out(goal, (await queries.indicators_of(session, [goal.id]))[goal.id])


@router.patch("/{goal_id}", summary="Change a goal", responses=W)
async def patch_goal(goal_id: IdPath, body: GoalPatch, uow: UnitOfWorkDep,
                     identity: Authenticated) -> GoalOut:
    """Code, name, description or position; emits goal.updated with the changed fields."""
    goal = await goal_service.update(uow, identity, goal_id, body)
    return _out(goal, (await queries.indicators_of(uow.session, [goal.id]))[goal.id])


@router.put("/{goal_id}/indicators", summary="Set the indicators measuring a goal", responses=W)
async def put_indicators(goal_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                         body: Annotated[GoalIndicatorsIn, Body()]) -> GoalOut:
    """The whole list, replacing the previous one: each a catalogue indicator (422 naming
    `body/<n>/indicator_code` otherwise) with a period (2021-2027, 2025, 2025H1), a theme-level
    baseline and target. Emits goal.updated (changed_fields: indicators)."""
    goal, indicators = await goal_service.put_indicators(uow, identity, goal_id, body)
    return _out(goal, indicators)


@router.get("/{goal_id}/history", summary="Every change of a goal", responses=problem_responses(404))
async def goal_history(goal_id: IdPath, session: SessionDep, identity: CurrentIdentity) -> dict:
    """Each version's whole state, oldest first; who made it only for the goal's writers."""
    items = await goal_service.history(session, identity, goal_id)
    return {"items": items, "total": len(items)}


@analyses_router.get("/themes/{theme_id}/goals", summary="A theme's goals measured",
                     responses=problem_responses(404))
async def theme_goals(theme_id: IdPath, request: Request, session: SessionDep,
                      identity: CurrentIdentity) -> dict:
    """Per goal its indicators: theme-level baseline and target, the current value from the
    theme's projects' approved values and closed survey rounds (survey figures under the
    privacy threshold withheld), the progress share; and the gaps: goals without indicators,
    indicators no project of the theme reports on. Public: aggregates only; a survey figure
    pooled from fewer than three organisations only for national roles."""
    return await progress.theme_goals(session, theme_id,
                                      request.app.state.settings.privacy_min_respondents,
                                      goal_service.may_write(identity))
