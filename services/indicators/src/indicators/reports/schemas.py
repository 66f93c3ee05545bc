"""Report schemas: a project's values for one period, with their disaggregations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict

from indicators.common import PERIOD_PATTERN
from shared.limits import CODE, MAP_KEYS, NOTE
from shared.types import IsoDate, StrictInput

# Values arrive by the hundred thousand (bulk imports), so their bodies are TypedDicts in
# pydantic's strict mode: validated entirely in pydantic-core (about 0.5 us a value, against
# ~19 us for models with StrictInput's per-field Python hook) with the same guarantees: no
# unknown fields, no lax coercion ("5" is not a number, true is not 1), no NUL in text.
_STRICT = ConfigDict(extra="forbid", strict=True)
_NO_NUL = r"^[^\x00]*$"
Text40 = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_NO_NUL)]
CountedId = Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)]
Number = Annotated[float, Field(allow_inf_nan=False)]
Breakdown = Annotated[dict[Text40, Number], Field(max_length=MAP_KEYS)]  # category -> value


class ValueIn(TypedDict):
    """One indicator's value, with its breakdowns."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    indicator_code: Text40
    value: Annotated[float, Field(allow_inf_nan=False)]
    # e.g. {"gender": {"women": 3, "men": 2, "non_binary": 0}}: each must add up to value.
    disaggregations: NotRequired[Annotated[dict[Text40, Breakdown], Field(max_length=MAP_KEYS)] | None]
    # Pseudonymous ids of what was counted (e.g. business IDs), for counting rules.
    counted_ids: NotRequired[Annotated[list[CountedId], Field(max_length=100000)] | None]


class ReportIn(TypedDict):
    """A project's values for one period."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    project_id: Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=_NO_NUL)]
    period: Annotated[str, StringConstraints(max_length=CODE, pattern=PERIOD_PATTERN)]
    values: NotRequired[Annotated[list[ValueIn], Field(max_length=200000)]]


class ValuesIn(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    values: Annotated[list[ValueIn], Field(max_length=200000)]


class ImportIn(TypedDict):
    """Many reports at once (regional systems); all or nothing."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    reports: Annotated[list[ReportIn], Field(min_length=1, max_length=10000)]
    submit: NotRequired[bool]


class ReopenIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=NOTE)


class TargetIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=36)
    indicator_code: str = Field(min_length=1, max_length=40)
    baseline_value: float | None = Field(None, allow_inf_nan=False)
    baseline_date: IsoDate | None = None
    target_value: float = Field(allow_inf_nan=False)
    target_date: IsoDate


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


class TargetOut(BaseModel):
    """A baseline and target (IATI style) and, once reached, when and with what value."""

    id: str
    project_id: str
    indicator_code: str
    baseline_value: float | None
    baseline_date: dt.date | None
    target_value: float
    target_date: dt.date
    reached_on: dt.date | None
    reached_value: float | None
