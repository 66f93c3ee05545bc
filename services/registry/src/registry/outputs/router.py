"""Project outputs and lessons learned / recommendations: HTTP only (rules in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import ORJSONResponse

from registry import exports as registry_exports
from registry.outputs import exports, service
from registry.outputs.schemas import (
    LessonIn,
    LessonListed,
    LessonPatch,
    LessonRead,
    OutputIn,
    OutputListed,
    OutputPatch,
    OutputRead,
)
from registry.outputs.service import LESSONS, OUTPUTS
from registry.projects.service import etag
from shared.contracts.coordination import LessonAudience, LessonKind, LessonTopic, OutputKind
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import export_response
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeQuery, IdPath, IfMatch
from shared.pagination import Cursor, Limit, Page
from shared.types import IsoDate
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/projects", tags=["outputs and lessons"])
outputs_router = APIRouter(prefix="/outputs", tags=["outputs and lessons"])
lessons_router = APIRouter(prefix="/lessons", tags=["outputs and lessons"])

Language = Annotated[str | None, Query(min_length=2, max_length=2, pattern=r"^[a-z]{2}$",
                                       description="ISO 639-1 code (fi, sv, en, ...).")]
DateFrom = Annotated[IsoDate | None, Query(description="Dated on or after.")]
DateTo = Annotated[IsoDate | None, Query(description="Dated on or before.")]
MaxRows = Annotated[int, Query(ge=1, le=100_000)]
WRITE = problem_responses(401, 403, 404, 409, 412, 422)


def _page(items: list, total: int, nxt: str | None) -> ORJSONResponse:
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})


def _written(kind: service.Kind, row, status: int = 200) -> ORJSONResponse:
    return ORJSONResponse(service.out(kind, row), status_code=status, headers={"ETag": etag(row)})


# ---- outputs ----

@router.get("/{project_id}/outputs", summary="A project's outputs",
            response_model=Page[OutputListed], responses=problem_responses(404, 422))
async def list_project_outputs(project_id: IdPath, session: SessionDep, identity: CurrentIdentity,
                               limit: Limit = 100, cursor: Cursor = None,
                               kind: OutputKind | None = None,
                               language: Language = None) -> ORJSONResponse:
    """Whoever may see the project sees its outputs (the public: those of published projects)."""
    return _page(*await service.list_page(session, identity, OUTPUTS, project_id=project_id,
                                          scoped=True, cursor=cursor, limit=limit,
                                          equal={"kind": kind, "language": language}))


@router.post("/{project_id}/outputs", summary="Record an output of a project", status_code=201,
             response_model=OutputRead,
             responses=WRITE)
async def create_output(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                        body: OutputIn) -> ORJSONResponse:
    """By the project's implementer, its funder, coordinators and admins; emits
    `project_output.recorded`."""
    row = await service.create(uow, identity, OUTPUTS, project_id, body.model_dump(mode="python"))
    return _written(OUTPUTS, row, 201)


@router.get("/{project_id}/outputs/{output_id}", summary="Read an output", response_model=OutputRead,
            responses=problem_responses(404))
async def read_output(project_id: IdPath, output_id: IdPath, session: SessionDep,
                      identity: CurrentIdentity) -> ORJSONResponse:
    """With its ETag (for If-Match)."""
    return _written(OUTPUTS, await service.read(session, identity, OUTPUTS, project_id, output_id))


@router.patch("/{project_id}/outputs/{output_id}", summary="Change an output",
              response_model=OutputRead, responses=WRITE)
async def update_output(project_id: IdPath, output_id: IdPath, uow: UnitOfWorkDep,
                        identity: Authenticated, body: OutputPatch,
                        if_match: IfMatch = None) -> ORJSONResponse:
    """Only the fields sent; emits `project_output.updated` when something changed."""
    row = await service.update(uow, identity, OUTPUTS, project_id, output_id,
                               body.model_dump(mode="python", exclude_unset=True), if_match)
    return _written(OUTPUTS, row)


@router.delete("/{project_id}/outputs/{output_id}", summary="Remove an output", status_code=204,
               responses=WRITE)
async def delete_output(project_id: IdPath, output_id: IdPath, uow: UnitOfWorkDep,
                        identity: Authenticated, if_match: IfMatch = None) -> Response:
    """Its history stays; emits `project_output.removed`."""
    await service.remove(uow, identity, OUTPUTS, project_id, output_id, if_match)
    return Response(status_code=204)


@outputs_router.get("", summary="Outputs across projects", response_model=Page[OutputListed],
                    responses=problem_responses(422))
async def list_outputs(session: SessionDep, identity: CurrentIdentity, limit: Limit = 50,
                       cursor: Cursor = None, theme_id: CodeQuery = None,
                       project_id: CodeQuery = None, kind: OutputKind | None = None,
                       language: Language = None, date_from: DateFrom = None,
                       date_to: DateTo = None) -> ORJSONResponse:
    """Of the projects the caller may list, oldest first; `theme_id`: of the theme's projects."""
    return _page(*await service.list_page(
        session, identity, OUTPUTS, project_id=project_id, cursor=cursor, limit=limit,
        theme_id=theme_id, equal={"kind": kind, "language": language}, date_from=date_from,
        date_to=date_to))


@outputs_router.get("/export", summary="Export outputs (CSV, XLSX, JSON)",
                    responses={**registry_exports.export_responses(
                        "Output", exports.OUTPUT_COLUMNS), **problem_responses(422)})
