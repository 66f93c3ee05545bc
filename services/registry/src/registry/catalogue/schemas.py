"""Request bodies of programmes, themes and calls (each checked on its own)."""

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator, model_validator

from registry.validators import check_code_field, check_codes
from shared import limits
from shared.contracts.registry import LocalizedDescription, LocalizedName
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

    _codes = field_validator("sub_themes", "target_groups")(check_code_field)

    @field_validator("specific_objective")
    @classmethod
    def _so(cls, v):
        return None if v is None else check_codes("specific_objectives", [v])[0]


class CallIn(_Period):
    code: Code | None = None
    name: LocalizedName | None = None
    theme_id: str | None = Field(None, max_length=36)
    funder_id: str | None = Field(None, max_length=36)
    open_date: IsoDate | None = None
    close_date: IsoDate | None = None
    budget: Money | None = None
    priorities: list[LocalizedDescription] | None = Field(None, max_length=30,
                                                   description="Hakupainotukset.")
