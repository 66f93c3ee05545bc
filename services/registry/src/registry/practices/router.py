"""Good practice and adoption endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import ORJSONResponse

from registry import exports
from registry.practices import adoptions, service
from registry.practices.schemas import AdoptionIn, AdoptionRead, Maturity, PracticeIn, PracticeRead
from registry.projects.service import etag, etag_matches
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import export_response
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeQuery, IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit, Page
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/practices", tags=["practices"])
adoptions_router = APIRouter(prefix="/adoptions", tags=["practices"])


@router.get("", summary="List good practices", response_model=Page[PracticeRead],
            responses=problem_responses(422))
async def list_practices(session: SessionDep, identity: CurrentIdentity, limit: Limit = 50,
                         cursor: Cursor = None, maturity: Maturity | None = None,
                         project_id: CodeQuery = None, sub_theme: CodeQuery = None,
                         theme_id: CodeQuery = None) -> ORJSONResponse:
    """Published ones for the public; own organisation's too for implementers. `theme_id`: the
    practices that name the theme or come from one of its projects."""
    items, total, nxt = await service.list_page(session, identity, maturity, project_id, sub_theme,
                                                cursor, limit, theme_id)
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})


@router.get("/summary", summary="Good practices by maturity")
async def practice_summary(session: SessionDep, identity: CurrentIdentity,
                           theme_id: CodeQuery = None) -> dict:
    """The practices the caller may see (of one theme, if given), counted by maturity."""
    return await service.summary(session, identity, theme_id)


@router.get("/export", summary="Export good practices (CSV, XLSX, JSON)",
            responses={**exports.export_responses("Practice", exports.PRACTICE_COLUMNS),
                       **problem_responses(422)})
async def export_practices(session: SessionDep, identity: CurrentIdentity,
                           format: exports.Format = "csv", lang: exports.Lang = "fi",
                           maturity: Maturity | None = None,
                           project_id: Annotated[str | None, Query(max_length=36)] = None,
                           sub_theme: Annotated[str | None, Query(max_length=60)] = None,
                           max_rows: Annotated[int, Query(ge=1, le=100_000)] = 100_000):
    """The practices the caller may list (the list's filters), code labels in `lang`."""
    rows = await service.export(session, identity, maturity, project_id, sub_theme, max_rows)
    names = await exports.organisation_names(session, (p.organisation_id for p in rows))
    return export_response([exports.practice_row(p, lang, names) for p in rows],
                           exports.PRACTICE_COLUMNS, format, lang=lang, filename="practices")


@router.post("", summary="Add a good practice", status_code=201, response_model=PracticeRead,
             responses=problem_responses(401, 403, 422))
async def create_practice(uow: UnitOfWorkDep, identity: Authenticated,
                          body: PracticeIn) -> ORJSONResponse:
    """Emits `practice.published` if it is published at once."""
    p = await service.create(uow, identity, body.model_dump(mode="python", exclude_none=True))
    return ORJSONResponse(service.out(p), status_code=201, headers={"ETag": etag(p)})


@router.get("/{practice_id}", summary="Read a good practice", response_model=PracticeRead,
            responses=problem_responses(404))
async def read_practice(practice_id: IdPath, session: SessionDep, identity: CurrentIdentity,
                        if_none_match: IfNoneMatch = None) -> Response:
    """With its ETag."""
    p = await service.load(session, practice_id, identity)
    if etag_matches(if_none_match, etag(p)):
        return Response(status_code=304, headers={"ETag": etag(p)})
    return ORJSONResponse(service.out(p), headers={"ETag": etag(p)})


@router.patch("/{practice_id}", summary="Change a good practice", response_model=PracticeRead,
              responses=problem_responses(401, 403, 404, 412, 422))
async def update_practice(practice_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                          body: PracticeIn, if_match: IfMatch = None) -> ORJSONResponse:
    """Maturity moves forward only (evaluated and beyond need evidence); emits events."""
    data = body.model_dump(mode="python", exclude_unset=True)
    p = await service.update(uow, identity, practice_id, data, if_match)
    return ORJSONResponse(service.out(p), headers={"ETag": etag(p)})


@router.post("/{practice_id}/adoptions", summary="Record an adoption", status_code=201,
             response_model=AdoptionRead,
             responses=problem_responses(401, 403, 404, 422))
async def record_adoption(practice_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                          body: AdoptionIn) -> ORJSONResponse:
    """An organisation took the practice up; emits `adoption.recorded`."""
    view = await adoptions.record(uow, identity, practice_id, body.model_dump(mode="python"))
    return ORJSONResponse(view, status_code=201)


@adoptions_router.get("", summary="List adoptions", response_model=Page[AdoptionRead],
                      responses=problem_responses(422))
async def list_adoptions(session: SessionDep, identity: CurrentIdentity, limit: Limit = 100,
                         cursor: Cursor = None, practice_id: CodeQuery = None,
                         organisation_id: CodeQuery = None, region: CodeQuery = None) -> ORJSONResponse:
    """Adoptions of the practices the caller may see (the spread of impact)."""
    items, total, nxt = await adoptions.list_page(session, identity, practice_id, organisation_id,
                                                  region, cursor, limit)
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})
