"""Indicators service: what the projects achieve, measured."""

from typing import Any

from fastapi import FastAPI

from indicators.analyses.router import router as analyses_router
from indicators.catalogue.router import router as catalogue_router
from indicators.config import Settings
from indicators.events.handlers import handlers
from indicators.goals.router import analyses_router as goals_analyses_router
from indicators.goals.router import router as goals_router
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
             catalogue_router, reports_router, surveys_router, analyses_router,
             goals_router, goals_analyses_router],
    produces=contracts.STREAM,
    consumes=[registry_contracts.STREAM],
    handlers=handlers,
)


def round_closer(state: dict[str, Any]) -> PeriodicTask:
    """Closes survey rounds at their close time, with the same event as a manual close."""
    settings = state["settings"]
    rounds = RoundCloser(state["sessionmaker"], state["outbox"], settings.privacy_min_respondents,
                         settings.survey_close_poll_seconds)
    return PeriodicTask("survey_rounds.closer", rounds.tick, settings.survey_close_poll_seconds)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(spec, settings or Settings(), background=[round_closer])
