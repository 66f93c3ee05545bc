"""Project endpoints (HTTP only: parse, call the service, shape the response)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import ORJSONResponse
from pydantic import StringConstraints

from registry import access, exports
from registry.jobs import router as jobs
from registry.projects import export as pexport
from registry.projects import query as pquery
from registry.projects import reads, repository
from registry.projects.schemas import (
    ProjectCreate,
    ProjectPage,
    ProjectRead,
    ProjectUpdate,
    StatusChange,
)
from registry.projects.service import ProjectWrite
from registry.projects.service import project as project_service
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import export_response
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit
from shared.types import Code, IsoDate
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/projects", tags=["projects"])
Lang = Literal["fi", "sv", "en"]


def project_query(
    q: Annotated[str | None, Query(max_length=200, description="Full-text search (fi/sv/en).")] = None,
    search_lang: Annotated[Lang | None, Query(description="Search one language only.")] = None,
    status_: Annotated[list[Literal["planned", "active", "ended", "cancelled"]] | None,
                       Query(alias="status", max_length=4)] = None,
    kind: Annotated[list[Literal["development", "pilot", "coordination"]] | None,
                    Query(max_length=3, description="Project kinds.")] = None,
    region: Annotated[list[Annotated[str, StringConstraints(max_length=2, pattern=r"^\d{2}$")]] | None,
                      Query(max_length=limits.FILTER_VALUES, description="Maakunta codes.")] = None,
    theme: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    programme: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    funder: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    implementer: Annotated[list[Code] | None,
                           Query(max_length=limits.FILTER_VALUES,
                                 description="Lead implementer ids.")] = None,
    call: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    target_group: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    sub_theme: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    partner: Annotated[list[Code] | None, Query(max_length=limits.FILTER_VALUES)] = None,
    active_from: Annotated[IsoDate | None, Query(description="Term overlaps from this date.")] = None,
    active_to: Annotated[IsoDate | None, Query(description="Term overlaps up to this date.")] = None,
    # A number in the query string (declared as one, with its bounds, for generated clients);
    # compared as the exact decimal it spells.
    budget_min: Annotated[float | None, Query(ge=0, le=10**12, allow_inf_nan=False)] = None,
    budget_max: Annotated[float | None, Query(ge=0, le=10**12, allow_inf_nan=False)] = None,
    published: bool | None = None,
    include_archived: bool = False,
    sort: Annotated[str | None, Query(max_length=20, description="code, start_date, end_date, "
                                      "budget_total, updated_at, rank; '-' for descending")] = None,
) -> pquery.ProjectQuery:
    return pquery.ProjectQuery(
        q=q, lang=search_lang, status=status_ or [], kind=kind or [], region=region or [], theme=theme or [],
        programme=programme or [], funder=funder or [], implementer=implementer or [],
        call=call or [], target_group=target_group or [], sub_theme=sub_theme or [],
        partner=partner or [], active_from=active_from, active_to=active_to,
        budget_min=_exact(budget_min), budget_max=_exact(budget_max), published=published,
        include_archived=include_archived, sort=sort or ("-rank" if q else "code"))


def _exact(amount: float | None) -> Decimal | None:
    return None if amount is None else Decimal(repr(amount))


QueryDep = Annotated[pquery.ProjectQuery, Depends(project_query)]


@router.get("", summary="List and search projects", response_model=ProjectPage,
            responses=problem_responses(422))
async def list_projects(
        session: SessionDep, identity: CurrentIdentity, pq: QueryDep, limit: Limit = 50,
        cursor: Cursor = None, facets: bool = False, lang: Lang = "fi",
        facet_limit: Annotated[int | None, Query(
            ge=1, le=10_000, description="At most this many values a facet, the most frequent "
            "first; values the query filters on are always listed. Default: every value.")] = None,
) -> ORJSONResponse:
    """Filtered, searched, sorted projects a page at a time, with a total and optional facets."""
    rows, total, next_cursor, facet_counts = await pquery.run(
        session, identity, pq, limit=limit, cursor=cursor, with_facets=facets, lang=lang,
        facet_limit=facet_limit)
    page = ProjectPage.model_validate({"items": [pquery.summary(p, r) for p, r in rows],
                                       "total": total, "next_cursor": next_cursor,
                                       "facets": facet_counts})
    return ORJSONResponse(page.model_dump(mode="json", exclude_none=False))


# The columns and rows live in projects/export.py (the export job builds the same file).
EXPORT_COLUMNS, PERSONAL_COLUMN = pexport.EXPORT_COLUMNS, pexport.PERSONAL_COLUMN


@router.get("/export", summary="Export a filtered project list (CSV, XLSX, JSON)",
            responses={**exports.export_responses("Project", EXPORT_COLUMNS), **jobs.ACCEPTED,
                       **problem_responses(422)})
async def export_projects(request: Request, uow: UnitOfWorkDep, identity: CurrentIdentity,
                          pq: QueryDep, format: Literal["csv", "xlsx", "json"] = "csv",
                          lang: Lang = "fi", include_personal: bool = False,
                          max_rows: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
                          prefer: jobs.PreferHeader = None):
    """Any list the filters select, with code labels in `lang`; personal data only if allowed.

    More rows than the registry's `job_export_async_rows` (20,000 by default), or `Prefer:
    respond-async`, make the export a job (signed-in callers): 202 with `Location:
    /api/v1/jobs/{id}`; the finished job links to the file (`GET /jobs/{id}/result`)."""
    session = uow.session
    preferred = jobs.wants_async(prefer)
    if not identity.is_anonymous:
        _, total, _, _ = await pquery.run(session, identity, pq, limit=1, cursor=None,
                                          with_facets=False, lang=lang)
        if preferred or min(total, max_rows) > jobs.settings_of(request).job_export_async_rows:
            params = {"query": pexport.query_to_json(pq), "format": format, "lang": lang,
                      "include_personal": include_personal, "max_rows": max_rows}
            return await jobs.accept(uow, request, identity, "projects.export", params,
                                     min(total, max_rows), preferred=preferred)
    rows, _, _, _ = await pquery.run(session, identity, pq, limit=max_rows, cursor=None,
                                     with_facets=False, lang=lang)
    out, personal = await pexport.rows(session, identity, [p for p, _ in rows], lang,
                                       include_personal)
    return export_response(out, pexport.columns(personal), format, lang=lang, filename="projects")


@router.post("", summary="Create a project", status_code=status.HTTP_201_CREATED,
             response_model=ProjectRead, responses=problem_responses(401, 403, 409, 422))
async def create_project(uow: UnitOfWorkDep, identity: Authenticated,
                         body: ProjectCreate) -> Response:
    """Add a project; emits `project.created`."""
    written = await project_service.create(uow, identity, body)
    return await _project_response(uow.session, identity, written, status.HTTP_201_CREATED,
                                   {"Location": f"/api/v1/projects/{written.project.id}"})


async def _project_response(session, identity, written: ProjectWrite, code: int = 200,
                            headers: dict[str, str] | None = None, lang: str = "fi") -> Response:
    p, kids = written.project, written.children
    if kids is None:
        # Personal data is loaded only for those who may see it (funders decide that first).
        private = access.project_private(identity, p) or identity.has_role("funder")
        kids = await project_service.children(session, p.id, persons=private)
    objective = await repository.specific_objective(session, p.theme_id)
    return reads.project_response(identity, ProjectWrite(p, kids), code, headers, lang, objective)


@router.get("/{project_id}", summary="Read a project", response_model=ProjectRead,
            responses=problem_responses(404))
async def read_project(request: Request, project_id: IdPath, identity: CurrentIdentity,
                       if_none_match: IfNoneMatch = None, lang: Lang = "fi") -> Response:
    """One project with its ETag (send it back as If-Match when you change it); `labels` names
    its codes in `lang`."""
    return await reads.read(request, project_id, identity, if_none_match, lang)


@router.patch("/{project_id}", summary="Change a project", response_model=ProjectRead,
              responses=problem_responses(401, 403, 404, 409, 412, 422))
async def update_project(
    project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
    body: ProjectUpdate, if_match: IfMatch = None,
) -> Response:
    """Change some fields; emits `project.updated` (and `project.status_changed`) when anything changed."""
    p = await project_service.get(uow.session, project_id)  # 403 below if the caller may not edit it
    written = await project_service.update(uow, identity, p, body, if_match)
    return await _project_response(uow.session, identity, written)


@router.post("/{project_id}/status", summary="Move a project along its lifecycle",
             response_model=ProjectRead, responses=problem_responses(401, 403, 404, 409, 412, 422))
async def change_status(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                        body: StatusChange, if_match: IfMatch = None) -> Response:
    """planned -> active -> ended, or -> cancelled; the date and reason are kept."""
    p = await project_service.get(uow.session, project_id)
    update = ProjectUpdate(status=body.status, status_date=body.date, status_reason=body.reason)
    written = await project_service.update(uow, identity, p, update, if_match)
    return await _project_response(uow.session, identity, written)


@router.post("/{project_id}/archive", summary="Archive a project", response_model=ProjectRead,
             responses=problem_responses(401, 403, 404, 412))
async def archive_project(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                          if_match: IfMatch = None) -> Response:
    """Hide from lists, keep its history; emits `project.archived`."""
    p = await project_service.get(uow.session, project_id)
    written = await project_service.archive(uow, identity, p, if_match)
    return await _project_response(uow.session, identity, written)


@router.delete("/{project_id}/people/{person_id}", summary="Erase a person's data",
               status_code=204, responses=problem_responses(401, 403, 404))
async def erase_person(project_id: IdPath, person_id: IdPath, session: SessionDep,
                       identity: Authenticated) -> Response:
    """Erase a contact person or steering-group member on request."""
    p = await project_service.get(session, project_id, identity)
    await project_service.erase_person(session, identity, p, person_id)
    return Response(status_code=204)


@router.get("/{project_id}/history", summary="A project's change history",
            responses=problem_responses(403, 404))
async def project_history(project_id: IdPath, session: SessionDep,
                          identity: Authenticated) -> dict[str, Any]:
    """Every change: who, when, what changed (before/after); personal data never kept here."""
    p = await project_service.get(session, project_id, identity)
    if not access.project_private(identity, p, await project_service.past_funders(session, p.id)):
        raise access.hide("project", project_id)
    rows = await repository.history(session, p.id)
    return {"items": [{"version": h.version, "action": h.action, "actor": h.actor, "at": h.at,
                       "before": h.before, "after": h.after} for h in rows]}
