"""Goal schemas: a theme's goals and the indicators that measure them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared import limits
from shared.contracts.registry import LocalizedDescription, LocalizedName
from shared.types import StrictInput

# A single period (YYYY, YYYYH1/H2, YYYYQ1-4) or a span of years such as a programme period.
GOAL_PERIOD_PATTERN = r"^(19|20|21)\d{2}((H[12]|Q[1-4])|-(19|20|21)\d{2})?$"
GOAL_CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"
# Finite and of a sane size: a theme-level figure, not a float's extremes.
Figure = Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]


class GoalIn(StrictInput):
    """A new goal of a theme."""

    model_config = ConfigDict(extra="forbid")
    theme_id: str = Field(min_length=1, max_length=36, description="The registry's theme.")
    code: str = Field(min_length=1, max_length=limits.CODE, pattern=GOAL_CODE_PATTERN)
    name: LocalizedName
    description: LocalizedDescription | None = None
    position: int = Field(0, ge=0, le=1000, description="Order among the theme's goals.")


class GoalPatch(StrictInput):
    """Changes to a goal; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(None, min_length=1, max_length=limits.CODE, pattern=GOAL_CODE_PATTERN)
    name: LocalizedName | None = None
    description: LocalizedDescription | None = None
    position: int | None = Field(None, ge=0, le=1000)

    @model_validator(mode="after")
    def _required_stay(self) -> GoalPatch:
        for key in ("code", "name", "position"):
            if key in self.model_fields_set and getattr(self, key) is None:
                raise ValueError(f"{key} cannot be removed")
        return self


class GoalIndicatorIn(StrictInput):
    """An indicator measuring the goal: theme-level baseline and target for a period."""

    model_config = ConfigDict(extra="forbid")
    indicator_code: str = Field(min_length=1, max_length=40,
                                description="A code of the indicator catalogue.")
    period: str = Field(max_length=12, pattern=GOAL_PERIOD_PATTERN,
                        description="YYYY, YYYYH1/H2, YYYYQ1-4 or a span of years (2021-2027).")
    baseline: Figure | None = None
    target: Figure
    unit: str | None = Field(None, max_length=40, description="Default: the indicator's unit.")
    unverified: bool = Field(False, description="The numbers are placeholders not yet checked.")
    note: str | None = Field(None, max_length=limits.NOTE)


GoalIndicatorsIn = Annotated[list[GoalIndicatorIn], Field(max_length=50)]


class GoalIndicatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    indicator_code: str
    period: str
    period_start: dt.date
    period_end: dt.date
    baseline: float | None
    target: float
    unit: str | None
    unverified: bool
    note: str | None


class GoalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    theme_id: str
    code: str
    name: dict[str, Any]
    description: dict[str, Any] | None
    position: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    indicators: list[GoalIndicatorOut] = Field(default_factory=list)
