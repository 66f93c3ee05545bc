"""Registry events of the theme's coordination (issue 14): outputs and lessons, steering groups,
service needs, theme evaluations and follow-ups. They go on the registry's stream
(`fi.teke.registry.*` types); `registry.EVENTS` includes `EVENTS` below."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# ---- Project outputs and lessons learned ----

# ---- The coordination project's work: steering groups and service needs ----

STEERING_MEETING_RECORDED = "fi.teke.registry.steering_meeting.recorded.v1"
SERVICE_NEED_RECORDED = "fi.teke.registry.service_need.recorded.v1"
SERVICE_NEED_TRANSITIONED = "fi.teke.registry.service_need.transitioned.v1"

ServiceNeedStatus = Literal["new", "under_review", "forwarded", "addressed", "declined"]


class SteeringMeetingRecordedV1(BaseModel):
    """A project's steering group met (no participant names: they are personal data)."""

    model_config = ConfigDict(extra="allow")
    id: str
    project_id: str
    date: dt.date
    participant_roles: list[str] = Field(
        default_factory=list, description="The roles present (implementer, funder, ministry...).")
    coordination_attended: bool
    funder_attended: bool


class ServiceNeedState(BaseModel):
    """A service need raised from the regions, as the coordination project triages it."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    theme_id: str
    title: dict[str, str] = Field(description="{fi, sv, en}; fi always present.")
    region_codes: list[str] = Field(default_factory=list)
    target_group_codes: list[str] = Field(default_factory=list)
    project_ids: list[str] = Field(default_factory=list)
    status: ServiceNeedStatus
    organisation_id: str | None = Field(None, description="The organisation that raised it.")


class ServiceNeedRecordedV1(ServiceNeedState):
    """A new service need was recorded (status `new`)."""


class ServiceNeedTransitionedV1(ServiceNeedState):
    """A service need moved on in its triage; `reason` says why (required from forwarded on)."""

    from_status: ServiceNeedStatus
    to_status: ServiceNeedStatus
    reason: str | None = None


# ---- Theme evaluations, recommendations and continuation ----

EVENTS: dict[str, type[BaseModel]] = {
    # ---- outputs and lessons ----

    # ---- steering groups and service needs ----
    STEERING_MEETING_RECORDED: SteeringMeetingRecordedV1,
    SERVICE_NEED_RECORDED: ServiceNeedRecordedV1,
    SERVICE_NEED_TRANSITIONED: ServiceNeedTransitionedV1,

    # ---- evaluations and continuation ----

}
