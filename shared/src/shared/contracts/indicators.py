"""Events the indicators service produces (stream TEKE_INDICATORS, subjects teke.indicators.>).

Figures in payloads are approved, project-level values; no payload carries survey figures
for fewer respondents than the privacy threshold.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from shared.events.consumer import StreamSpec

STREAM = StreamSpec(name="TEKE_INDICATORS", subjects=("teke.indicators.>",))

REPORT_SUBMITTED = "fi.teke.indicators.report.submitted.v1"
REPORT_APPROVED = "fi.teke.indicators.report.approved.v1"
REPORT_REOPENED = "fi.teke.indicators.report.reopened.v1"
TARGET_REACHED = "fi.teke.indicators.target.reached.v1"
SURVEY_ROUND_CLOSED = "fi.teke.indicators.survey_round.closed.v1"
GOAL_CREATED = "fi.teke.indicators.goal.created.v1"
GOAL_UPDATED = "fi.teke.indicators.goal.updated.v1"


class ReportEvent(BaseModel):
    """A project's report for one period moved in its workflow."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The report.")
    project_id: str
    period: str = Field(description="e.g. 2025H1, 2025Q3, 2025")
    revision: int = Field(ge=1)
    status: str
    indicator_codes: list[str] = Field(default_factory=list)
    actor: str | None = None
    reason: str | None = None


class ReportSubmittedV1(ReportEvent):
    """An implementer submitted a report for approval."""


class ReportApprovedV1(ReportEvent):
    """The project's funder approved a report."""


class ReportReopenedV1(ReportEvent):
    """An approved report was reopened for correction (with a reason)."""


class TargetReachedV1(BaseModel):
    """A project's approved values reached one of its targets."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The target.")
    project_id: str
    indicator_code: str
    target_value: float
    value: float
    period: str
    reached_on: dt.date


class SurveyRoundClosedV1(BaseModel):
    """A survey round closed; results are available (subject to the privacy threshold)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The survey round.")
    project_id: str | None = None
    organisation_id: str | None = None
    instrument: str
    label: str = Field(description="T0, T1, ...")
    closed_at: dt.datetime
    results_available: bool = Field(description="False when fewer responded than the threshold.")


class GoalIndicatorState(BaseModel):
    """An indicator measuring a theme goal, with its theme-level baseline and target."""

    model_config = ConfigDict(extra="allow")
    indicator_code: str
    period: str = Field(description="YYYY, YYYYH1/H2, YYYYQ1-4 or a span of years, e.g. 2021-2027")
    baseline: float | None = None
    target: float
    unit: str | None = None
    unverified: bool = Field(False, description="The numbers are placeholders nobody has checked.")


class GoalState(BaseModel):
    """A goal of a national theme (the theme card's "Tavoitteena") with its indicators."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The goal.")
    version: int = Field(ge=1)
    theme_id: str
    code: str
    name: dict[str, str] = Field(description="fi (required), sv, en")
    description: dict[str, str] | None = None
    indicators: list[GoalIndicatorState] = Field(default_factory=list)


class GoalCreatedV1(GoalState):
    """A theme goal was added."""


class GoalUpdatedV1(GoalState):
    """A theme goal changed (its texts or its indicators); the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


EVENTS: dict[str, type[BaseModel]] = {
    REPORT_SUBMITTED: ReportSubmittedV1,
    REPORT_APPROVED: ReportApprovedV1,
    REPORT_REOPENED: ReportReopenedV1,
    TARGET_REACHED: TargetReachedV1,
    SURVEY_ROUND_CLOSED: SurveyRoundClosedV1,
    GOAL_CREATED: GoalCreatedV1,
    GOAL_UPDATED: GoalUpdatedV1,
}
