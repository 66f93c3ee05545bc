"""Events the registry produces (stream TEKE_REGISTRY, subjects teke.registry.>)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from shared.events.consumer import StreamSpec

STREAM = StreamSpec(name="TEKE_REGISTRY", subjects=("teke.registry.>",))

PROJECT_CREATED = "fi.teke.registry.project.created.v1"
PROJECT_UPDATED = "fi.teke.registry.project.updated.v1"


class LocalizedText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fi: str
    sv: str | None = None
    en: str | None = None


class ProjectState(BaseModel):
    """The public facts of a project other services keep in their projections.

    `version` increases with every change; consumers keep the highest they have seen, so
    events that arrive out of order (after a partial publish failure) cannot roll state back.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    version: int = Field(ge=1)
    code: str
    name: LocalizedText
    status: str
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    organisation_id: str | None = None
    funder_id: str | None = None
    region_codes: list[str] = []


class ProjectCreatedV1(ProjectState):
    """A project was added to the registry."""


class ProjectUpdatedV1(ProjectState):
    """A project's record changed; the payload is its new state."""

    changed_fields: list[str] = []


EVENTS: dict[str, type[BaseModel]] = {
    PROJECT_CREATED: ProjectCreatedV1,
    PROJECT_UPDATED: ProjectUpdatedV1,
}
