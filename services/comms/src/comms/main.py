"""Comms service: the theme's communication plan, carried out over real channels."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from comms.config import Settings
from comms.content.router import router as content_router
from comms.delivery.worker import DeliveryWorker
from comms.events.handlers import handlers
from comms.feeds.router import router as feeds_router
from comms.gatherings.router import router as events_router
from comms.mailbox.router import router as mailbox_router
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
             feeds_router, mailbox_router],
    produces=contracts.STREAM,
    consumes=[registry_contracts.STREAM, indicators_contracts.STREAM],
    handlers=handlers,
)


@asynccontextmanager
async def delivery_worker(state: dict[str, Any]) -> AsyncIterator[None]:
    """Sends what the delivery queue holds: e-mail, webhooks (see comms.delivery)."""
    settings = state["settings"]
    worker = DeliveryWorker(state["sessionmaker"], settings, is_postgres=not settings.is_sqlite)
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()


def scheduler(state: dict[str, Any]) -> PeriodicTask:
    """Publishes content at its scheduled time."""
    settings = state["settings"]
    return PeriodicTask("comms.scheduler",
                        Scheduler(state["sessionmaker"], state["outbox"], settings).tick,
                        settings.scheduler_poll_seconds)


def create_app(settings: Settings | None = None) -> FastAPI:
    # The worker starts first and stops last, after the scheduler, as before.
    return create_service_app(spec, settings or Settings(), background=[delivery_worker, scheduler])
