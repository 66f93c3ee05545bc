"""Catalogue endpoints: one router shape for programmes, themes and calls, and the theme funding
overview.

No `from __future__ import annotations` here: the routes' body type is the factory's `schema`
argument, which FastAPI must see as a class, not as a name to resolve in the module."""

from fastapi import APIRouter, Response
from fastapi.responses import ORJSONResponse

from registry.catalogue import funding, service
from registry.catalogue.schemas import CallRead, ProgrammeRead, ThemeFunding, ThemeRead
from registry.catalogue.service import CALL, PROGRAMME, THEME, Kind
from registry.projects.service import etag, etag_matches
from registry.themes import service as theme_service
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit, Page
from shared.uow import UnitOfWorkDep

READS = {PROGRAMME.name: ProgrammeRead, THEME.name: ThemeRead, CALL.name: CallRead}


def make_router(kind: Kind, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[prefix.strip("/")])
    schema, read_model = kind.schema, READS[kind.name]
    plural, one = prefix.strip("/"), kind.name  # operation ids: list_themes, create_theme, ...

    def ok(obj, status_code: int = 200) -> ORJSONResponse:
        return ORJSONResponse(service.out(kind, obj), status_code=status_code,
                              headers={"ETag": etag(obj)})

    @router.get("", summary=f"List {plural}", name=f"list_{plural}", response_model=Page[read_model],
                responses=problem_responses(422))
    async def list_all(session: SessionDep, limit: Limit = 50, cursor: Cursor = None,
                       include_archived: bool = False) -> ORJSONResponse:
        """In code order, a page at a time."""
        items, total, nxt = await service.list_page(session, kind, include_archived, cursor, limit)
        return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})

    @router.post("", summary=f"Create a {one}", status_code=201, name=f"create_{one}",
                 response_model=read_model,
                 responses=problem_responses(401, 403, 409, 422))
    async def create(uow: UnitOfWorkDep, identity: Authenticated,
                     body: schema) -> ORJSONResponse:  # type: ignore[valid-type]
        """Coordinators and admins only."""
        data = body.model_dump(mode="python", exclude_none=True)
        return ok(await service.create(uow, identity, kind, data), 201)

    @router.get("/{obj_id}", summary=f"Read a {one}", name=f"read_{one}", response_model=read_model,
                responses=problem_responses(404))
    async def read(obj_id: IdPath, session: SessionDep, identity: CurrentIdentity,
                   if_none_match: IfNoneMatch = None) -> Response:
        """With its ETag; If-None-Match gives 304 when unchanged. A theme shows its contact
        `persons` to national roles (admin, coordinator, funder, ministry) only."""
        obj = await service.load(session, kind, obj_id)
        persons = await theme_service.persons_for(session, identity, obj.id) \
            if kind is THEME else None
        tag = etag(obj)  # a person added or erased moves the theme's version on
        if etag_matches(if_none_match, tag):
            return Response(status_code=304, headers={"ETag": tag})
        if persons is not None:
            return ORJSONResponse({**service.out(kind, obj), "persons": persons},
                                  headers={"ETag": tag, "Cache-Control": "private"})
        return ok(obj)

    @router.patch("/{obj_id}", summary=f"Change a {one}", name=f"update_{one}", response_model=read_model,
                  # 409: a changed code that another programme, theme or call already has.
                  responses=problem_responses(401, 403, 404, 409, 412, 422))
    async def patch(obj_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                    body: schema,  # type: ignore[valid-type]
                    if_match: IfMatch = None) -> ORJSONResponse:
        """Coordinators and admins only; If-Match guards against lost updates."""
        data = body.model_dump(mode="python", exclude_unset=True)
        return ok(await service.update(uow, identity, kind, obj_id, data, if_match))

    @router.post("/{obj_id}/archive", summary=f"Archive a {one}", name=f"archive_{one}",
                 response_model=read_model,
                 responses=problem_responses(401, 403, 404))
    async def archive(obj_id: IdPath, uow: UnitOfWorkDep,
                      identity: Authenticated) -> ORJSONResponse:
        """Hidden from lists, history kept."""
        return ok(await service.archive(uow, identity, kind, obj_id))

    return router


programmes_router = make_router(PROGRAMME, "/programmes")
themes_router = make_router(THEME, "/themes")
calls_router = make_router(CALL, "/calls")

funding_router = APIRouter(prefix="/funding", tags=["funding"])


@funding_router.get("/themes/{theme_id}", summary="A theme's budget frame against granted funding",
                    response_model=ThemeFunding, responses=problem_responses(404))
async def theme_funding(theme_id: IdPath, session: SessionDep, identity: CurrentIdentity) -> ORJSONResponse:
    """Granted = budgets of the theme's projects that are not cancelled or archived; by region
    (a project in several regions is split evenly), by funder and by call (against the call's budget)."""
    return ORJSONResponse(await funding.theme_overview(session, identity, theme_id))
