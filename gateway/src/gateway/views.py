"""Composite views for frontends: one call that gathers what several services know.

Each part is fetched in parallel with the caller's own identity, so every service still
decides what this caller may see. A part whose service is down is reported as unavailable
instead of failing the whole view; only the registry's record is essential.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

import aiohttp
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from gateway.protection import retry_after
from shared.errors import AppError, NotFound, ServiceUnavailable, problem_responses
from shared.identity import Identity
from shared.jsonutil import loads
from shared.limits import IdPath
from shared.metrics import RATE_LIMITED, UPSTREAM_ERRORS

router = APIRouter(prefix="/api/v1/views", tags=["views"],
                   responses=problem_responses(401, 429, 503))


class TooManyRequests(AppError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


async def caller(request: Request) -> Identity:
    forwarder = request.app.state.forwarder
    identity = await forwarder.auth.identify(request.headers.get("authorization"),
                                             request.headers.get("x-api-key"))
    key = identity.sub if not identity.is_anonymous else (request.client.host if request.client
                                                          else "unknown")
    limits = forwarder.address_limits if identity.is_anonymous else forwarder.identity_limits
    wait = limits.take(key)
    if wait:
        RATE_LIMITED.labels("view").inc()
        raise TooManyRequests("too many requests; slow down",
                              headers={"Retry-After": retry_after(wait)})
    if identity.kind == "apikey" and not {"registry:read", "indicators:read",
                                          "comms:read"} <= set(identity.scopes):
        from shared.errors import Forbidden

        raise Forbidden("views need the read scopes of every service")
    return identity


Caller = Annotated[Identity, Depends(caller)]


async def _get(request: Request, identity: Identity, upstream: str, path: str,
               params: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, body) of one upstream GET; (503, None) when the service cannot be reached."""
    forwarder = request.app.state.forwarder
    ups = forwarder.upstreams
    breaker = ups.breakers[upstream]
    if breaker.allow():
        return 503, None
    headers = {"x-teke-identity": forwarder.signer.sign(identity),
               "x-request-id": request.headers.get("x-request-id", "")}
    try:
        status, data = await ups.get(upstream, path, params=params, headers=headers)
        body = loads(data) if data else None
        breaker.success()
        return status, body
    except (aiohttp.ClientError, TimeoutError, ValueError):
        breaker.failure()
        UPSTREAM_ERRORS.labels(upstream, "view").inc()
        return 503, None


class ProjectOverview(BaseModel):
    """A project as a frontend shows it: record, progress, recent communication."""

    project: dict[str, Any] = Field(description="The registry record (as this caller may see it).")
    progress: Any = Field(None, description="Indicator progress against targets.")
    communications: list[dict[str, Any]] | None = Field(
        None, description="The latest published content items about the project.")
    unavailable: list[str] = Field(default_factory=list,
                                   description="Parts left out because their service is down.")


@router.get("/projects/{project_id}", response_model=ProjectOverview, summary="Project overview",
            responses=problem_responses(404))
async def project_overview(project_id: IdPath, request: Request, identity: Caller) -> ProjectOverview:
    """The registry record, indicator progress and recent communications, in one call."""
    (ps, project), (gs, progress), (cs, content) = await asyncio.gather(
        _get(request, identity, "registry", f"/projects/{project_id}"),
        _get(request, identity, "indicators", "/analyses/progress", {"project_id": project_id}),
        _get(request, identity, "comms", "/content",
             {"project_id": project_id, "status": "published", "limit": 5}))
    if ps == 404:
        raise NotFound(f"no project {project_id}")
    if ps != 200:
        raise ServiceUnavailable("the registry is unavailable", headers={"Retry-After": "5"})
    unavailable = [name for name, status in (("indicators", gs), ("comms", cs)) if status >= 500]
    return ProjectOverview(
        project=project,
        progress=progress if gs == 200 else None,
        communications=(content or {}).get("items") if cs == 200 else None,
        unavailable=unavailable)


class Dashboard(BaseModel):
    """The national picture: projects by status and region, funding, progress."""

    projects: dict[str, Any] | None = None
    funding: dict[str, Any] | None = None
    progress_by_region_and_indicator: list[dict[str, Any]] | None = None
    unavailable: list[str] = Field(default_factory=list)


@router.get("/dashboard", response_model=Dashboard, summary="National dashboard")
async def dashboard(request: Request, identity: Caller,
                    theme_id: Annotated[str | None, Query(max_length=36)] = None) -> Dashboard:
    """Counts, budget and approved progress by region and indicator, in one call."""
    calls = [
        _get(request, identity, "registry", "/projects", {"limit": 1, "facets": "true"}),
        _get(request, identity, "indicators", "/analyses/rollup", {"group_by": "region,indicator"}),
    ]
    if theme_id:
        calls.append(_get(request, identity, "registry", f"/funding/themes/{theme_id}"))
    results = await asyncio.gather(*calls)
    (ps, projects), (rs, rollup) = results[0], results[1]
    funding = results[2][1] if theme_id and results[2][0] == 200 else None
    unavailable = sorted({name for name, status in (("registry", ps), ("indicators", rs))
                          if status >= 500})
    return Dashboard(
        projects={"total": projects.get("total"), "facets": projects.get("facets")}
        if ps == 200 else None,
        funding=funding,
        progress_by_region_and_indicator=(rollup.get("items") if isinstance(rollup, dict)
                                          else rollup) if rs == 200 else None,
        unavailable=unavailable)


