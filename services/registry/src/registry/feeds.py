"""The change feed, the funding overview and the reference data endpoints."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse
from sqlalchemy import or_, select, true

from registry import access, audit, reference
from registry.models import Call, Change, Project, Theme
from shared.db import SessionDep
from shared.errors import NotFound, problem_responses
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeQuery, IdPath

changes_router = APIRouter(prefix="/changes", tags=["changes"])
funding_router = APIRouter(prefix="/funding", tags=["funding"])
reference_router = APIRouter(prefix="/reference", tags=["reference"])


@changes_router.get("", summary="Change feed", responses=problem_responses(401))
async def changes(session: SessionDep, identity: Authenticated,
                  since: Annotated[int, Query(ge=0, le=2**62, description="The last seq you have.")] = 0,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                  entity_type: CodeQuery = None) -> ORJSONResponse:
    """Every create, update and archive in commit order after `since`; poll with `next_since`."""
    q = select(Change).where(Change.seq > since)
    if entity_type:
        q = q.where(Change.entity_type == entity_type)
    if not identity.is_national:
        conds = [Change.published.is_(True)]
        if identity.org:
            conds += [Change.organisation_id == identity.org, Change.funder_id == identity.org]
        q = q.where(or_(*conds))
    rows = (await session.scalars(q.order_by(Change.seq).limit(limit))).all()
    items = [{"seq": c.seq, "entity_type": c.entity_type, "entity_id": c.entity_id,
              "action": c.action, "version": c.version, "at": c.at, "state": c.state}
             for c in rows]
    return ORJSONResponse({"items": audit.jsonable(items),
                           "next_since": rows[-1].seq if rows else since})


def _split(amount: Decimal, n: int) -> list[Decimal]:
    """An amount split over n regions exactly (cents; the remainder goes to the first)."""
    share = (amount / n).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return [amount - share * (n - 1), *([share] * (n - 1))]


@funding_router.get("/themes/{theme_id}", summary="A theme's budget frame against granted funding",
                    responses=problem_responses(404))
async def theme_funding(theme_id: IdPath, session: SessionDep, identity: CurrentIdentity) -> ORJSONResponse:
    """Granted = budgets of the theme's projects that are not cancelled or archived; by region
    (a project in several regions is split evenly), by funder and by call (against the call's budget)."""
    theme = await session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(f"no theme {theme_id}")
    rows = (await session.execute(select(
        Project.id, Project.budget_total, Project.region_codes, Project.funder_id, Project.call_id)
        .where(Project.theme_id == theme.id, Project.archived.is_(False),
               Project.status != "cancelled",
               access.project_filter(identity) if not identity.is_national else true()))).all()
    zero = Decimal("0.00")
    granted, by_region, by_funder, by_call = zero, {}, {}, {}
    for _pid, budget, regions, funder, call in rows:
        amount = budget or zero
        granted += amount
        regs = list(regions or []) or [None]
        for code, share in zip(regs, _split(amount, len(regs)), strict=True):
            by_region[code] = by_region.get(code, zero) + share
        by_funder[funder] = by_funder.get(funder, zero) + amount
        by_call[call] = by_call.get(call, zero) + amount
    calls = {c.id: c for c in (await session.scalars(select(Call).where(
        Call.id.in_([k for k in by_call if k])))).all()}
    frame = theme.budget
    return ORJSONResponse(audit.jsonable({
        "theme_id": theme.id, "name": theme.name, "budget_frame": frame, "granted": granted,
        "remaining": (frame - granted) if frame is not None else None,
        "projects": len(rows),
        "by_region": [{"region_code": k, "label": reference.label("regions", k, "fi") if k else None,
                       "granted": v} for k, v in sorted(by_region.items(), key=lambda x: x[0] or "")],
        "by_funder": [{"funder_id": k, "granted": v} for k, v in by_funder.items()],
        "by_call": [{"call_id": k, "granted": v,
                     "call_budget": calls[k].budget if k in calls else None} for k, v in by_call.items()],
    }))


@reference_router.get("/regions", summary="Regions (maakunnat)")
async def regions() -> dict[str, Any]:
    """Codes 01-21 (03 and 20 unused) with fi/sv/en names; not ISO 3166-2:FI."""
    return {"items": reference.regions()}


@reference_router.get("/funding-authorities", summary="ELY centres and elinvoimakeskukset")
async def authorities() -> dict[str, Any]:
    """ELY centres to 31.12.2025 and elinvoimakeskukset from 1.1.2026, with regions covered."""
    return {"items": reference.funding_authorities()}


@reference_router.get("/{name}", summary="A code list", responses=problem_responses(404))
async def code_list(name: IdPath) -> dict[str, Any]:
    """target_groups, sub_themes, specific_objectives, organisation_kinds, statuses, budget_sources."""
    if name not in reference.LISTS:
        raise NotFound(f"no code list {name}; one of {', '.join(reference.LISTS)}")
    return {"items": reference.code_list(name)}
