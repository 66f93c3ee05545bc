"""Request bodies of practices and adoptions, and their responses."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.validators import check_code_field, check_region
from shared import limits
from shared.contracts.registry import (
    AdoptionRecordedV1,
    LocalizedDescription,
    LocalizedName,
    LocalizedText,
    PracticeState,
)
from shared.limits import CodeStr
from shared.types import IsoDate, StrictInput

Maturity = Literal["idea", "piloted", "evaluated", "adopted_nationally"]


class Evidence(StrictInput):
    model_config = ConfigDict(extra="forbid")
    link: str = Field(max_length=500, pattern=r"^https?://\S+$")
    description: str | None = Field(None, max_length=1000)


class PracticeIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedName | None = None
    kind: Literal["practice", "service_model"] | None = None
    problem: LocalizedDescription | None = Field(None, description="What problem it solves.")
    how_to_adopt: LocalizedDescription | None = None
    maturity: Maturity | None = None
    evidence: list[Evidence] | None = Field(None, max_length=50)
    project_ids: list[CodeStr] | None = Field(None, max_length=50)
    theme_ids: list[CodeStr] | None = Field(None, max_length=10)
    sub_themes: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    target_groups: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    organisation_id: str | None = Field(None, max_length=36)
    published: bool | None = None

    _codes = field_validator("sub_themes", "target_groups")(check_code_field)


class AdoptionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    organisation_id: str = Field(max_length=36)
    adopted_on: IsoDate
    scope: Literal["unit", "organisation", "regional_service"]
    region_code: str | None = Field(None, max_length=2)
    project_id: str | None = Field(None, max_length=36)
    notes: str | None = Field(None, max_length=4000)

    _region = field_validator("region_code")(check_region)


# ---- responses ----

class EvidenceView(BaseModel):
    link: str
    description: str | None = None


class PracticeRead(PracticeState):
    """A good practice or service model."""

    model_config = ConfigDict(extra="ignore")
    problem: LocalizedText | None = None
    how_to_adopt: LocalizedText | None = None
    evidence: list[EvidenceView] = []
    theme_ids: list[str] = []
    organisation_id: str | None = None
    archived: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime


class AdoptionRead(AdoptionRecordedV1):
    """An adoption of a practice."""

    model_config = ConfigDict(extra="ignore")
    notes: str | None = None
    created_at: dt.datetime
