"""Registry events of the theme's coordination (issue 14): outputs and lessons, steering groups,
service needs, theme evaluations and follow-ups. They go on the registry's stream
(`fi.teke.registry.*` types); `registry.EVENTS` includes `EVENTS` below."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Text(BaseModel):
    """Text in Finnish (required), Swedish and English (as stored; unbounded here)."""

    model_config = ConfigDict(extra="allow")
    fi: str
    sv: str | None = None
    en: str | None = None


# ---- Project outputs and lessons learned ----

PROJECT_OUTPUT_RECORDED = "fi.teke.registry.project_output.recorded.v1"
PROJECT_OUTPUT_UPDATED = "fi.teke.registry.project_output.updated.v1"
PROJECT_OUTPUT_REMOVED = "fi.teke.registry.project_output.removed.v1"
LESSON_RECORDED = "fi.teke.registry.lesson.recorded.v1"
LESSON_UPDATED = "fi.teke.registry.lesson.updated.v1"
LESSON_REMOVED = "fi.teke.registry.lesson.removed.v1"

OutputKind = Literal["report", "toolkit", "training", "service_model", "publication", "event"]
LessonKind = Literal["lesson", "recommendation"]
LessonAudience = Literal["next_programme_period", "ministries", "funders", "projects",
                         "workplaces", "regional_actors", "coordination_project"]
LessonTopic = Literal["programme_content", "project_launch", "administration", "service_models",
                      "communication", "cooperation", "measurement", "other"]


class ProjectOutputState(BaseModel):
    """A project's output (tuotos): a report, toolkit, training, service model, publication or
    event, with its link. Public when its project is (`project_published`)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    project_id: str
    theme_id: str | None = Field(None, description="The project's theme when this was written.")
    kind: OutputKind
    title: Text
    language: str = Field(description="ISO 639-1 code of the output's language (fi, sv, en, ...).")
    url: str = Field(description="http(s) link to the output.")
    date: dt.date
    description: Text | None = None
    project_published: bool = False


class ProjectOutputRecordedV1(ProjectOutputState):
    """An output of a project was recorded."""


class ProjectOutputUpdatedV1(ProjectOutputState):
    """An output changed; the payload is its new state and the fields that changed."""

    changed_fields: list[str] = Field(default_factory=list)


class ProjectOutputRemovedV1(BaseModel):
    """An output was removed from its project (its history stays)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1, description="The version it had when removed.")
    project_id: str
    theme_id: str | None = None


class LessonState(BaseModel):
    """A lesson learned or a recommendation of a project (e.g. the coordination project's
    recommendations to the next programme period), and to whom it is addressed."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    project_id: str
    theme_id: str | None = None
    kind: LessonKind
    text: Text
    audience: LessonAudience
    topic: LessonTopic | None = None
    project_published: bool = False


class LessonRecordedV1(LessonState):
    """A lesson or recommendation was recorded."""


class LessonUpdatedV1(LessonState):
    """A lesson or recommendation changed; the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


class LessonRemovedV1(BaseModel):
    """A lesson or recommendation was removed (its history stays)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    project_id: str
    theme_id: str | None = None


# ---- The coordination project's work: steering groups and service needs ----

STEERING_MEETING_RECORDED = "fi.teke.registry.steering_meeting.recorded.v1"
SERVICE_NEED_RECORDED = "fi.teke.registry.service_need.recorded.v1"
SERVICE_NEED_TRANSITIONED = "fi.teke.registry.service_need.transitioned.v1"

ServiceNeedStatus = Literal["new", "under_review", "forwarded", "addressed", "declined"]


class SteeringMeetingRecordedV1(BaseModel):
    """A project's steering group met (no participant names: they are personal data)."""

    model_config = ConfigDict(extra="allow")
    id: str
    project_id: str
    date: dt.date
    participant_roles: list[str] = Field(
        default_factory=list, description="The roles present (implementer, funder, ministry...).")
    coordination_attended: bool
    funder_attended: bool


class ServiceNeedState(BaseModel):
    """A service need raised from the regions, as the coordination project triages it."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    theme_id: str
    title: Text
    region_codes: list[str] = Field(default_factory=list)
    target_group_codes: list[str] = Field(default_factory=list)
    project_ids: list[str] = Field(default_factory=list)
    status: ServiceNeedStatus
    organisation_id: str | None = Field(None, description="The organisation that raised it.")


class ServiceNeedRecordedV1(ServiceNeedState):
    """A new service need was recorded (status `new`)."""


class ServiceNeedTransitionedV1(ServiceNeedState):
    """A service need moved on in its triage; `reason` says why (required from forwarded on)."""

    from_status: ServiceNeedStatus
    to_status: ServiceNeedStatus
    reason: str | None = None


# ---- Theme evaluations, recommendations and continuation ----

THEME_EVALUATION_RECORDED = "fi.teke.registry.theme_evaluation.recorded.v1"
THEME_EVALUATION_UPDATED = "fi.teke.registry.theme_evaluation.updated.v1"
RECOMMENDATION_RECORDED = "fi.teke.registry.recommendation.recorded.v1"
RECOMMENDATION_TRANSITIONED = "fi.teke.registry.recommendation.transitioned.v1"
FOLLOW_UP_RECORDED = "fi.teke.registry.follow_up.recorded.v1"

EvaluationKind = Literal["mid_term", "final", "thematic"]
RecommendationStatus = Literal["proposed", "accepted", "in_progress", "implemented", "rejected"]




class ThemeEvaluationState(BaseModel):
    """An external evaluation of a whole national theme (mid-term, final or thematic).

    No personal data: the evaluator is an organisation."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    theme_id: str
    kind: EvaluationKind
    title: Text | None = None
    evaluator: str = Field(description="The evaluating organisation.")
    started: dt.date
    completed: dt.date | None = Field(None, description="Set when the report is done; public then.")
    questions: list[Text] = Field(default_factory=list)
    findings: Text | None = None
    report_url: str | None = None


