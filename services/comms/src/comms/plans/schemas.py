"""Communication plan schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from comms.common import Text, strip_tags
from shared.types import IsoDate, StrictInput

Metric = Literal["subscribers", "deliveries", "event_participants", "items_published"]
ChannelName = Literal["web", "email", "webhook", "social", "events"]
Entry = Annotated[str, StringConstraints(max_length=1000)]  # an objective, audience, message


class PlanChannel(StrictInput):
    model_config = ConfigDict(extra="forbid")
    channel: ChannelName
    cadence: str = Field(min_length=1, max_length=100, description="e.g. monthly, 2/week")
    internal: bool = False


class ExpectedResult(StrictInput):
    """A measurable target; its progress is counted from what comms actually did."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    metric: Metric
    target: int = Field(ge=1, le=100_000_000)
    channel: Literal["web", "email", "webhook", "social"] | None = None
    kind: str | None = Field(None, max_length=30, description="Content kind, for items_published.")
    label: str | None = Field(None, max_length=200)


class PlanBody(StrictInput):
    model_config = ConfigDict(extra="forbid")
    title: Text
    objectives: list[Entry] = Field(default_factory=list, max_length=30)
    audiences: list[Entry] = Field(default_factory=list, max_length=30)
    key_messages: list[Entry] = Field(default_factory=list, max_length=30)
    means: list[Entry] = Field(default_factory=list, max_length=30)
    channels: list[PlanChannel] = Field(default_factory=list, max_length=20)
    audience_kind: Literal["internal", "external", "both"] = "external"
    period_start: IsoDate
    period_end: IsoDate
    expected_results: list[ExpectedResult] = Field(default_factory=list, max_length=50)

    @field_validator("objectives", "audiences", "key_messages", "means")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return [x.strip() for x in v if x.strip()]

    @model_validator(mode="after")
    def _check(self):
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        keys = [r.key for r in self.expected_results]
        if len(keys) != len(set(keys)):
            raise ValueError("expected_results keys must be unique")
        return self


class PlanCreate(PlanBody):
    scope: Literal["theme", "project"]
    project_id: str | None = Field(None, max_length=36)

    @model_validator(mode="after")
    def _scope(self):
        if (self.scope == "project") != bool(self.project_id):
            raise ValueError("a project plan needs project_id; a theme plan has none")
        return self


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    scope: str
    project_id: str | None
    title: dict[str, Any]
    objectives: list[Any]
    audiences: list[Any]
    key_messages: list[Any]
    means: list[Any]
    channels: list[Any]
    audience_kind: str
    period_start: dt.date
    period_end: dt.date
    expected_results: list[Any]
    version: int
    created_by: str


class ResultProgress(BaseModel):
    key: str
    metric: str
    channel: str | None
    kind: str | None
    label: str | None
    target: int
    actual: int
    percent: float


class PlanProgress(BaseModel):
    plan_id: str
    computed_at: dt.datetime
    results: list[ResultProgress]


_ = strip_tags
