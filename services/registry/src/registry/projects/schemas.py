"""Project API schemas."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contracts.registry import LocalizedText
from shared.types import IsoDate

ProjectStatus = Literal["planned", "active", "ended", "cancelled"]
# Maakunta codes (Statistics Finland); 03 and 20 are not in use. Not ISO 3166-2:FI.
RegionCode = Literal["01", "02", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
                     "14", "15", "16", "17", "18", "19", "21"]
REGION_CODES = set(RegionCode.__args__)


def check_regions(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return None
    unknown = [c for c in codes if c not in REGION_CODES]
    if unknown:
        raise ValueError(f"unknown region code(s) {unknown}; use maakunta codes 01-21")
    return sorted(set(codes))


class ProjectBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedText
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    organisation_id: str | None = Field(None, max_length=36)
    funder_id: str | None = Field(None, max_length=36)
    region_codes: list[RegionCode] = Field(default_factory=list, max_length=21)

    _regions = field_validator("region_codes")(check_regions)

    @model_validator(mode="after")
    def _dates_in_order(self):
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class ProjectCreate(ProjectBase):
    """Properties to receive when a project is created."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9:/._-]+$")
    status: ProjectStatus = "planned"


class ProjectUpdate(BaseModel):
    """Properties that may change; all optional, unknown ones refused."""

    model_config = ConfigDict(extra="forbid")

    name: LocalizedText | None = None
    status: ProjectStatus | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    region_codes: list[RegionCode] | None = Field(None, max_length=21)

    _regions = field_validator("region_codes")(check_regions)

    @model_validator(mode="after")
    def _dates_in_order(self):
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: LocalizedText
    status: ProjectStatus
    start_date: dt.date | None
    end_date: dt.date | None
    organisation_id: str | None
    funder_id: str | None
    region_codes: list[str]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ProjectPage(BaseModel):
    items: list[ProjectRead]
    total: int
    next_cursor: str | None = None
