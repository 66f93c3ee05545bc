"""Social media schemas: accounts, platform rules and posts."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from comms.common import aware
from shared import limits
from shared.types import IsoDateTime, StrictInput


class AccountIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    platform: str = Field(min_length=1, max_length=30)
    handle: str = Field(min_length=1, max_length=200)
    webhook_id: str = Field(max_length=36, description="The publishing tool's webhook (purpose social).")


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    platform: str
    handle: str
    webhook_id: str


class PlatformRuleIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    max_length: int = Field(ge=1, le=100_000)
    link_length: int | None = Field(None, ge=1, le=1000)
    max_links: int = Field(1, ge=0, le=20)
    links_allowed: bool = True


class PlatformRuleRead(PlatformRuleIn):
    model_config = ConfigDict(from_attributes=True)
    platform: str


class PostIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(max_length=36)
    text: str = Field(min_length=1, max_length=limits.TEXT)  # the platforms allow far less (limits as data)
    link: HttpUrl | None = None
    item_id: str | None = Field(None, max_length=36)
    scheduled_at: IsoDateTime

    _aware = field_validator("scheduled_at")(aware)


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    account_id: str
    text: str
    link: str | None
    item_id: str | None
    scheduled_at: dt.datetime
    scheduled_at_local: str | None = None
    status: str
