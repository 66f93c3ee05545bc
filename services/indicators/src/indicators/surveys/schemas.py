"""Survey schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from indicators.catalogue.schemas import Band
from indicators.surveys import privacy, stats
from indicators.surveys.service import end_of_day, start_of_day
from shared.contracts.registry import LocalizedDescription, LocalizedName
from shared.types import IsoDate, IsoDateTime, StrictInput

ItemKey = Annotated[str, StringConstraints(max_length=20)]  # an item id (ItemIn.id)
UnitLabel = Annotated[str, StringConstraints(max_length=80)]  # a unit (ResponseIn.unit)


class ItemIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_]+$")
    dimension: str = Field(min_length=1, max_length=40)
    reverse: bool = False


class DimensionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40)
    indicator_code: str | None = Field(None, max_length=40)


class InstrumentIn(StrictInput):
    """An instrument as data (structure only: item wording is loaded per organisation)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9_\-.]+$")
    name: LocalizedName
    scale_min: int = Field(ge=0, le=1000)
    scale_max: int = Field(ge=1, le=1000)
    scoring: Literal["mean", "percent_of_max"] = "mean"
    items: list[ItemIn] = Field(min_length=1, max_length=200)
    dimensions: list[DimensionIn] = Field(min_length=1, max_length=20)
    bands: list[Band] = Field(
        default_factory=list, max_length=20,
        description="Score bands in ascending order, contiguous: each covers [min, max), the "
        "last up to its max inclusive; together they cover the whole score range.")
    indicator_code: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _check(self) -> InstrumentIn:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be above scale_min")
        dims = {d.code for d in self.dimensions}
        if len(dims) != len(self.dimensions):
            raise ValueError("dimension codes repeat")
        if len({i.id for i in self.items}) != len(self.items):
            raise ValueError("item ids repeat")
        stray = {i.dimension for i in self.items} - dims
        if stray:
            raise ValueError(f"items refer to unknown dimensions {sorted(stray)}")
        why = privacy.check_bands([b.model_dump() for b in self.bands],
                                  *stats.score_range(self.scale_min, self.scale_max, self.scoring))
        if why:
            raise ValueError(why)
        return self


class WordingIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    items: dict[ItemKey, LocalizedDescription] = Field(min_length=1, max_length=200)


class RoundIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    instrument_code: str = Field(min_length=1, max_length=40)
    organisation_id: str = Field(min_length=1, max_length=36)
    project_id: str | None = Field(None, max_length=36)
    label: str = Field(max_length=3, pattern=r"^T\d{1,2}$", description="T0 baseline, T1, T2 follow-ups")
    opens_on: IsoDate
    closes_on: IsoDate
    closes_at: IsoDateTime | None = Field(
        None, description="When the round closes itself, with its UTC offset; within closes_on "
        "(Europe/Helsinki). Default: the end of closes_on.")
    units: list[UnitLabel] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _dates(self) -> RoundIn:
        if self.closes_on < self.opens_on:
            raise ValueError("closes_on is before opens_on")
        if self.closes_at is not None:
            if self.closes_at.tzinfo is None:
                raise ValueError("closes_at needs a UTC offset (e.g. 2026-06-30T16:00:00+03:00)")
            if not start_of_day(self.closes_on) < self.closes_at <= end_of_day(self.closes_on):
                raise ValueError("closes_at must fall on closes_on (Europe/Helsinki)")
        return self


class ResponseIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    unit: str | None = Field(None, max_length=80)
    answers: dict[ItemKey, int] = Field(
        min_length=1, max_length=200,
        description="Item id -> answer: a whole number on the instrument's scale.")


class ResponsesIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    responses: list[ResponseIn] = Field(min_length=1, max_length=10000)


class RoundOut(BaseModel):
    """A survey round; `responses` is null (and `responses_below_threshold` true) while fewer
    than k have answered. The counts are left out where the operation does not give them."""

    id: str
    organisation_id: str
    project_id: str | None
    label: str
    opens_on: dt.date
    closes_on: dt.date
    closes_at: dt.datetime | None
    status: str
    closed_at: dt.datetime | None
    units: list[str]
    instrument_id: str
    responses: int | None = None
    responses_below_threshold: bool | None = None


class Figures(BaseModel):
    n: int | None
    mean: float | None
    sd: float | None
    ci95_low: float | None
    ci95_high: float | None


class ResultCell(Figures):
    """Figures of the whole round or of one unit; all null when `suppressed`."""

    suppressed: bool
    dimensions: dict[str, Figures] | None = None
    bands: dict[str, int | float | None] | None = Field(
        None, description="Respondents per band (null where withheld); only for instruments with bands.")


class UnitCell(ResultCell):
    unit: str | None


class PrivacySummary(BaseModel):
    k: int
    figures: int
    withheld: int
    primary: int
    complementary: int
    audited: bool


class RoundResults(BaseModel):
    k: int = Field(description="The smallest group a figure may describe.")
    privacy: PrivacySummary
    total: ResultCell
    breakdown: list[UnitCell] | None = Field(None, description="Per unit, when asked for.")
    round: RoundOut
    instrument: str


class Stored(BaseModel):
    stored: int = Field(description="Responses stored (scores only).")
