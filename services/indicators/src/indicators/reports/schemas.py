"""Report schemas: a project's values for one period, with their disaggregations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from indicators.common import PERIOD_PATTERN
from shared.types import StrictInput


class ValueIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    indicator_code: str = Field(min_length=1, max_length=40)
    value: float = Field(allow_inf_nan=False)
    # e.g. {"gender": {"women": 3, "men": 2, "non_binary": 0}}: each must add up to value.
    disaggregations: dict[str, dict[str, float]] | None = None
    # Pseudonymous ids of what was counted (e.g. business IDs), for counting rules.
    counted_ids: list[str] | None = Field(None, max_length=100000)


class ReportIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=36)
    period: str = Field(pattern=PERIOD_PATTERN)
    values: list[ValueIn] = Field(default_factory=list, max_length=200000)


class ValuesIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    values: list[ValueIn] = Field(max_length=200000)


class ImportIn(StrictInput):
    """Many reports at once (regional systems); all or nothing."""

    model_config = ConfigDict(extra="forbid")
    reports: list[ReportIn] = Field(min_length=1, max_length=10000)
    submit: bool = False


class ReopenIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000)


class TargetIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=36)
    indicator_code: str = Field(min_length=1, max_length=40)
    baseline_value: float | None = Field(None, allow_inf_nan=False)
    baseline_date: dt.date | None = None
    target_value: float = Field(allow_inf_nan=False)
    target_date: dt.date


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    period: str
    period_start: dt.date
    period_end: dt.date
    revision: int
    status: str
    reopen_reason: str | None
    previous_id: str | None
    created_by: str | None
    created_at: dt.datetime
    submitted_by: str | None
    submitted_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None
    values: list[dict[str, Any]] = Field(default_factory=list)
