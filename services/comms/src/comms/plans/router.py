"""Communication plan endpoints: coordinators write; signed-in users read; progress computed."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from comms.models import Plan, project_projection
from comms.plans import service
from comms.plans.schemas import PlanBody, PlanCreate, PlanProgress, PlanRead
from shared.db import SessionDep, utcnow
from shared.errors import Unprocessable, problem_responses
from shared.identity import Authenticated, require_roles
from shared.limits import IdPath

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", summary="List plans", response_model=list[PlanRead], responses=problem_responses(401))
async def list_plans(session: SessionDep, _identity: Authenticated) -> list[PlanRead]:
    """Theme and project communication plans."""
    rows = (await session.scalars(select(Plan).order_by(Plan.period_start, Plan.id))).all()
    return [PlanRead.model_validate(p) for p in rows]


@router.post("", summary="Create a plan", status_code=status.HTTP_201_CREATED, response_model=PlanRead,
             responses=problem_responses(401, 403, 422))
async def create_plan(session: SessionDep, body: PlanCreate,
                      identity=require_roles("admin", "coordinator")) -> PlanRead:
    """Objectives, audiences, messages, means, channels, period and measurable targets."""
    if body.project_id:
        t = project_projection
        if await session.scalar(select(t.c.id).where(t.c.id == body.project_id)) is None:
            raise Unprocessable(f"unknown project {body.project_id}", errors=[
                {"field": "body/project_id", "type": "unknown", "message": "no such project (yet)"}])
    plan = Plan(**body.model_dump(mode="json", exclude={"period_start", "period_end"}),
                period_start=body.period_start, period_end=body.period_end, created_by=identity.sub)
    session.add(plan)
    await session.flush()
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
    plan = await service.get(session, plan_id)
    for k, v in body.model_dump(mode="json", exclude={"period_start", "period_end"}).items():
        setattr(plan, k, v)
    plan.period_start, plan.period_end = body.period_start, body.period_end
    plan.version += 1
    plan.updated_at = utcnow()
    await session.flush()
    return PlanRead.model_validate(plan)


@router.get("/{plan_id}/progress", summary="Progress of a plan's expected results",
            response_model=PlanProgress, responses=problem_responses(401, 404))
async def plan_progress(plan_id: IdPath, session: SessionDep, _identity: Authenticated) -> PlanProgress:
    """Counted from what the service did in the plan's period; never typed in."""
    plan = await service.get(session, plan_id)
    return PlanProgress(plan_id=plan.id, computed_at=utcnow(),
                        results=await service.progress(session, plan))