class ThemeEvaluationRecordedV1(ThemeEvaluationState):
    """A theme evaluation was recorded."""


class ThemeEvaluationUpdatedV1(ThemeEvaluationState):
    """A theme evaluation changed (e.g. it was completed); the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


class RecommendationRecordedV1(BaseModel):
    """An evaluation's recommendation, linked to the projects and practices it concerns."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    evaluation_id: str
    theme_id: str
    number: int = Field(ge=1, description="Its number within the evaluation.")
    text: Text
    addressee: str | None = Field(None, description="The body it is addressed to (not a person).")
    project_ids: list[str] = Field(default_factory=list)
    practice_ids: list[str] = Field(default_factory=list)
    status: RecommendationStatus = "proposed"


class RecommendationTransitionedV1(BaseModel):
    """A recommendation moved towards its outcome (accepted, in progress, implemented, rejected)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The recommendation.")
    version: int = Field(ge=1)
    evaluation_id: str
    theme_id: str
    from_status: RecommendationStatus
    to_status: RecommendationStatus
    date: dt.date
    note: str | None = None


class FollowUpPracticeState(BaseModel):
    model_config = ConfigDict(extra="allow")
    practice_id: str
    in_use: bool
    organisation_ids: list[str] = Field(default_factory=list,
                                        description="Registered organisations using it.")
    users: int = Field(ge=0, description="How many users were named (registered or not).")


class FollowUpRecordedV1(BaseModel):
    """A follow-up of an ended project at 6, 12 or 24 months: which practices are still in use."""

    model_config = ConfigDict(extra="allow")
    id: str
    project_id: str
    theme_id: str | None = None
    months: Literal[6, 12, 24]
    date: dt.date
    practices: list[FollowUpPracticeState] = Field(default_factory=list)


# ---- Synergy and overlap ----
OVERLAP_DOUBLE_FUNDING_FLAGGED = "fi.teke.registry.overlap.double_funding_flagged.v1"
OVERLAP_REPORT_REBUILT = "fi.teke.registry.overlap_report.rebuilt.v1"


class OverlapDoubleFundingFlaggedV1(BaseModel):
    """A rebuild of the national overlap report found a new pair of projects with the same
    workplace in overlapping terms: a risk of double funding the funders must look at."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The pair: '<project id>:<project id>', the smaller id first.")
    project_ids: list[str] = Field(max_length=2, min_length=2)
    funder_ids: list[str] = Field(description="The two projects' funders (none left out).")
    organisation_ids: list[str] = Field(description="The shared workplaces.")
    overlap_from: dt.date
    overlap_to: dt.date | None = Field(None, description="None: both still open.")
    score: float


class OverlapReportRebuiltV1(BaseModel):
    """The precomputed national overlap report was rebuilt (its freshness)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="Always 'national'.")
    built_at: dt.datetime
    change_seq: int = Field(description="The change feed's last seq the report includes.")
    projects: int
    pairs: int
    double_funding_pairs: int
    seconds: float


EVENTS: dict[str, type[BaseModel]] = {
    # ---- outputs and lessons ----
    PROJECT_OUTPUT_RECORDED: ProjectOutputRecordedV1,
    PROJECT_OUTPUT_UPDATED: ProjectOutputUpdatedV1,
    PROJECT_OUTPUT_REMOVED: ProjectOutputRemovedV1,
    LESSON_RECORDED: LessonRecordedV1,
    LESSON_UPDATED: LessonUpdatedV1,
    LESSON_REMOVED: LessonRemovedV1,

    # ---- steering groups and service needs ----
    STEERING_MEETING_RECORDED: SteeringMeetingRecordedV1,
    SERVICE_NEED_RECORDED: ServiceNeedRecordedV1,
    SERVICE_NEED_TRANSITIONED: ServiceNeedTransitionedV1,

    # ---- evaluations and continuation ----
    THEME_EVALUATION_RECORDED: ThemeEvaluationRecordedV1,
    THEME_EVALUATION_UPDATED: ThemeEvaluationUpdatedV1,
    RECOMMENDATION_RECORDED: RecommendationRecordedV1,
    RECOMMENDATION_TRANSITIONED: RecommendationTransitionedV1,
    FOLLOW_UP_RECORDED: FollowUpRecordedV1,

    # ---- synergy and overlap ----
    OVERLAP_DOUBLE_FUNDING_FLAGGED: OverlapDoubleFundingFlaggedV1,
    OVERLAP_REPORT_REBUILT: OverlapReportRebuiltV1,

}
