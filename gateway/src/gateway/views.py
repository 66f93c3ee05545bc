"""Composite views for frontends: one call that gathers what several services know.

Each part is fetched in parallel with the caller's own identity, so every service still
decides what this caller may see. A part whose service is down is reported as unavailable
instead of failing the whole view; only the registry's record is essential.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import aiohttp
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from gateway.protection import retry_after
from shared.errors import AppError, NotFound, problem_responses
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
        async with ups.sessions[upstream].get(ups.urls[upstream] + path, params=params,
                                              headers=headers) as resp:
            body = loads(await resp.read()) if resp.content_length != 0 else None
            breaker.success()
            return resp.status, body
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
        from shared.errors import ServiceUnavailable

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
