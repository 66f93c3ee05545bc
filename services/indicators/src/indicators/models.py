"""Indicators tables (its own database)."""

from shared.db import make_base, new_metadata
from shared.events.tables import make_event_tables
from shared.projections import make_project_projection

metadata = new_metadata()
Base = make_base(metadata)
outbox_table, inbox_table, dead_letter_table = make_event_tables(metadata)
project_projection = make_project_projection(metadata)
