"""Steering-group meetings and service needs: the coordination project's work in the registry.

Neither is public: anonymous reads get 401, a viewer 403; a ministry user reads them without
personal data (participant names, who took a triage step)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse

from registry.coordination import needs, service
from registry.coordination.schemas import (
    Participation,
    ProjectMeetings,
    ServiceNeedIn,
    ServiceNeedRead,
    ServiceNeedTransitionIn,
    SteeringMeetingIn,
    SteeringMeetingRead,
)
from shared.contracts.coordination import ServiceNeedStatus
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated
from shared.limits import CodeQuery, IdPath
from shared.pagination import Cursor, Limit, Page
from shared.uow import UnitOfWorkDep

project_meetings_router = APIRouter(prefix="/projects", tags=["coordination"])
meetings_router = APIRouter(prefix="/steering-meetings", tags=["coordination"])
needs_router = APIRouter(prefix="/service-needs", tags=["coordination"])

Year = Annotated[int | None, Query(ge=2000, le=2100, description="Meetings of this year.")]
Region = Annotated[str | None, Query(pattern=r"^\d{2}$", max_length=2,
                                     description="Maakunta code 01-21.")]
READ = problem_responses(401, 403, 422)


@project_meetings_router.post("/{project_id}/steering-meetings", status_code=201,
                              summary="Record a steering-group meeting", response_model=SteeringMeetingRead,
                              responses=problem_responses(401, 403, 404, 422))
async def record_meeting(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                         body: SteeringMeetingIn) -> ORJSONResponse:
    """By the project's implementer, a coordinator or an admin; emits `steering_meeting.recorded`
    (participant roles only, no names)."""
    view = await service.record(uow, identity, project_id, body.model_dump(mode="python"))
    return ORJSONResponse(view, status_code=201)


@project_meetings_router.get("/{project_id}/steering-meetings",
                             summary="A project's steering-group meetings", response_model=ProjectMeetings,
                             responses=problem_responses(401, 403, 404, 422))
async def project_meetings(project_id: IdPath, session: SessionDep,
                           identity: Authenticated) -> ORJSONResponse:
    """For the project's implementer and funder and national readers (ministries without names)."""
    return ORJSONResponse(await service.of_project(session, identity, project_id))


@meetings_router.get("/participation", summary="Steering-group participation of a year",
                     response_model=Participation,
                     responses=READ)
async def participation(session: SessionDep, identity: Authenticated,
                        theme_id: CodeQuery = None, year: Year = None) -> ORJSONResponse:
    """In which projects' steering groups the coordination project (and the funder) took part
    in `year` (this year if left out), of one theme if given: the projects the caller may read."""
    year = year or dt.date.today().year
    return ORJSONResponse(await service.participation(session, identity, theme_id, year))


@meetings_router.get("", summary="List steering-group meetings",
                     response_model=Page[SteeringMeetingRead], responses=READ)
async def list_meetings(session: SessionDep, identity: Authenticated, limit: Limit = 50,
                        cursor: Cursor = None, theme_id: CodeQuery = None, year: Year = None,
                        coordination_attended: bool | None = None) -> ORJSONResponse:
    """Meetings of the projects the caller may read, in date order."""
    items, total, nxt = await service.list_page(session, identity, theme_id, year,
                                                coordination_attended, cursor, limit)
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})


@needs_router.post("", status_code=201, summary="Record a service need", response_model=ServiceNeedRead,
                   responses=problem_responses(401, 403, 422))
async def record_need(uow: UnitOfWorkDep, identity: Authenticated,
                      body: ServiceNeedIn) -> ORJSONResponse:
    """By an implementer or funder (from its own projects), a coordinator or an admin; starts
    as `new`; emits `service_need.recorded`."""
    return ORJSONResponse(await needs.create(uow, identity, body.model_dump(mode="python")),
                          status_code=201)


@needs_router.get("", summary="List service needs", response_model=Page[ServiceNeedRead],
                  responses=READ)
async def list_needs(session: SessionDep, identity: Authenticated, limit: Limit = 50,
                     cursor: Cursor = None, theme_id: CodeQuery = None,
                     status: ServiceNeedStatus | None = None,
                     open: Annotated[bool | None, Query(
                         description="true: not yet addressed or declined; false: closed.")] = None,
                     region: Region = None) -> ORJSONResponse:
    """The needs the caller may read, oldest first."""
    items, total, nxt = await needs.list_page(session, identity, theme_id, status, open, region,
                                              cursor, limit)
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})


@needs_router.get("/{need_id}", summary="Read a service need with its triage steps",
                  response_model=ServiceNeedRead,
                  responses=problem_responses(401, 403, 404))
async def read_need(need_id: IdPath, session: SessionDep, identity: Authenticated) -> ORJSONResponse:
    """Every step: from, to, reason, by whom (the role, and the user for national roles), when."""
    return ORJSONResponse(await needs.read(session, identity, need_id))


@needs_router.post("/{need_id}/transitions", summary="Move a service need on in its triage",
                   response_model=ServiceNeedRead,
                   responses=problem_responses(401, 403, 404, 422))
async def transition_need(need_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                          body: ServiceNeedTransitionIn) -> ORJSONResponse:
    """Coordinators and admins only: new -> under_review -> forwarded -> addressed | declined
    (declined from any open step); a reason for forwarded, addressed and declined. Emits
    `service_need.transitioned`."""
    return ORJSONResponse(await needs.transition(uow, identity, need_id, body.to, body.reason))


# Registered in main.py; the project path is not taken for a project route (it has its own suffix).
routers = [project_meetings_router, meetings_router, needs_router]
