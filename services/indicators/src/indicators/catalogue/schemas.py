"""Catalogue schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from indicators.common import PERIOD_PATTERN
from shared.contracts.registry import LocalizedDescription, LocalizedName
from shared.limits import CodeStr
from shared.types import IsoDate, StrictInput

Family = Literal["esf_output", "esf_result", "wellbeing", "productivity", "dissemination",
                 "programme_specific", "custom"]
Measure = Literal["count", "percentage", "score", "currency", "qualitative"]
Aggregation = Literal["sum", "average", "weighted_average", "last", "count", "min", "max"]


class Band(StrictInput):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40)
    min: float
    max: float
    label: LocalizedName


class DefinitionIn(StrictInput):
    """A programme-specific or custom indicator, or a new version of any indicator."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9_+\-.]+$")
    name: LocalizedName
    description: LocalizedDescription | None = None
    family: Family = "custom"
    measure: Measure = "count"
    unit: str | None = Field(None, max_length=40)
    higher_is_better: bool = True
    aggregation: Aggregation = "sum"
    min_value: float | None = None
    max_value: float | None = None
    disaggregations: list[CodeStr] = Field(default_factory=list, max_length=10)
    parts: list[CodeStr] = Field(default_factory=list, max_length=20)
    exclusive_with: list[CodeStr] = Field(default_factory=list, max_length=10)
    bands: list[Band] = Field(default_factory=list, max_length=20)
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    @model_validator(mode="after")
    def _check(self) -> DefinitionIn:
        if self.min_value is not None and self.max_value is not None and self.max_value < self.min_value:
            raise ValueError("max_value is below min_value")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class DefinitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    code: str
    version: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    name: dict[str, Any]
    translated: bool = Field(True, description=(
        "False when the name has no known Finnish or Swedish translation (for example an "
        "official EU name shipped in English under `fi`)."))
    description: dict[str, Any] | None
    family: str
    measure: str
    unit: str | None
    higher_is_better: bool
    aggregation: str
    min_value: float | None
    max_value: float | None
    disaggregations: list[str]
    parts: list[str]
    exclusive_with: list[str]
    bands: list[dict[str, Any]]
    uncertain: bool


class FigureIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    organisation_id: str = Field(min_length=1, max_length=36)
    indicator_code: str = Field(min_length=1, max_length=40)
    period: str = Field(max_length=6, pattern=PERIOD_PATTERN)
    value: float


class FiguresIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    figures: list[FigureIn] = Field(min_length=1, max_length=10000)


class FigureOut(BaseModel):
    """One organisation-level figure (the latest value for its organisation, indicator, period)."""

    organisation_id: str
    indicator_code: str
    period: str
    value: float
    reported_by: str | None = None
    updated_at: dt.datetime
