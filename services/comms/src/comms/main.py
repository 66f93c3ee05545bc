"""Comms service: the theme's communication plan, carried out over real channels."""

from fastapi import FastAPI

from comms.config import Settings
from comms.handlers import handlers
from comms.models import metadata, project_projection
from shared.contracts import comms as contracts
from shared.contracts import registry as registry_contracts
from shared.projections import project_projection_router
from shared.service import ServiceSpec, create_service_app

spec = ServiceSpec(
    name="comms",
    title="TEKE comms",
    description="Communication plans, content, events, subscriptions and delivery.",
    metadata=metadata,
    settings_factory=Settings,
    routers=[project_projection_router("/comms", project_projection, "comms")],
    produces=contracts.STREAM,
    consumes=[registry_contracts.STREAM],
    handlers=handlers,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(spec, settings)
