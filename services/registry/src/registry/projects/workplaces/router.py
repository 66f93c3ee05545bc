"""Participating workplaces of a project: HTTP only (rules in service.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import ORJSONResponse
from pydantic import ConfigDict, Field

from registry.projects.workplaces import service
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.types import IsoDate, StrictInput
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/projects", tags=["projects"])


class JoinIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    organisation_id: str = Field(max_length=limits.CODE)
    joined_on: IsoDate


class LeaveIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    left_on: IsoDate


@router.get("/{project_id}/workplaces", summary="A project's participating workplaces",
            responses=problem_responses(404))
async def list_workplaces(project_id: IdPath, session: SessionDep, identity: Authenticated):
    """Visible to those who may see the project's private fields."""
    return {"items": await service.list_for(session, project_id, identity)}


@router.post("/{project_id}/workplaces", summary="A workplace joins the project", status_code=201,
             responses=problem_responses(401, 403, 404, 409, 422))
async def join(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
               body: JoinIn) -> ORJSONResponse:
    """Emits `workplace.joined` (with the workplace's size class and region)."""
    return ORJSONResponse(await service.join(uow, identity, project_id, body.organisation_id,
                                             body.joined_on), status_code=201)


@router.post("/{project_id}/workplaces/{workplace_id}/leave", summary="A workplace leaves",
             responses=problem_responses(401, 403, 404, 409, 422))
async def leave(project_id: IdPath, workplace_id: IdPath, uow: UnitOfWorkDep,
                identity: Authenticated, body: LeaveIn) -> ORJSONResponse:
    """Emits `workplace.left`."""
    return ORJSONResponse(await service.leave(uow, identity, project_id, workplace_id, body.left_on))
