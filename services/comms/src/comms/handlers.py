"""Events comms consumes, and what each does to its own tables."""

from comms.models import project_projection
from shared.events.consumer import HandlerRegistry
from shared.projections import register_project_handlers

handlers = HandlerRegistry()
register_project_handlers(handlers, project_projection)
