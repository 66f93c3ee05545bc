"""Registry service: the project registry (source of truth for who does what, where)."""

from fastapi import FastAPI

from registry.config import Settings
from registry.models import metadata
from registry.projects.router import router as projects_router
from shared.contracts import registry as contracts
from shared.service import ServiceSpec, create_service_app

spec = ServiceSpec(
    name="registry",
    title="TEKE registry",
    description="Programmes, themes, organisations, projects, good practices and their spread.",
    metadata=metadata,
    settings_factory=Settings,
    routers=[projects_router],
    produces=contracts.STREAM,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(spec, settings)
