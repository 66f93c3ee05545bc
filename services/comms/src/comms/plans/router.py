"""Communication plan endpoints: coordinators write; signed-in users read; progress computed."""

from __future__ import annotations

from fastapi import APIRouter, status

from comms.plans import service
from comms.plans.schemas import PlanBody, PlanCreate, PlanProgress, PlanRead
from shared.db import SessionDep, utcnow
from shared.errors import problem_responses
from shared.identity import Authenticated, require_roles
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", summary="List plans", response_model=Page[PlanRead],
            responses=problem_responses(401, 422))
async def list_plans(session: SessionDep, _identity: Authenticated, limit: Limit = 50,
                     cursor: Cursor = None) -> Page[PlanRead]:
    """Theme and project communication plans by period start."""
    rows, total, nxt = await service.list_page(session, limit, cursor)
    return Page[PlanRead](items=[PlanRead.model_validate(p) for p in rows], total=total,
                          next_cursor=nxt)


@router.post("", summary="Create a plan", status_code=status.HTTP_201_CREATED, response_model=PlanRead,
             responses=problem_responses(401, 403, 422))
async def create_plan(session: SessionDep, body: PlanCreate,
                      identity=require_roles("admin", "coordinator")) -> PlanRead:
    """Objectives, audiences, messages, means, channels, period and measurable targets."""
    plan = await service.create(session, identity, body)
    return PlanRead.model_validate(plan)


@router.get("/{plan_id}", summary="Read a plan", response_model=PlanRead,
            responses=problem_responses(401, 404))
async def read_plan(plan_id: IdPath, session: SessionDep, _identity: Authenticated) -> PlanRead:
    """One plan."""
    return PlanRead.model_validate(await service.get(session, plan_id))


@router.put("/{plan_id}", summary="Replace a plan", response_model=PlanRead,
            responses=problem_responses(401, 403, 404, 422))
async def replace_plan(plan_id: IdPath, session: SessionDep, body: PlanBody,
                       _identity=require_roles("admin", "coordinator")) -> PlanRead:
    """Everything but its scope."""
    plan = await service.replace(session, plan_id, body)
    return PlanRead.model_validate(plan)


@router.get("/{plan_id}/progress", summary="Progress of a plan's expected results",
            response_model=PlanProgress, responses=problem_responses(401, 404))
async def plan_progress(plan_id: IdPath, session: SessionDep, _identity: Authenticated) -> PlanProgress:
    """Counted from what the service did in the plan's period; never typed in."""
    plan = await service.get(session, plan_id)
    return PlanProgress(plan_id=plan.id, computed_at=utcnow(),
                        results=await service.progress(session, plan))
