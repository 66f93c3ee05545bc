"""Comms service: the theme's communication plan, carried out over real channels."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from comms.config import Settings
from comms.content.router import router as content_router
from comms.delivery.worker import DeliveryWorker
from comms.feeds.router import router as feeds_router
from comms.gatherings.router import router as events_router
from comms.handlers import handlers
from comms.models import metadata, project_projection
from comms.plans.router import router as plans_router
from comms.scheduler import Scheduler
from comms.social.router import router as social_router
from comms.subscriptions.router import router as subscriptions_router
from comms.webhooks.router import router as webhooks_router
from shared.background import PeriodicTask
from shared.contracts import comms as contracts
from shared.contracts import indicators as indicators_contracts
from shared.contracts import registry as registry_contracts
from shared.projections import project_projection_router
from shared.service import ServiceSpec, create_service_app

spec = ServiceSpec(
    name="comms",
    title="TEKE comms",
    description="Communication plans, content, events, subscriptions and delivery.",
    metadata=metadata,
    settings_factory=Settings,
    routers=[project_projection_router("/comms", project_projection, "comms"), plans_router,
             content_router, events_router, subscriptions_router, webhooks_router, social_router,
             feeds_router],
    produces=contracts.STREAM,
    consumes=[registry_contracts.STREAM, indicators_contracts.STREAM],
    handlers=handlers,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(spec, settings)
    base_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # The shared lifespan opens the database and NATS; the worker and scheduler ride on it.
        async with base_lifespan(a) as state:
            worker = DeliveryWorker(state["sessionmaker"], settings,
                                    is_postgres=not settings.is_sqlite)
            scheduler = PeriodicTask(
                "comms.scheduler", Scheduler(state["sessionmaker"], state["outbox"], settings).tick,
                settings.scheduler_poll_seconds)
            await worker.start()
            scheduler.start()
            try:
                yield state
            finally:
                await scheduler.stop()
                await worker.stop()

    app.router.lifespan_context = lifespan
    return app