async def export_outputs(session: SessionDep, identity: CurrentIdentity,
                         format: registry_exports.Format = "csv",
                         lang: registry_exports.Lang = "fi", theme_id: CodeQuery = None,
                         project_id: CodeQuery = None, kind: OutputKind | None = None,
                         language: Language = None, date_from: DateFrom = None,
                         date_to: DateTo = None, max_rows: MaxRows = 100_000):
    """The outputs the caller may list (the list's filters), codes labelled in `lang`."""
    rows, projects = await service.export(
        session, identity, OUTPUTS, max_rows, project_id=project_id, theme_id=theme_id,
        equal={"kind": kind, "language": language}, date_from=date_from, date_to=date_to)
    return export_response([exports.output_row(o, projects.get(o.project_id), lang) for o in rows],
                           exports.OUTPUT_COLUMNS, format, lang=lang, filename="outputs")


# ---- lessons learned and recommendations ----

@router.get("/{project_id}/lessons", summary="A project's lessons and recommendations",
            response_model=Page[LessonListed],
            responses=problem_responses(404, 422))
async def list_project_lessons(project_id: IdPath, session: SessionDep, identity: CurrentIdentity,
                               limit: Limit = 100, cursor: Cursor = None,
                               kind: LessonKind | None = None,
                               audience: LessonAudience | None = None) -> ORJSONResponse:
    """Whoever may see the project sees them: lessons, then recommendations, by audience."""
    return _page(*await service.list_page(session, identity, LESSONS, project_id=project_id,
                                          scoped=True, cursor=cursor, limit=limit,
                                          equal={"kind": kind, "audience": audience}))


@router.post("/{project_id}/lessons", summary="Record a lesson or recommendation", status_code=201,
             response_model=LessonRead,
             responses=WRITE)
async def create_lesson(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                        body: LessonIn) -> ORJSONResponse:
    """By those who may edit the project; emits `lesson.recorded`."""
    row = await service.create(uow, identity, LESSONS, project_id, body.model_dump(mode="python"))
    return _written(LESSONS, row, 201)


@router.get("/{project_id}/lessons/{lesson_id}", summary="Read a lesson or recommendation",
            response_model=LessonRead,
            responses=problem_responses(404))
async def read_lesson(project_id: IdPath, lesson_id: IdPath, session: SessionDep,
                      identity: CurrentIdentity) -> ORJSONResponse:
    """With its ETag (for If-Match)."""
    return _written(LESSONS, await service.read(session, identity, LESSONS, project_id, lesson_id))


@router.patch("/{project_id}/lessons/{lesson_id}", summary="Change a lesson or recommendation",
              response_model=LessonRead,
              responses=WRITE)
async def update_lesson(project_id: IdPath, lesson_id: IdPath, uow: UnitOfWorkDep,
                        identity: Authenticated, body: LessonPatch,
                        if_match: IfMatch = None) -> ORJSONResponse:
    """Only the fields sent; emits `lesson.updated` when something changed."""
    row = await service.update(uow, identity, LESSONS, project_id, lesson_id,
                               body.model_dump(mode="python", exclude_unset=True), if_match)
    return _written(LESSONS, row)


@router.delete("/{project_id}/lessons/{lesson_id}", summary="Remove a lesson or recommendation",
               status_code=204, responses=WRITE)
async def delete_lesson(project_id: IdPath, lesson_id: IdPath, uow: UnitOfWorkDep,
                        identity: Authenticated, if_match: IfMatch = None) -> Response:
    """Its history stays; emits `lesson.removed`."""
    await service.remove(uow, identity, LESSONS, project_id, lesson_id, if_match)
    return Response(status_code=204)


@lessons_router.get("", summary="Lessons and recommendations across projects",
                    response_model=Page[LessonListed],
                    responses=problem_responses(422))
async def list_lessons(session: SessionDep, identity: CurrentIdentity, limit: Limit = 50,
                       cursor: Cursor = None, theme_id: CodeQuery = None,
                       project_id: CodeQuery = None, kind: LessonKind | None = None,
                       audience: LessonAudience | None = None,
                       topic: LessonTopic | None = None) -> ORJSONResponse:
    """Of the projects the caller may list; `audience=next_programme_period` gives what the
    period's projects recommend to the next one."""
    return _page(*await service.list_page(
        session, identity, LESSONS, project_id=project_id, cursor=cursor, limit=limit,
        theme_id=theme_id, equal={"kind": kind, "audience": audience, "topic": topic}))


@lessons_router.get("/export", summary="Export lessons and recommendations (CSV, XLSX, JSON)",
                    responses={**registry_exports.export_responses(
                        "Lesson", exports.LESSON_COLUMNS), **problem_responses(422)})
async def export_lessons(session: SessionDep, identity: CurrentIdentity,
                         format: registry_exports.Format = "csv",
                         lang: registry_exports.Lang = "fi", theme_id: CodeQuery = None,
                         project_id: CodeQuery = None, kind: LessonKind | None = None,
                         audience: LessonAudience | None = None,
                         topic: LessonTopic | None = None, max_rows: MaxRows = 100_000):
    """The lessons the caller may list (the list's filters), codes labelled in `lang`."""
    rows, projects = await service.export(
        session, identity, LESSONS, max_rows, project_id=project_id, theme_id=theme_id,
        equal={"kind": kind, "audience": audience, "topic": topic})
    return export_response([exports.lesson_row(x, projects.get(x.project_id), lang) for x in rows],
                           exports.LESSON_COLUMNS, format, lang=lang, filename="lessons")
