"""Analysis endpoints: progress against targets, rollups, the EU-style report, well-being and
productivity together, and the spread of practices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from indicators.analyses import progress as progress_analysis
from indicators.analyses import spread as spread_analysis
from indicators.analyses import wellbeing as wellbeing_analysis
from indicators.analyses.schemas import EuReport, Progress, Rollup, Spread, WellbeingProductivity
from indicators.common import EXPORTABLE, ExportFormat
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeStr

router = APIRouter(prefix="/analyses", tags=["analyses"])
R = problem_responses(401, 403, 404, 422)
EU_COLUMNS = ["specific_objective", "indicator_code", "name", "women", "men", "non_binary", "total"]


def _cols(keys: list[str]) -> list[Column]:
    return [Column(k, {"fi": k, "en": k}) for k in keys]


@router.get("/progress", summary="Progress against targets for a project", response_model=Progress,
            responses={**EXPORTABLE, **R})
async def progress(session: SessionDep, identity: Authenticated,
                   project_id: Annotated[str, Query(max_length=36)], format: ExportFormat = None):
    """Baseline, target and the approved value so far, with progress in %."""
    items = await progress_analysis.progress(session, identity, project_id)
    if format:
        return export_response(items, _cols(list(items[0]) if items else ["indicator_code"]),
                               format, filename="progress")
    return {"project_id": project_id, "items": items}


# exclude_unset: a row carries only the keys it was grouped by.
@router.get("/rollup", summary="Approved values rolled up", response_model=Rollup,
            response_model_exclude_unset=True, responses={**EXPORTABLE, **R})
async def rollup_view(
    session: SessionDep,
    group_by: Annotated[str, Query(max_length=80, description="comma list of: "
                                   + ", ".join(progress_analysis.DIMS))]
    = "region,indicator,year",
    indicator_code: Annotated[list[CodeStr] | None, Query(max_length=50)] = None,
    region: Annotated[str | None, Query(max_length=4)] = None,
    funder: Annotated[str | None, Query(max_length=36)] = None,
    theme: Annotated[str | None, Query(max_length=36)] = None,
    programme: Annotated[str | None, Query(max_length=36)] = None,
    year_from: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    format: ExportFormat = None,
):
    """Approved figures only (public), by any of indicator, year, period, region, funder,
    theme, programme: a time series when grouped by year or period. Read from the
    pre-aggregated table kept current as reports are approved. A project in several regions
    counts in each, so region figures do not add up to the national total."""
    keys = progress_analysis.rollup_keys(group_by, indicator_code)
    items = await progress_analysis.rollup_items(
        session, keys, indicator_code,
        {"region": region, "funder": funder, "theme": theme, "programme": programme},
        year_from, year_to)
    if format:
        return export_response(items, _cols([*keys, "value", "n", "aggregation"]), format,
                               filename="rollup")
    return {"group_by": keys, "items": items, "total": len(items)}


@router.get("/eu-report", summary="Common indicators for an EU cut-off", response_model=EuReport,
            responses={**EXPORTABLE, **R})
async def eu_report(session: SessionDep, identity: Authenticated,
                    cutoff: Annotated[str, Query(max_length=limits.CODE, pattern=r"^(19|20|21)\d{2}(06|12)$",
                                                 description="YYYY06 or YYYY12")],
                    format: ExportFormat = None, lang: Annotated[str, Query(max_length=limits.CODE,
                                                                   pattern="^(fi|sv|en)$")] = "en"):
    """ESF+ common indicators (EECO/EECR), cumulative approved values up to the cut-off, by
    ESF+ specific objective (e.g. ESO4.7, from the registry's project events) and gender;
    composites from their parts. Projects whose specific objective is not known are counted
    under the row `unknown`, never dropped."""
    end = progress_analysis.cutoff_end(cutoff)
    items = await progress_analysis.eu_report(session, identity, end, lang)
    if format:
        return export_response(items, _cols(EU_COLUMNS), format, filename=f"esf-common-indicators-{cutoff}")
    return {"cutoff": cutoff, "period_end": end, "items": items}


@router.get("/wellbeing-productivity", summary="Well-being and productivity together",
            response_model=WellbeingProductivity, response_model_exclude_unset=True,
            responses={**EXPORTABLE, **R})
async def wellbeing_productivity(
    request: Request, session: SessionDep, identity: CurrentIdentity,
    instrument: Annotated[str, Query(max_length=40)] = "UWES-9",
    productivity_indicator: Annotated[str, Query(max_length=40)] = "PROD_VALUE_ADDED_FTE",
    wellbeing_min_effect: Annotated[float | None, Query(ge=0, le=5)] = None,
    productivity_min_change_pct: Annotated[float | None, Query(ge=0, le=1000)] = None,
    group_by: Annotated[str, Query(max_length=limits.CODE, pattern="^(project|region|theme)$")] = "project",
    format: ExportFormat = None,
):
    """For each organisation with two or more rounds and productivity figures for the
    matching periods: first vs latest round. Well-being improved when Cohen's d reaches the
    threshold; productivity when the relative change reaches its threshold (in the better
    direction). Counts and shares per group; the per-organisation list only for national roles."""
    settings = request.app.state.settings
    th = wellbeing_analysis.Thresholds(
        settings.wellbeing_min_effect_size if wellbeing_min_effect is None else wellbeing_min_effect,
        settings.productivity_min_change_pct if productivity_min_change_pct is None
        else productivity_min_change_pct,
        settings.privacy_min_respondents)
    result = await wellbeing_analysis.wellbeing_productivity(
        session, instrument, productivity_indicator, th, group_by, identity.is_national)
    if format:
        classes = wellbeing_analysis.CLASSES
        keys = [group_by, "organisations", *classes, *[f"{c}_share" for c in classes]]
        return export_response(result["groups"], _cols(keys), format, filename="wellbeing-productivity")
    return result


@router.get("/spread", summary="Spread of practices", response_model=Spread,
            responses={**EXPORTABLE, **R})
async def spread(session: SessionDep,
                 practice_id: Annotated[str | None, Query(max_length=36)] = None,
                 interval: Annotated[str, Query(max_length=limits.CODE,
                                                pattern="^(year|half|quarter)$")] = "year",
                 format: ExportFormat = None):
    """Adoptions over time, organisations and regions reached, within the originating
    projects' organisations or beyond them, and by scope (from the registry's events)."""
    items = await spread_analysis.spread(session, practice_id, interval)
    if format:
        keys = ["practice_id", "adoptions", "organisations_reached", "regions_reached",
                "within_origin", "beyond_origin"]
        return export_response(items, _cols(keys), format, filename="spread")
    return {"items": items, "total": len(items)}
