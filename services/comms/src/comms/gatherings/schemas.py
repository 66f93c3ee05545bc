"""Event (workshop, national day, webinar) schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from comms.common import Markdown, Text, aware, check_regions
from shared.types import IsoDateTime, StrictInput

Kind = Literal["regional_workshop", "national_day", "webinar", "other"]


class EventCreate(StrictInput):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    title: Text
    description: Markdown | None = None
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    place: str | None = Field(None, max_length=300)
    online_url: HttpUrl | None = None
    region_code: str | None = Field(None, max_length=2)
    capacity: int = Field(ge=1, le=100_000)
    plan_id: str | None = Field(None, max_length=36)
    project_id: str | None = Field(None, max_length=36)

    _aware = field_validator("starts_at", "ends_at")(aware)

    @field_validator("region_code")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return check_regions([v])[0] if v else None

    @model_validator(mode="after")
    def _check(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if not self.place and not self.online_url:
            raise ValueError("give a place or an online_url")
        return self


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    title: dict[str, Any]
    description: dict[str, Any]
    starts_at: dt.datetime
    starts_at_local: str | None = None
    ends_at: dt.datetime
    place: str | None
    online_url: str | None
    region_code: str | None
    capacity: int
    plan_id: str | None
    project_id: str | None
    status: str
    confirmed: int = 0
    waitlisted: int = 0


class RegisterIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320, pattern=r"^[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
    language: Literal["fi", "sv", "en"] = "fi"


class RegistrationOut(BaseModel):
    id: str
    status: str
    waitlist_position: int | None = None
    cancel_token: str | None = Field(None, description="Keep it: it cancels this registration.")


class RegistrationCancelled(BaseModel):
    id: str
    status: str = Field(description="`cancelled` (the first on the waiting list moved up).")
