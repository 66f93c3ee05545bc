"""Indicator catalogue: definitions as data, versions with validity dates, organisation figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from indicators.catalogue import service as catalogue_service
from indicators.catalogue.schemas import DefinitionIn, DefinitionOut, FigureOut, FiguresIn
from indicators.common import EXPORTABLE, ExportFormat
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import MAX_PAGE, Cursor, Limit, Page, page_of

router = APIRouter(prefix="/indicators", tags=["catalogue"])
EXPORT_COLUMNS = [Column(k, {"fi": k, "en": k}) for k in (
    "code", "version", "name", "family", "measure", "unit", "aggregation", "min_value",
    "max_value", "disaggregations", "parts", "valid_from", "valid_to")]


@router.get("/definitions", summary="The indicator catalogue", response_model=Page[DefinitionOut],
            responses={**EXPORTABLE, **problem_responses(422)})
async def list_definitions(
    session: SessionDep,
    family: Annotated[str | None, Query(max_length=30)] = None,
    all_versions: bool = False,
    format: ExportFormat = None,
    lang: Annotated[str, Query(max_length=limits.CODE, pattern="^(fi|sv|en)$")] = "fi",
    limit: Limit = MAX_PAGE,
    cursor: Cursor = None,
):
    """Definitions in force (or every version), optionally of one family; exportable (an export
    holds them all). The catalogue is short: the first page holds it unless `limit` is set."""
    defs = await catalogue_service.list_definitions(session, family, all_versions)
    if format:
        items = [DefinitionOut.model_validate(d).model_dump(mode="json") for d in defs]
        return export_response(items, EXPORT_COLUMNS, format, lang=lang, filename="indicators")
    page, nxt = page_of(defs, limit, cursor)
    return Page[DefinitionOut](items=[DefinitionOut.model_validate(d) for d in page],
                               total=len(defs), next_cursor=nxt)


@router.get("/definitions/{code}", summary="One indicator with its versions",
            responses=problem_responses(404))
async def read_definition(code: IdPath, session: SessionDep) -> dict:
    """The version in force and the full version history."""
    cur, versions = await catalogue_service.versions(session, code)
    return {"current": DefinitionOut.model_validate(cur).model_dump(mode="json"),
            "versions": [DefinitionOut.model_validate(v).model_dump(mode="json") for v in versions]}


@router.post("/definitions", summary="Add an indicator or a new version of one",
             status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422))
async def create_definition(body: DefinitionIn, session: SessionDep,
                            identity: Authenticated) -> DefinitionOut:
    """Coordinators add programme-specific and custom indicators, or version existing ones
    (a new version closes the previous one the day before it starts)."""
    return DefinitionOut.model_validate(
        await catalogue_service.create_definition(session, identity, body))


@router.put("/organisation-figures", summary="Record organisation-level figures (productivity)",
            responses=problem_responses(401, 403, 404, 422))
async def put_figures(body: FiguresIn, session: SessionDep, identity: Authenticated) -> dict:
    """Figures per participating organisation and period (e.g. value added per FTE);
    the latest value for an organisation, indicator and period wins."""
    return {"stored": await catalogue_service.put_figures(session, identity, body)}


@router.get("/organisation-figures", summary="Organisation-level figures",
            response_model=Page[FigureOut], responses={**EXPORTABLE, **problem_responses(401, 403, 422)})
async def list_figures(session: SessionDep, identity: Authenticated,
                       organisation_id: Annotated[str | None, Query(max_length=36)] = None,
                       format: ExportFormat = None,
                       limit: Limit = 50, cursor: Cursor = None):
    """Figures per organisation (national roles see all; others their own organisation's), by
    organisation, indicator and period; an export holds them all."""
    items = await catalogue_service.list_figures(session, identity, organisation_id)
    if format:
        keys = ["organisation_id", "indicator_code", "period", "value", "updated_at"]
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in keys], format,
                               filename="organisation-figures")
    page, nxt = page_of(items, limit, cursor)
    return Page[FigureOut](items=page, total=len(items), next_cursor=nxt)
