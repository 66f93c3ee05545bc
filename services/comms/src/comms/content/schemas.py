"""Content API schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from comms.common import Markdown, Text, aware, check_regions, strip_tags
from shared.limits import NOTE, CodeStr, NameStr
from shared.types import IsoDateTime, StrictInput

# ministry_message: to the ministries only (never public): "published" sends it to their addresses.
Kind = Literal["news", "announcement", "newsletter", "practice_highlight", "event_invitation",
               "ministry_message"]
Status = Literal["draft", "in_review", "scheduled", "published", "archived"]
Channel = Literal["web", "email"]
Condition = NameStr | int | bool  # a rule condition's value (a code, a number, a flag)


class ItemBase(StrictInput):
    model_config = ConfigDict(extra="forbid")

    project_ids: list[CodeStr] = Field(default_factory=list, max_length=50)
    practice_ids: list[CodeStr] = Field(default_factory=list, max_length=50)
    indicator_codes: list[CodeStr] = Field(default_factory=list, max_length=50)
    themes: list[CodeStr] = Field(default_factory=list, max_length=20)
    regions: list[CodeStr] = Field(default_factory=list, max_length=21)
    target_groups: list[CodeStr] = Field(default_factory=list, max_length=20)
    plan_id: str | None = Field(None, max_length=36)
    event_id: str | None = Field(None, max_length=36)

    @field_validator("project_ids", "practice_ids", "indicator_codes", "themes", "target_groups")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return strip_tags(v)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return check_regions(v) or []


class ItemCreate(ItemBase):
    kind: Kind
    title: Text
    body: Markdown
    channels: list[Channel] | None = Field(None, max_length=2)


class ItemUpdate(StrictInput):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = None
    body: Markdown | None = None
    channels: list[Channel] | None = Field(None, max_length=2)
    project_ids: list[CodeStr] | None = Field(None, max_length=50)
    practice_ids: list[CodeStr] | None = Field(None, max_length=50)
    indicator_codes: list[CodeStr] | None = Field(None, max_length=50)
    themes: list[CodeStr] | None = Field(None, max_length=20)
    regions: list[CodeStr] | None = Field(None, max_length=21)
    target_groups: list[CodeStr] | None = Field(None, max_length=20)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str] | None) -> list[str] | None:
        return check_regions(v)


class Transition(StrictInput):
    """Move an item along draft → in_review → scheduled → published → archived."""

    model_config = ConfigDict(extra="forbid")
    to: Status
    scheduled_at: IsoDateTime | None = Field(
        None, description="UTC or with an offset; needed for `scheduled`.")
    note: str | None = Field(None, max_length=NOTE)

    _aware = field_validator("scheduled_at")(aware)


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_status: str | None
    to_status: str
    actor: str
    note: str | None
    at: dt.datetime


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    status: str
    title: dict[str, Any]
    body: dict[str, Any]
    body_html: dict[str, Any]
    channels: list[str]
    project_ids: list[str]
    practice_ids: list[str]
    indicator_codes: list[str]
    themes: list[str]
    regions: list[str]
    target_groups: list[str]
    plan_id: str | None
    event_id: str | None
    organisation_id: str | None
    scheduled_at: dt.datetime | None
    scheduled_at_local: str | None = None
    published_at: dt.datetime | None
    published_at_local: str | None = None
    version: int
    created_by: str
    created_at: dt.datetime
    source_event_id: str | None = None


class ItemPage(BaseModel):
    items: list[ItemRead]
    next_cursor: str | None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    event_type: str
    enabled: bool
    kind: str
    conditions: dict[str, Any]
    title_template: dict[str, Any]
    body_template: dict[str, Any]
    channels: list[str]
    version: int
    updated_by: str


class RuleCreate(StrictInput):
    model_config = ConfigDict(extra="forbid")
    event_type: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    kind: Kind
    conditions: dict[CodeStr, Condition] = Field(default_factory=dict, max_length=10)
    title_template: Text
    body_template: Markdown
    channels: list[Channel] = Field(default_factory=lambda: ["web"], max_length=2)


class RuleUpdate(StrictInput):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    kind: Kind | None = None
    conditions: dict[CodeStr, Condition] | None = Field(None, max_length=10)
    title_template: Text | None = None
    body_template: Markdown | None = None
    channels: list[Channel] | None = Field(None, max_length=2)
