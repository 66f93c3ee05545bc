"""Organisation endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import ORJSONResponse
from pydantic import Field

from registry import exports
from registry.organisations import service
from registry.organisations.schemas import (
    Kind,
    OrganisationIn,
    OrganisationRead,
    Succession,
    SuccessionRead,
)
from registry.projects.service import etag, etag_matches
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import export_response
from shared.identity import Authenticated
from shared.limits import CodeQuery, IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit, Page
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/organisations", tags=["organisations"])


@router.get("", summary="List organisations", response_model=Page[OrganisationRead],
            responses=problem_responses(422))
async def list_organisations(session: SessionDep, limit: Limit = 50, cursor: Cursor = None,
                             kind: Kind | None = None, region: CodeQuery = None,
                             business_id: CodeQuery = None,
                             q: Annotated[str | None, Field(max_length=100)] = None) -> ORJSONResponse:
    """Filter by kind, region, business ID or a name fragment; in id order."""
    items, total, nxt = await service.list_page(session, kind, region, business_id, q, cursor, limit)
    return ORJSONResponse({"items": items, "total": total, "next_cursor": nxt})


@router.get("/export", summary="Export organisations (CSV, XLSX, JSON)",
            responses={**exports.export_responses("Organisation", exports.ORGANISATION_COLUMNS),
                       **problem_responses(422)})
async def export_organisations(session: SessionDep, format: exports.Format = "csv",
                               lang: exports.Lang = "fi", kind: Kind | None = None,
                               region: Annotated[str | None, Query(max_length=2)] = None,
                               business_id: Annotated[str | None, Query(max_length=9)] = None,
                               q: Annotated[str | None, Query(max_length=100)] = None,
                               max_rows: Annotated[int, Query(ge=1, le=100_000)] = 100_000):
    """The organisations the list's filters select, code labels in `lang` (no personal data)."""
    rows = await service.export(session, kind, region, business_id, q, max_rows)
    names = await exports.organisation_names(session, (o.successor_id for o in rows))
    return export_response([exports.organisation_row(o, lang, names) for o in rows],
                           exports.ORGANISATION_COLUMNS, format, lang=lang,
                           filename="organisations")


@router.post("", summary="Add an organisation", status_code=201, response_model=OrganisationRead,
             responses=problem_responses(401, 403, 409, 422))
async def create_organisation(uow: UnitOfWorkDep, identity: Authenticated,
                              body: OrganisationIn) -> ORJSONResponse:
    """Emits `organisation.created`. Business IDs are checked (format and check digit)."""
    o = await service.create(uow, identity, body.model_dump(mode="python", exclude_none=True))
    return ORJSONResponse(service.out(o), status_code=201, headers={"ETag": etag(o)})


@router.get("/{org_id}", summary="Read an organisation", response_model=OrganisationRead,
            responses=problem_responses(404))
async def read_organisation(org_id: IdPath, session: SessionDep,
                            if_none_match: IfNoneMatch = None) -> Response:
    """With its ETag; 304 when If-None-Match still matches."""
    o = await service.load(session, org_id)
    if etag_matches(if_none_match, etag(o)):
        return Response(status_code=304, headers={"ETag": etag(o)})
    return ORJSONResponse(service.out(o), headers={"ETag": etag(o)})


@router.patch("/{org_id}", summary="Change an organisation", response_model=OrganisationRead,
              responses=problem_responses(401, 403, 404, 409, 412, 422))
async def update_organisation(org_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                              body: OrganisationIn, if_match: IfMatch = None) -> ORJSONResponse:
    """Coordinators/admins, or the organisation's own users; emits `organisation.updated`."""
    data = body.model_dump(mode="python", exclude_unset=True)
    o = await service.update(uow, identity, org_id, data, if_match)
    return ORJSONResponse(service.out(o), headers={"ETag": etag(o)})


@router.post("/{org_id}/succession", summary="Record that another organisation succeeded this one",
             response_model=SuccessionRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def succeed(org_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                  body: Succession) -> ORJSONResponse:
    """E.g. an ELY centre replaced by an elinvoimakeskus on 1.1.2026. Projects funded by the
    predecessor and running on that date get a new dated funder period with the successor."""
    o, moved = await service.succeed(uow, identity, org_id, body.successor_id, body.date)
    return ORJSONResponse({**service.out(o), "projects_moved": moved})
