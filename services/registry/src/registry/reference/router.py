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


@router.get("/code-lists", summary="Every code list with its labels")
async def code_lists() -> dict[str, Any]:
    """Each registry code list by name: its codes with fi/sv/en labels (and `verified` where a
    list marks what was not checked against its source). The same lists as /reference/{name}."""
    shipped = [{"name": name, "items": reference.items(name)} for name in reference.ALL_LISTS]
    return {"items": shipped + [{"name": name, "items": [{"code": c, **lab} for c, lab in table.items()]}
                                for name, table in _module_lists().items()]}


def _module_lists() -> dict[str, dict[str, dict[str, str]]]:
    """Code lists kept beside their exports (organisations, practices, outputs, lessons,
    overlap reasons)."""
    from registry import exports
    from registry.outputs import exports as outputs
    from registry.overlap import export as overlap

    return {"organisation_sectors": exports.SECTORS, "organisation_size_classes": exports.SIZES,
            "practice_kinds": exports.PRACTICE_KINDS, "practice_maturities": exports.MATURITIES,
            "output_kinds": outputs.OUTPUT_KINDS, "output_languages": outputs.LANGUAGES,
            "lesson_kinds": outputs.LESSON_KINDS, "lesson_audiences": outputs.AUDIENCES,
            "lesson_topics": outputs.TOPICS, "overlap_reason_kinds": overlap.REASON_KINDS}


@router.get("/list-of-operations", summary="The fields of the EU list of operations")
async def list_of_operations_fields() -> dict[str, Any]:
    """The columns of /operations/export (Regulation (EU) 2021/1060, Article 49(3)): key,
    fi/sv/en headings, where TEKE takes each value from, and `verified` with the reason."""
    return reference.list_of_operations()


@router.get("/{name}", summary="A code list", responses=problem_responses(404))
async def code_list(name: IdPath) -> dict[str, Any]:
    """target_groups, sub_themes, specific_objectives, organisation_kinds, statuses, budget_sources,
    project_kinds, ministries, intervention_types (CPR Annex I intervention fields)."""
    if name not in reference.LISTS:
        raise NotFound(f"no code list {name}; one of {', '.join(reference.LISTS)}")
    return {"items": reference.code_list(name)}
