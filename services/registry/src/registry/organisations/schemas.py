"""Request bodies of organisations and successions, and their responses."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from registry.validators import check_business_id, check_region
from shared.contracts.registry import LocalizedName, OrganisationState
from shared.types import IsoDate, StrictInput

Kind = Literal["ministry", "funding_authority", "municipality", "company", "association",
               "foundation", "education", "research", "arts_culture", "other"]
Size = Literal["micro", "small", "medium", "large"]


class OrganisationIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedName | None = None
    business_id: str | None = Field(None, max_length=9, description="Y-tunnus, e.g. 0245437-2.")
    kind: Kind | None = None
    sector: Literal["public", "private", "third"] | None = None
    size_class: Size | None = Field(None, description="micro/small/medium/large (ESF+ SME counts).")
    region_code: str | None = Field(None, max_length=2)
    authority_code: str | None = Field(None, max_length=20,
                                       description="ELY/elinvoimakeskus code in /reference.")

    _bid = field_validator("business_id")(check_business_id)
    _region = field_validator("region_code")(check_region)


class Succession(StrictInput):
    model_config = ConfigDict(extra="forbid")

    successor_id: str = Field(max_length=36)
    date: IsoDate


# ---- responses ----

class OrganisationRead(OrganisationState):
    """An organisation as the API shows it: its public state and bookkeeping."""

    model_config = ConfigDict(extra="ignore")
    authority_code: str | None = None
    succeeded_on: dt.date | None = None
    archived: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime


class SuccessionRead(OrganisationRead):
    projects_moved: int = Field(description="Running projects given a dated period with the successor.")
