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


EVENTS: dict[str, type[BaseModel]] = {
    REPORT_SUBMITTED: ReportSubmittedV1,
    REPORT_APPROVED: ReportApprovedV1,
    REPORT_REOPENED: ReportReopenedV1,
    TARGET_REACHED: TargetReachedV1,
    SURVEY_ROUND_CLOSED: SurveyRoundClosedV1,
}
