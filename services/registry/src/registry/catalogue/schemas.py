"""Request bodies of programmes, themes and calls (each checked on its own), and what the API
answers with."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.themes.schemas import ThemePersonRead
from registry.validators import check_code_field, check_codes
from shared import limits
from shared.contracts.registry import (
    CallState,
    LocalizedDescription,
    LocalizedName,
    LocalizedText,
    ProgrammeState,
    ThemeState,
)
from shared.limits import CodeStr
from shared.types import DecimalIn, IsoDate, StrictInput


class _In(StrictInput):
    model_config = ConfigDict(extra="forbid")


Money = Annotated[DecimalIn, Field(ge=0, max_digits=16, decimal_places=2)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9:/._-]+$")]
PERIODS = (("period_start", "period_end"), ("open_date", "close_date"))


class _Period(_In):
    @model_validator(mode="after")
    def _order(self):
        for a, b in PERIODS:
            x, y = getattr(self, a, None), getattr(self, b, None)
            if x and y and y < x:
                raise ValueError(f"{b} is before {a}")
        return self


class ProgrammeIn(_Period):
    code: Code | None = None
    name: LocalizedName | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None


class PredecessorIn(_In):
    """The theme in the previous programme period, in the card's words."""

    period: str = Field(min_length=1, max_length=20, pattern=r"^\d{4}[-–]\d{4}$",
                        description="e.g. 2014-2020")
    priority_axis: LocalizedName | None = Field(None, description="Toimintalinja (TL).")
    objective: LocalizedName | None = Field(None, description="Erityistavoite.")
    coordination_project_code: Code | None = Field(None, description="e.g. TEM035:00/2017")
    responsible_authority: str | None = Field(None, max_length=200)


class ThemeIn(_Period):
    code: Code | None = None
    name: LocalizedName | None = None
    programme_id: str | None = Field(None, max_length=36)
    specific_objective: str | None = Field(None, max_length=20)
    budget: Money | None = None
    ministries: list[CodeStr] | None = Field(None, max_length=10)
    intermediate_body_id: str | None = Field(None, max_length=36)
    priorities: list[LocalizedDescription] | None = Field(None, max_length=30)
    sub_themes: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    target_groups: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None
    strategy_codes: list[CodeStr] | None = Field(
        None, max_length=30, description="Codes of GET /reference/strategies.")
    predecessor: PredecessorIn | None = None
    coordination_project_id: str | None = Field(
        None, max_length=36, description="A project of kind coordination.")

    _codes = field_validator("sub_themes", "target_groups", "strategy_codes")(check_code_field)

    @field_validator("specific_objective")
    @classmethod
    def _so(cls, v):
        return None if v is None else check_codes("specific_objectives", [v])[0]


class CallIn(_Period):
    @field_validator("theme_ids")
    @classmethod
    def _unique(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise ValueError("a theme is listed twice")
        return v

    code: Code | None = None
    name: LocalizedName | None = None
    theme_id: str | None = Field(None, max_length=36, description="The first of theme_ids.")
    theme_ids: list[Annotated[str, Field(max_length=36)]] | None = Field(
        None, min_length=1, max_length=10,
        description="Every theme the call belongs to; the first is also `theme_id`.")
    funder_id: str | None = Field(None, max_length=36)
    open_date: IsoDate | None = None
    close_date: IsoDate | None = None
    budget: Money | None = None
    priorities: list[LocalizedDescription] | None = Field(None, max_length=30,
                                                   description="Hakupainotukset.")


# ---- responses (the events' state models plus what only the API shows) ----

class _Stamps(BaseModel):
    created_at: dt.datetime
    updated_at: dt.datetime


class ProgrammeRead(_Stamps, ProgrammeState):
    """A programme."""

    model_config = ConfigDict(extra="ignore")  # every member is declared


class ThemeRead(_Stamps, ThemeState):
    """A theme; `persons` (its contact persons) only for national roles, on a read."""

    model_config = ConfigDict(extra="ignore")  # every member is declared

    priorities: list[LocalizedText] = []
    persons: list[ThemePersonRead] | None = None


class CallRead(_Stamps, CallState):
    """A call for proposals."""

    model_config = ConfigDict(extra="ignore")  # every member is declared

    priorities: list[LocalizedText] = []


class ThemeCallRead(CallRead):
    """A call of a theme; `shared_with`: the call's other themes (a joint call)."""

    shared_with: list[str]


EurText = Annotated[str, Field(description="EUR as an exact decimal string.")]


class RegionGranted(BaseModel):
    region_code: str | None
    label: str | None
    granted: EurText


class FunderGranted(BaseModel):
    funder_id: str | None
    granted: EurText


class CallGranted(BaseModel):
    call_id: str | None
    granted: EurText
    call_budget: EurText | None


class ThemeCall(BaseModel):
    call_id: str
    code: str
    name: LocalizedText
    budget: EurText | None
    theme_ids: list[str]
    shared_with: list[str] = Field(description="The other themes of a joint call.")
    granted_in_theme: EurText


class ThemeFunding(BaseModel):
    """A theme's budget frame against the funding granted to its projects."""

    theme_id: str
    name: LocalizedText
    budget_frame: EurText | None
    granted: EurText
    remaining: EurText | None
    projects: int
    by_region: list[RegionGranted]
    by_funder: list[FunderGranted]
    by_call: list[CallGranted]
    calls: list[ThemeCall]
    calls_budget: EurText
    joint_calls_budget: EurText
