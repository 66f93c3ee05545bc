"""Response models of the analyses (the figures are computed, never stored as such)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProgressItem(BaseModel):
    target_id: str
    indicator_code: str
    baseline_value: float | None
    baseline_date: dt.date | None
    target_value: float
    target_date: dt.date
    achieved: float | None = Field(description="Approved value so far (null: none approved).")
    latest_period: str | None
    progress_pct: float | None
    reached_on: dt.date | None


class Progress(BaseModel):
    project_id: str
    items: list[ProgressItem]


class RollupRow(BaseModel):
    """One group: its keys (those of `group_by` only) and the rolled-up value."""

    model_config = ConfigDict(extra="allow")
    indicator: str | None = None
    year: int | None = None
    period: str | None = None
    region: str | None = None
    funder: str | None = None
    theme: str | None = None
    programme: str | None = None
    total: int | float | None
    n: int
    value: int | float | None
    aggregation: str


class Rollup(BaseModel):
    group_by: list[str]
    items: list[RollupRow]
    total: int


class EuRow(BaseModel):
    specific_objective: str
    indicator_code: str
    name: str
    women: int | float
    men: int | float
    non_binary: int | float
    total: int | float


class EuReport(BaseModel):
    cutoff: str
    period_end: dt.date
    items: list[EuRow]


class Thresholds(BaseModel):
    wellbeing_min_effect_size_d: float
    productivity_min_change_pct: float
    privacy_min_respondents: int


class OrganisationClass(BaseModel):
    organisation_id: str
    project_id: str | None
    from_round: str
    to_round: str
    effect_size_d: float | None
    productivity_from: list[str | float] | None = Field(description="[period, value] of the first round.")
    productivity_to: list[str | float] | None = Field(description="[period, value] of the latest round.")
    productivity_change_pct: float | None
    classification: str


class Unclassified(BaseModel):
    organisation_id: str
    from_round: str
    to_round: str
    effect_size_d: float | None
    reason: str


class WellbeingGroup(BaseModel):
    """Counts and shares per class in one group; the group's key is named after `group_by`
    (project, region or theme)."""

    model_config = ConfigDict(extra="allow")
    organisations: int


class WellbeingProductivity(BaseModel):
    instrument: str
    productivity_indicator: str
    thresholds: Thresholds
    organisations_classified: int
    organisations_unclassified: int
    totals: dict[str, int]
    groups: list[WellbeingGroup]
    organisations: list[OrganisationClass] | None = Field(None, description="National roles only.")
    unclassified: list[Unclassified] | None = Field(None, description="National roles only.")


class PeriodCount(BaseModel):
    period: str
    adoptions: int
    cumulative: int


class SpreadItem(BaseModel):
    practice_id: str
    name: Any = Field(description="The practice's name per language, when known.")
    adoptions: int
    within_origin: int
    beyond_origin: int
    by_scope: dict[str, int]
    over_time: list[PeriodCount]
    organisations_reached: int
    regions_reached: int
    regions: list[str]


class Spread(BaseModel):
    items: list[SpreadItem]
    total: int
