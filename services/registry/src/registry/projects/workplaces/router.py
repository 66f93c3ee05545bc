"""Participating workplaces of a project: HTTP only (rules in service.py)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, ConfigDict, Field

from registry.projects.workplaces import service
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import MAX_PAGE, Cursor, Limit, Page
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


class WorkplaceRead(BaseModel):
    """A workplace's participation in a project."""

    id: str
    project_id: str
    organisation_id: str
    joined_on: dt.date
    left_on: dt.date | None = None


@router.get("/{project_id}/workplaces", summary="A project's participating workplaces",
            response_model=Page[WorkplaceRead], responses=problem_responses(404, 422))
async def list_workplaces(project_id: IdPath, session: SessionDep, identity: Authenticated,
                          limit: Limit = MAX_PAGE, cursor: Cursor = None) -> ORJSONResponse:
    """Visible to those who may see the project's private fields; in joining order. The page
    size defaults to the largest (the list was once given whole)."""
    items, total, nxt = await service.list_for(session, project_id, identity, cursor, limit)
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})


@router.post("/{project_id}/workplaces", summary="A workplace joins the project", status_code=201,
             response_model=WorkplaceRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def join(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
               body: JoinIn) -> ORJSONResponse:
    """Emits `workplace.joined` (with the workplace's size class and region)."""
    return ORJSONResponse(await service.join(uow, identity, project_id, body.organisation_id,
                                             body.joined_on), status_code=201)


@router.post("/{project_id}/workplaces/{workplace_id}/leave", summary="A workplace leaves",
             response_model=WorkplaceRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def leave(project_id: IdPath, workplace_id: IdPath, uow: UnitOfWorkDep,
                identity: Authenticated, body: LeaveIn) -> ORJSONResponse:
    """Emits `workplace.left`."""
    return ORJSONResponse(await service.leave(uow, identity, project_id, workplace_id, body.left_on))
