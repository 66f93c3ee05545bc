"""The reference data endpoints: regions, funding authorities and the code lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from registry import reference
from shared.errors import NotFound, problem_responses
from shared.limits import IdPath

router = APIRouter(prefix="/reference", tags=["reference"])


@router.get("/regions", summary="Regions (maakunnat)")
async def regions() -> dict[str, Any]:
    """Codes 01-21 (03 and 20 unused) with fi/sv/en names; not ISO 3166-2:FI."""
    return {"items": reference.regions()}


@router.get("/funding-authorities", summary="ELY centres and elinvoimakeskukset")
async def authorities() -> dict[str, Any]:
    """ELY centres to 31.12.2025 and elinvoimakeskukset from 1.1.2026, with regions covered."""
    return {"items": reference.funding_authorities()}


@router.get("/strategies", summary="Strategies a theme answers to")
async def strategies() -> dict[str, Any]:
    """EU country-specific recommendations 2019-2021, the government programme, the EU Recovery
    and Resilience Facility and TYÖ2030: fi/sv/en names and a link (`verified: false` where the
    link was not checked)."""
    return {"items": reference.strategies()}


@router.get("/{name}", summary="A code list", responses=problem_responses(404))
async def code_list(name: IdPath) -> dict[str, Any]:
    """target_groups, sub_themes, specific_objectives, organisation_kinds, statuses, budget_sources,
    project_kinds, ministries."""
    if name not in reference.LISTS:
        raise NotFound(f"no code list {name}; one of {', '.join(reference.LISTS)}")
    return {"items": reference.code_list(name)}
