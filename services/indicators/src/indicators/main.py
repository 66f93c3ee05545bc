"""Indicators service: what the projects achieve, measured."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from indicators.analyses.impact import router as impact_router
from indicators.analyses.rollups import router as rollups_router
from indicators.catalogue.router import router as catalogue_router
from indicators.config import Settings
from indicators.handlers import handlers
from indicators.models import metadata, project_projection
from indicators.reports.router import router as reports_router
from indicators.surveys.closer import RoundCloser
from indicators.surveys.router import router as surveys_router
from shared.background import PeriodicTask
from shared.contracts import indicators as contracts
from shared.contracts import registry as registry_contracts
from shared.projections import project_projection_router
from shared.service import ServiceSpec, create_service_app

spec = ServiceSpec(
    name="indicators",
    title="TEKE indicators",
    description="Indicator catalogue, targets, reported values, surveys and analyses.",
    metadata=metadata,
    settings_factory=Settings,
    routers=[project_projection_router("/indicators", project_projection, "indicators"),
             catalogue_router, reports_router, surveys_router, rollups_router,
             impact_router],
    produces=contracts.STREAM,
    consumes=[registry_contracts.STREAM],
    handlers=handlers,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(spec, settings)
    base_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # The shared lifespan opens the database and NATS; the round closer rides on it.
        async with base_lifespan(a) as state:
            rounds = RoundCloser(state["sessionmaker"], state["outbox"],
                                 settings.privacy_min_respondents,
                                 settings.survey_close_poll_seconds)
            closer = PeriodicTask("survey_rounds.closer", rounds.tick,
                                  settings.survey_close_poll_seconds)
            closer.start()
            try:
                yield state
            finally:
                await closer.stop()

    app.router.lifespan_context = lifespan
    return app
