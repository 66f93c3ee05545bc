"""Event payload builders of the registry: one place per entity."""
