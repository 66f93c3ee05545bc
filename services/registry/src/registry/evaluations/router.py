"""Theme evaluations, recommendations, follow-ups and the continuation figure: HTTP only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse

from registry.evaluations import follow_ups, recommendations, service
from registry.evaluations.schemas import (
    Continuation,
    EvaluationIn,
    FollowUpIn,
    FollowUpRead,
    RecommendationIn,
    RecommendationRead,
    ThemeEvaluationRead,
    TransitionIn,
)
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeQuery, IdPath, IfMatch
from shared.pagination import Cursor, Limit, Page
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/theme-evaluations", tags=["theme evaluations"])
recommendations_router = APIRouter(prefix="/recommendations", tags=["theme evaluations"])
projects_router = APIRouter(prefix="/projects", tags=["theme evaluations"])
continuation_router = APIRouter(prefix="/continuation", tags=["theme evaluations"])

def _etag(view: dict) -> dict[str, str]:
    return {"ETag": f'"{view["id"]}:{view["version"]}"'}


@router.get("", summary="List theme evaluations", response_model=Page[ThemeEvaluationRead],
            responses=problem_responses(404, 422))
async def list_evaluations(session: SessionDep, identity: CurrentIdentity, limit: Limit = 50,
                           cursor: Cursor = None, theme_id: CodeQuery = None) -> ORJSONResponse:
    """In start order, each with its recommendations and their outcomes. Completed ones for
    everyone; ongoing ones for coordinators, admins and funders."""
    return ORJSONResponse(await service.list_page(session, identity, theme_id, cursor, limit))


@router.post("", summary="Record a theme evaluation", status_code=201, response_model=ThemeEvaluationRead,
             responses=problem_responses(401, 403, 422))
async def create_evaluation(uow: UnitOfWorkDep, identity: Authenticated,
                            body: EvaluationIn) -> ORJSONResponse:
    """Coordinators and admins; `theme_id`, `kind`, `evaluator`, `started` required; a completed
    one needs findings. Emits `theme_evaluation.recorded`."""
    view = await service.create(uow, identity, body.model_dump(mode="python", exclude_unset=True))
    return ORJSONResponse(view, status_code=201, headers=_etag(view))


@router.get("/{evaluation_id}", summary="Read a theme evaluation", response_model=ThemeEvaluationRead,
            responses=problem_responses(404))
async def read_evaluation(evaluation_id: IdPath, session: SessionDep,
                          identity: CurrentIdentity) -> ORJSONResponse:
    """With its recommendations, their links and every step towards their outcome."""
    e = await service.load(session, evaluation_id, identity)
    view = await service.full(session, identity, e)
    return ORJSONResponse(view, headers=_etag(view))


@router.patch("/{evaluation_id}", summary="Change a theme evaluation", response_model=ThemeEvaluationRead,
              responses=problem_responses(401, 403, 404, 412, 422))
async def update_evaluation(evaluation_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                            body: EvaluationIn, if_match: IfMatch = None) -> ORJSONResponse:
    """E.g. complete it with its findings; emits `theme_evaluation.updated` when anything changed."""
    view = await service.update(uow, identity, evaluation_id,
                                body.model_dump(mode="python", exclude_unset=True), if_match)
    return ORJSONResponse(view, headers=_etag(view))


@router.post("/{evaluation_id}/recommendations", summary="Record a recommendation",
             response_model=RecommendationRead,
             status_code=201, responses=problem_responses(401, 403, 404, 422))
async def create_recommendation(evaluation_id: IdPath, uow: UnitOfWorkDep,
                                identity: Authenticated, body: RecommendationIn) -> ORJSONResponse:
    """Coordinators and admins; every linked project and practice must exist. Emits
    `recommendation.recorded`."""
    view = await recommendations.create(uow, identity, evaluation_id,
                                        body.model_dump(mode="python"))
    return ORJSONResponse(view, status_code=201)


@recommendations_router.get("/{recommendation_id}", summary="Read a recommendation",
                            response_model=RecommendationRead,
                            responses=problem_responses(404))
async def read_recommendation(recommendation_id: IdPath, session: SessionDep,
                              identity: CurrentIdentity) -> ORJSONResponse:
    """With every step towards its outcome."""
    return ORJSONResponse(await recommendations.read(session, identity, recommendation_id))


@recommendations_router.post("/{recommendation_id}/transitions",
                             summary="Move a recommendation towards its outcome",
                             response_model=RecommendationRead,
                             responses=problem_responses(401, 403, 404, 409, 422))
async def transition_recommendation(recommendation_id: IdPath, uow: UnitOfWorkDep,
                                    identity: Authenticated, body: TransitionIn) -> ORJSONResponse:
    """proposed -> accepted | rejected; accepted -> in_progress | implemented | rejected;
    in_progress -> implemented | rejected. A rejection needs a note. Emits
    `recommendation.transitioned`."""
    return ORJSONResponse(await recommendations.transition(
        uow, identity, recommendation_id, body.model_dump(mode="python")))


@projects_router.get("/{project_id}/recommendations",
                     summary="Recommendations that concern a project",
                     response_model=Page[RecommendationRead], responses=problem_responses(404))
async def project_recommendations(project_id: IdPath, session: SessionDep,
                                  identity: CurrentIdentity) -> ORJSONResponse:
    """Linked to the project or to one of its practices, of the evaluations the caller may see;
    all on one page."""
    items = await recommendations.for_project(session, identity, project_id)
    return ORJSONResponse({"items": items, "total": len(items), "next_cursor": None})


@projects_router.post("/{project_id}/follow-ups", summary="Record a follow-up of an ended project",
                      status_code=201, response_model=FollowUpRead,
                      responses=problem_responses(401, 403, 404, 409, 422))
async def record_follow_up(project_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated,
                           body: FollowUpIn) -> ORJSONResponse:
    """At 6, 12 or 24 months after the end (from 31 days before), one per project and period:
    each of the project's practices still in use or not, and by whom. 409 if the project has not
    ended. Emits `follow_up.recorded`."""
    view = await follow_ups.record(uow, identity, project_id, body.model_dump(mode="python"))
    return ORJSONResponse(view, status_code=201)


@projects_router.get("/{project_id}/follow-ups", summary="A project's follow-ups",
                     response_model=Page[FollowUpRead], responses=problem_responses(404))
async def list_follow_ups(project_id: IdPath, session: SessionDep,
                          identity: CurrentIdentity) -> ORJSONResponse:
    """To those who may see the project (notes only to those who may see its private parts);
    at most three (6, 12, 24 months), all on one page."""
    items = await follow_ups.list_for(session, identity, project_id)
    return ORJSONResponse({"items": items, "total": len(items), "next_cursor": None})


@continuation_router.get("", summary="Practices of ended projects still in use",
                         response_model=Continuation, responses=problem_responses(404, 422))
async def continuation(session: SessionDep, identity: CurrentIdentity,
                       theme_id: CodeQuery = None,
                       months: Annotated[int, Query(ge=6, le=24, description="6, 12 or 24.")] = 12,
                       limit: Limit = 100, cursor: Cursor = None) -> ORJSONResponse:
    """How many practices from ended projects were still in use `months` after the end: the
    counts, the share, and the practices followed, `limit` a page."""
    return ORJSONResponse(await follow_ups.continuation(session, identity, theme_id, months, limit,
                                                        cursor))


ROUTERS = [router, recommendations_router, projects_router, continuation_router]
