"""Registry events of the theme's coordination (issue 14): outputs and lessons, steering groups,
service needs, theme evaluations and follow-ups. They go on the registry's stream
(`fi.teke.registry.*` types); `registry.EVENTS` includes `EVENTS` below."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.registry import LocalizedText

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
    title: LocalizedText
    language: str = Field(description="ISO 639-1 code of the output's language (fi, sv, en, ...).")
    url: str = Field(description="http(s) link to the output.")
    date: dt.date
    description: LocalizedText | None = None
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
    text: LocalizedText
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

# ---- Theme evaluations, recommendations and continuation ----

EVENTS: dict[str, type[BaseModel]] = {
    # ---- outputs and lessons ----
    PROJECT_OUTPUT_RECORDED: ProjectOutputRecordedV1,
    PROJECT_OUTPUT_UPDATED: ProjectOutputUpdatedV1,
    PROJECT_OUTPUT_REMOVED: ProjectOutputRemovedV1,
    LESSON_RECORDED: LessonRecordedV1,
    LESSON_UPDATED: LessonUpdatedV1,
    LESSON_REMOVED: LessonRemovedV1,

    # ---- steering groups and service needs ----

    # ---- evaluations and continuation ----

}
