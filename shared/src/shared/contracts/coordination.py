"""Registry events of the theme's coordination (issue 14): outputs and lessons, steering groups,
service needs, theme evaluations and follow-ups. They go on the registry's stream
(`fi.teke.registry.*` types); `registry.EVENTS` includes `EVENTS` below."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# ---- Project outputs and lessons learned ----

# ---- The coordination project's work: steering groups and service needs ----

# ---- Theme evaluations, recommendations and continuation ----

THEME_EVALUATION_RECORDED = "fi.teke.registry.theme_evaluation.recorded.v1"
THEME_EVALUATION_UPDATED = "fi.teke.registry.theme_evaluation.updated.v1"
RECOMMENDATION_RECORDED = "fi.teke.registry.recommendation.recorded.v1"
RECOMMENDATION_TRANSITIONED = "fi.teke.registry.recommendation.transitioned.v1"
FOLLOW_UP_RECORDED = "fi.teke.registry.follow_up.recorded.v1"

EvaluationKind = Literal["mid_term", "final", "thematic"]
RecommendationStatus = Literal["proposed", "accepted", "in_progress", "implemented", "rejected"]


class _Text(BaseModel):
    """Text in Finnish (required), Swedish and English (as stored; unbounded here)."""

    model_config = ConfigDict(extra="allow")
    fi: str
    sv: str | None = None
    en: str | None = None


class ThemeEvaluationState(BaseModel):
    """An external evaluation of a whole national theme (mid-term, final or thematic).

    No personal data: the evaluator is an organisation."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    theme_id: str
    kind: EvaluationKind
    title: _Text | None = None
    evaluator: str = Field(description="The evaluating organisation.")
    started: dt.date
    completed: dt.date | None = Field(None, description="Set when the report is done; public then.")
    questions: list[_Text] = Field(default_factory=list)
    findings: _Text | None = None
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
    text: _Text
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


EVENTS: dict[str, type[BaseModel]] = {
    # ---- outputs and lessons ----

    # ---- steering groups and service needs ----

    # ---- evaluations and continuation ----
    THEME_EVALUATION_RECORDED: ThemeEvaluationRecordedV1,
    THEME_EVALUATION_UPDATED: ThemeEvaluationUpdatedV1,
    RECOMMENDATION_RECORDED: RecommendationRecordedV1,
    RECOMMENDATION_TRANSITIONED: RecommendationTransitionedV1,
    FOLLOW_UP_RECORDED: FollowUpRecordedV1,

}
