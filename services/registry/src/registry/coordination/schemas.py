"""Request bodies (every string and list bounded) and responses of steering-group meetings and
service needs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.validators import check_codes
from shared import limits
from shared.contracts.coordination import ServiceNeedStatus
from shared.contracts.registry import LocalizedDescription, LocalizedName, LocalizedText
from shared.limits import CodeStr
from shared.pagination import Page
from shared.types import IsoDate, StrictInput

ParticipantRole = Literal["implementer", "funder", "coordination_project", "ministry", "workplace",
                          "expert", "other"]


class Participant(StrictInput):
    """Who took part, by role; `name` is personal data (never public, not shown to ministries)."""

    model_config = ConfigDict(extra="forbid")
    role: ParticipantRole
    organisation_id: str | None = Field(None, max_length=36)
    name: str | None = Field(None, min_length=1, max_length=limits.SHORT_TEXT)


class SteeringMeetingIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate
    participants: list[Participant] = Field(default_factory=list, max_length=100)
    coordination_attended: bool = Field(
        description="Whether the national coordination project took part.")
    funder_attended: bool = Field(description="Whether the funder (the ELY centre) took part.")
    decisions: LocalizedDescription
    minutes_url: str | None = Field(None, max_length=500, pattern=r"^https?://\S+$")


class ServiceNeedIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    theme_id: str = Field(max_length=36)
    title: LocalizedName
    description: LocalizedDescription
    region_codes: list[CodeStr] = Field(min_length=1, max_length=limits.CODES,
                                        description="Maakunta codes 01-21 where the need arose.")
    target_group_codes: list[CodeStr] = Field(default_factory=list, max_length=limits.CODES)
    evidence: str = Field(min_length=1, max_length=limits.TEXT,
                          description="What shows the need: observations, figures, sources.")
    project_ids: list[CodeStr] = Field(default_factory=list, max_length=50,
                                       description="The projects the need comes from.")

    @field_validator("region_codes")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return check_codes("regions", v)

    @field_validator("target_group_codes")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        return check_codes("target_groups", v)


class ServiceNeedTransitionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    to: ServiceNeedStatus
    reason: str | None = Field(None, min_length=1, max_length=limits.NOTE,
                               description="Required for forwarded, addressed and declined.")


# ---- responses ----

class ParticipantView(BaseModel):
    """A participant by role; `name` not shown to ministries."""

    role: ParticipantRole
    organisation_id: str | None = None
    name: str | None = None


class SteeringMeetingRead(BaseModel):
    id: str
    project_id: str
    date: dt.date
    participants: list[ParticipantView]
    coordination_attended: bool
    funder_attended: bool
    decisions: LocalizedText
    minutes_url: str | None = None
    created_at: dt.datetime


class ProjectMeetings(Page[SteeringMeetingRead]):
    """A project's steering-group meetings, all on one page."""

    project_id: str


class ParticipationItem(BaseModel):
    project_id: str
    code: str
    name: LocalizedText
    meetings: int
    coordination_attended: bool
    funder_attended: bool


class Participation(BaseModel):
    """Steering-group participation of a year, every project on one page."""

    year: int
    theme_id: str | None = None
    projects_with_meetings: int
    meetings: int
    coordination_attended_projects: int
    funder_attended_projects: int
    items: list[ParticipationItem]
    total: int
    next_cursor: str | None = None


class NeedStep(BaseModel):
    """A triage step: `by` (the user) for coordinators and admins, the role for everyone."""

    model_config = ConfigDict(populate_by_name=True)
    from_: ServiceNeedStatus | None = Field(None, alias="from")
    to: ServiceNeedStatus
    reason: str | None = None
    by_role: str | None = None
    at: dt.datetime
    by: str | None = None


class ServiceNeedRead(BaseModel):
    """A service need; `steps` on a read or a transition."""

    id: str
    version: int
    theme_id: str
    title: LocalizedText
    description: LocalizedText
    region_codes: list[str]
    target_group_codes: list[str]
    evidence: str
    project_ids: list[str]
    status: ServiceNeedStatus
    open: bool
    reason: str | None = None
    organisation_id: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    steps: list[NeedStep] | None = None
