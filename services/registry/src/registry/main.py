"""Registry service: the project registry (source of truth for who does what, where)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from registry.catalogue.router import calls_router, funding_router, programmes_router, themes_router
from registry.changes.router import router as changes_router
from registry.config import Settings
from registry.coordination.router import routers as coordination_routers
from registry.evaluations import router as evaluations
from registry.jobs.router import admin_router as job_quota_router
from registry.jobs.router import router as jobs_router
from registry.jobs.worker import job_worker
from registry.models import metadata
from registry.operations.router import router as operations_router
from registry.organisations.router import router as organisations_router
from registry.outputs.router import lessons_router, outputs_router
from registry.outputs.router import router as project_outputs_router
from registry.overlap.background import refresher as overlap_refresher
from registry.overlap.router import router as overlap_router
from registry.overlap.router import similar_router
from registry.practices.router import adoptions_router
from registry.practices.router import router as practices_router
from registry.projects import index as pindex
from registry.projects import reads
from registry.projects.imports.router import router as import_router
from registry.projects.router import router as projects_router
from registry.projects.workplaces.router import router as workplaces_router
from registry.reference.router import router as reference_router
from registry.themes.router import router as theme_persons_router
from shared import memory
from shared.contracts import registry as contracts
from shared.logging import get_logger
from shared.service import ServiceSpec, create_service_app

log = get_logger("registry")

spec = ServiceSpec(
    name="registry",
    title="TEKE registry",
    description="Programmes, themes, organisations, projects, good practices and their spread.",
    metadata=metadata,
    settings_factory=Settings,
    # The import route comes before /projects/{id} so "import" is not taken for an id.
    routers=[import_router, projects_router, workplaces_router, organisations_router,
             programmes_router, themes_router, calls_router, practices_router, adoptions_router,
             changes_router, funding_router, reference_router, theme_persons_router,
             project_outputs_router, outputs_router, lessons_router, *evaluations.ROUTERS,
             similar_router, overlap_router, *coordination_routers, operations_router,
             jobs_router, job_quota_router],
    produces=contracts.STREAM,
)


class SqliteRequestQueue:
    """On SQLite (the embedded default) requests take the database one at a time, in arrival order.

    SQLite has one writer at a time and every transaction here starts with BEGIN IMMEDIATE;
    waiting writers poll with growing sleeps (up to 100 ms), so under load an unlucky request
    can lose the race for seconds. Queuing in the process instead is fair and wastes nothing.
    PostgreSQL needs none of this.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.lock = asyncio.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz"):
            return await self.app(scope, receive, send)
        async with self.lock:
            return await self.app(scope, receive, send)


@asynccontextmanager
async def index_warmer(state: dict[str, Any]) -> AsyncIterator[None]:
    """Builds the project index at start, not in the first list request (~3 s at 100k)."""
    warm = asyncio.create_task(_warm_index(state["sessionmaker"])) if pindex.enabled else None
    try:
        yield
    finally:
        if warm is not None:
            warm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warm


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    pindex.enabled = settings.search_index
    reads.cache = reads.ReadCache(settings.read_cache_size)
    app = create_service_app(spec, settings, background=[index_warmer, overlap_refresher,
                                                             job_worker])
    if settings.database_url.startswith("sqlite"):
        app.add_middleware(SqliteRequestQueue)
    return app


async def _warm_index(sessionmaker) -> None:
    try:
        async with sessionmaker() as session:
            await pindex.for_session(session).sync(session)
    except Exception:  # a list request builds it then; the service runs either way
        log.warning("registry.index_warm_failed", exc_info=True)
    # What exists now (modules, the app, the index) lives as long as the process: leave it out
    # of full collections (each walked ~125,000 objects, ~45 ms, every few search requests),
    # and hand the index build's freed heap back.
    memory.settle()
