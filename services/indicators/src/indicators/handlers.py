"""Events indicators consumes, and what each does to its own tables."""

from shared.events.consumer import HandlerRegistry
from shared.projections import register_project_handlers

from indicators.models import project_projection

handlers = HandlerRegistry()
register_project_handlers(handlers, project_projection)
