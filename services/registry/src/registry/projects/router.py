"""Project endpoints (HTTP only: parse, call the service, shape the response)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from registry.projects.schemas import ProjectCreate, ProjectPage, ProjectRead, ProjectUpdate
from registry.projects.service import etag
from registry.projects.service import project as project_service
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", summary="List projects", response_model=ProjectPage)
async def list_projects(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    status_: Annotated[str | None,
                       Query(alias="status", pattern="^(planned|active|ended|cancelled)$")] = None,
) -> ProjectPage:
    """Projects in code order, a page at a time."""
    rows, total, next_cursor = await project_service.list(
        session, limit=limit, cursor=cursor, status=status_)
    return ProjectPage(items=[ProjectRead.model_validate(r) for r in rows], total=total,
                       next_cursor=next_cursor)


@router.post("", summary="Create a project", status_code=status.HTTP_201_CREATED,
             response_model=ProjectRead, responses=problem_responses(401, 403, 409, 422))
async def create_project(request: Request, response: Response, session: SessionDep,
                         identity: Authenticated, body: ProjectCreate) -> ProjectRead:
    """Add a project; emits `project.created`."""
    p = await project_service.create(session, request.state.outbox, identity, body)
    response.headers["ETag"] = etag(p)
    response.headers["Location"] = f"/api/v1/projects/{p.id}"
    return ProjectRead.model_validate(p)


@router.get("/{project_id}", summary="Read a project", response_model=ProjectRead,
            responses=problem_responses(404))
async def read_project(project_id: str, response: Response, session: SessionDep) -> ProjectRead:
    """One project with its ETag (send it back as If-Match when you change it)."""
    p = await project_service.get(session, project_id)
    response.headers["ETag"] = etag(p)
    return ProjectRead.model_validate(p)


@router.patch("/{project_id}", summary="Change a project", response_model=ProjectRead,
              responses=problem_responses(401, 403, 404, 412, 422))
async def update_project(
    project_id: str, request: Request, response: Response, session: SessionDep,
    identity: Authenticated, body: ProjectUpdate,
    if_match: Annotated[str | None, Header()] = None,
) -> ProjectRead:
    """Change some fields; emits `project.updated` when anything changed."""
    p = await project_service.get(session, project_id)
    p = await project_service.update(session, request.state.outbox, identity, p, body, if_match)
    response.headers["ETag"] = etag(p)
    return ProjectRead.model_validate(p)