class ThemeView(BaseModel):
    """A national theme as a whole, for the coordination project and the ministries.

    Each part is what this caller may see of it: `null` with the part's name in `withheld` when
    the caller has no right to it (the public sees no overlap report, for instance), in
    `unavailable` when its service is down."""

    theme: dict[str, Any] = Field(description="The theme record (contacts for national roles only).")
    goals: dict[str, Any] | None = Field(
        None, description="The theme's goals with their indicators, progress and the gaps in measuring.")
    funding: dict[str, Any] | None = Field(
        None, description="Budget frame against granted funding, by region, funder and call.")
    projects: dict[str, Any] | None = Field(
        None, description="The theme's projects: total, by kind and by status.")
    steering: dict[str, Any] | None = Field(
        None, description="Steering-group meetings this year and where the coordination project took part.")
    service_needs: dict[str, Any] | None = Field(
        None, description="Open service needs from the regions (not yet addressed or declined).")
    overlaps: dict[str, Any] | None = Field(
        None, description="Project pairs whose work may overlap, double-funding risks first.")
    evaluations: dict[str, Any] | None = Field(
        None, description="External evaluations of the theme and their recommendations.")
    practices: dict[str, Any] | None = Field(
        None, description="Good practices of the theme by maturity, and how far they spread.")
    continuation: dict[str, Any] | None = Field(
        None, description="Practices from ended projects still in use a year later.")
    withheld: list[str] = Field(default_factory=list,
                                description="Parts this caller has no right to see.")
    unavailable: list[str] = Field(default_factory=list,
                                   description="Parts left out because their service is down.")


def _theme_parts(theme_id: str, year: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Part name -> (service, path, query) of one upstream read."""
    t = {"theme_id": theme_id}
    return {
        "goals": ("indicators", f"/analyses/themes/{theme_id}/goals", {}),
        "funding": ("registry", f"/funding/themes/{theme_id}", {}),
        # The project list names its filter `theme` (as its other filters: region, funder...).
        "projects": ("registry", "/projects", {"theme": theme_id, "facets": "true", "limit": 1}),
        "steering": ("registry", "/steering-meetings/participation", {**t, "year": year}),
        "service_needs": ("registry", "/service-needs", {**t, "open": "true", "limit": 20}),
        "overlaps": ("registry", "/overlaps", {**t, "limit": 20}),
        "evaluations": ("registry", "/theme-evaluations", {**t, "limit": 20}),
        "practices": ("registry", "/practices/summary", t),
        "practice_list": ("registry", "/practices", {**t, "limit": 200}),
        "spread": ("indicators", "/analyses/spread", {}),
        "continuation": ("registry", "/continuation", {**t, "months": 12}),
    }


def _spread_of(practices: Any, spread: Any) -> dict[str, Any] | None:
    """The theme's practices' spread: adoptions and reach, summed over the theme's practices."""
    if not isinstance(practices, dict) or not isinstance(spread, dict):
        return None
    ids = {p.get("id") for p in practices.get("items", [])}
    rows = [r for r in spread.get("items", []) if r.get("practice_id") in ids]
    keys = ("adoptions", "within_origin", "beyond_origin")
    return {"practices_adopted": len(rows),
            **{k: sum(int(r.get(k) or 0) for r in rows) for k in keys},
            "by_practice": rows}


SteeringYear = Annotated[int | None, Query(ge=2000, le=2100,
                                           description="Steering-group year; this year if left out.")]


@router.get("/themes/{theme_id}", response_model=ThemeView, summary="Theme overview",
            responses=problem_responses(404))
async def theme_overview(theme_id: IdPath, request: Request, identity: Caller,
                         year: SteeringYear = None) -> ThemeView:
    """Goals with progress and gaps, budget frame against granted funding, projects by kind and
    status, steering-group participation, open service needs, overlap pairs, evaluations and
    their recommendations, practices by maturity, spread and continuation: the theme in one call.
    Every part is read with the caller's own identity, so each service's role rules hold."""
    parts = _theme_parts(theme_id, year or dt.date.today().year)
    results = await asyncio.gather(
        _get(request, identity, "registry", f"/themes/{theme_id}"),
        *(_get(request, identity, svc, path, params) for svc, path, params in parts.values()))
    (ts, theme), got = results[0], dict(zip(parts, results[1:], strict=True))
    if ts == 404:
        raise NotFound(f"no theme {theme_id}")
    if ts != 200:
        raise ServiceUnavailable("the registry is unavailable", headers={"Retry-After": "5"})
    body: dict[str, Any] = {"theme": theme, "withheld": [], "unavailable": []}
    for name, (status, data) in got.items():
        if name in ("practice_list", "spread"):
            continue
        if status == 200:
            body[name] = data
        elif status in (401, 403):
            body["withheld"].append(name)
        elif status >= 500:
            body["unavailable"].append(name)
    projects = body.get("projects")
    if isinstance(projects, dict):
        facets = projects.get("facets") or {}
        body["projects"] = {"total": projects.get("total"), "by_kind": facets.get("kind"),
                            "by_status": facets.get("status")}
    if isinstance(body.get("practices"), dict):
        body["practices"] = {**body["practices"],
                             "spread": _spread_of(got["practice_list"][1], got["spread"][1])}
    return ThemeView(**body)
