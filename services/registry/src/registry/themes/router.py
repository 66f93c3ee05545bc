"""A theme's contact persons: list, add, erase (the theme itself: catalogue/router.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import ORJSONResponse

from registry.catalogue.schemas import ThemeCallRead
from registry.themes import service
from registry.themes.schemas import ThemePersonIn, ThemePersonRead
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import Page
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/themes", tags=["themes"])


@router.get("/{theme_id}/persons", summary="A theme's contact persons",
            response_model=Page[ThemePersonRead], responses=problem_responses(401, 403, 404))
async def list_theme_persons(theme_id: IdPath, session: SessionDep,
                             identity: Authenticated) -> ORJSONResponse:
    """National roles only (admin, coordinator, funder, ministry): personal data. All on one
    page."""
    items = await service.persons_list(session, identity, theme_id)
    return ORJSONResponse({"items": items, "total": len(items), "next_cursor": None})


@router.get("/{theme_id}/calls", summary="The calls a theme takes part in",
            response_model=Page[ThemeCallRead], responses=problem_responses(404))
async def theme_calls(theme_id: IdPath, session: SessionDep) -> ORJSONResponse:
    """Joint calls included, each with `shared_with` (its other themes): a joint call counts
    under each of its themes, its budget once (see GET /funding/themes/{id}). All on one page."""
    items = await service.calls_of(session, theme_id)
    return ORJSONResponse({"items": items, "total": len(items), "next_cursor": None})


@router.post("/{theme_id}/persons", summary="Add a theme's contact person", status_code=201,
             response_model=ThemePersonRead, responses=problem_responses(401, 403, 404, 422))
async def add_theme_person(theme_id: IdPath, body: ThemePersonIn, uow: UnitOfWorkDep,
                     identity: Authenticated) -> dict[str, Any]:
    """Admins and coordinators; `ministry` (TEM, STM, OKM) is required for role ministry."""
    return await service.add(uow, identity, theme_id, body.model_dump(mode="python"))


@router.delete("/{theme_id}/persons/{person_id}", summary="Erase a theme's contact person",
               status_code=204, responses=problem_responses(401, 403, 404))
async def erase_theme_person(theme_id: IdPath, person_id: IdPath, uow: UnitOfWorkDep,
                       identity: Authenticated) -> Response:
    """Erase a person's data on request (admins and coordinators)."""
    await service.erase(uow, identity, theme_id, person_id)
    return Response(status_code=204)
