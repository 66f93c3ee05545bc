"""Registry service: the project registry (source of truth for who does what, where)."""

from fastapi import FastAPI
from shared.contracts import registry as contracts
from shared.service import ServiceSpec, create_service_app

from registry.catalogue import calls_router, programmes_router, themes_router
from registry.config import Settings
from registry.feeds import changes_router, funding_router, reference_router
from registry.models import metadata
from registry.organisations import router as organisations_router
from registry.practices import adoptions_router
from registry.practices import router as practices_router
from registry.projects.importer import router as import_router
from registry.projects.router import router as projects_router
from registry.workplaces import router as workplaces_router

spec = ServiceSpec(
    name="registry",
    title="TEKE registry",
    description="Programmes, themes, organisations, projects, good practices and their spread.",
    metadata=metadata,
    settings_factory=Settings,
    # The import route comes before /projects/{id} so "import" is not taken for an id.
    routers=[import_router, projects_router, workplaces_router, organisations_router,
             programmes_router, themes_router, calls_router, practices_router, adoptions_router,
             changes_router, funding_router, reference_router],
    produces=contracts.STREAM,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(spec, settings)
