"""Similar projects and the national overlap report (synergy and overlap, issue 14)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse

from registry import exports
from registry.overlap import background, service
from registry.overlap.export import COLUMNS, row
from registry.overlap.schemas import Freshness, OverlapReport, RebuildAccepted, RebuildIn
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import export_response
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeQuery, IdPath
from shared.pagination import Cursor

similar_router = APIRouter(prefix="/projects", tags=["overlap"])
router = APIRouter(prefix="/overlaps", tags=["overlap"])

SimilarLimit = Annotated[int, Query(ge=1, le=50, description="How many (at most 50).")]
ReportLimit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
MinScore = Annotated[float | None, Query(ge=0, le=1, description="Pairs at or above this score "
                                                                  "(double-funding risks always).")]
Region = Annotated[str | None, Query(max_length=2, pattern=r"^\d{2}$", description="Maakunta code.")]


@similar_router.get("/{project_id}/similar", summary="The most similar other projects",
                    responses=problem_responses(404, 422))
async def similar_projects(project_id: IdPath, session: SessionDep, identity: CurrentIdentity,
                           limit: SimilarLimit = 10) -> dict[str, Any]:
    """Any theme, any period, with the reasons (text, target groups, sub-themes, regions,
    organisations, shared workplaces); a shared workplace in overlapping terms is flagged as a
    double-funding risk (shown to those who may see both projects' workplaces)."""
    return await service.similar(session, identity, project_id, limit)


@router.get("", summary="The national overlap report", response_model=OverlapReport,
            responses=problem_responses(401, 403, 422))
async def overlap_report(session: SessionDep, identity: Authenticated, theme_id: CodeQuery = None,
                         region: Region = None, min_score: MinScore = None, limit: ReportLimit = 50,
                         cursor: Cursor = None) -> ORJSONResponse:
    """Precomputed pairs, double-funding risks first, then by score; with the report's freshness.
    Coordinators and admins see all, funders the pairs with a project they fund."""
    page = await service.report(session, identity, theme_id, region, min_score, cursor, limit)
    return ORJSONResponse(page)


@router.get("/export", summary="Export the national overlap report (CSV, XLSX, JSON)",
            responses={**exports.export_responses("Overlap", COLUMNS),
                       **problem_responses(401, 403, 422)})
async def export_overlaps(session: SessionDep, identity: Authenticated,
                          format: exports.Format = "csv", lang: exports.Lang = "fi",
                          theme_id: CodeQuery = None, region: Region = None,
                          min_score: MinScore = None,
                          max_rows: Annotated[int, Query(ge=1, le=100_000)] = 100_000):
    """The report's pairs (its filters), in its order."""
    rows = await service.export(session, identity, theme_id, region, min_score, max_rows)
    names = await exports.organisation_names(session, (
        r.get("organisation_id") for p in rows for r in p["reasons"]))
    return export_response([row(p, lang, names) for p in rows], COLUMNS, format, lang=lang,
                           filename="overlaps")


@router.get("/freshness", summary="When the overlap report was built", response_model=Freshness,
            responses=problem_responses(401, 403))
async def overlap_freshness(session: SessionDep, identity: Authenticated) -> ORJSONResponse:
    """Built at, from which change-feed seq, and how many project changes since."""
    service.require_reader(identity)
    return ORJSONResponse(await service.freshness(session))


@router.post("/rebuild", summary="Ask for a rebuild of the national overlap report",
             status_code=202, response_model=RebuildAccepted,
             responses=problem_responses(401, 403, 422))
async def rebuild_overlaps(body: RebuildIn, session: SessionDep,
                           identity: Authenticated) -> ORJSONResponse:
    """Coordinators and admins. The build runs behind the request (minutes at national size):
    202 with the report's freshness as it is now; `GET /overlaps/freshness` shows when it is
    done. `incremental`: only the pairs of the projects changed since the last build. The build
    emits `overlap.double_funding_flagged` for new double-funding pairs and
    `overlap_report.rebuilt`."""
    service.require_rebuilder(identity)
    background.ask(body.incremental)
    return ORJSONResponse({"accepted": True, "incremental": body.incremental,
                           "freshness": await service.freshness(session)}, status_code=202,
                          headers={"Location": "/api/v1/overlaps/freshness"})
