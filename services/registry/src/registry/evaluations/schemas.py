"""Request bodies (every string and list bounded) and responses of theme evaluations,
recommendations and follow-ups."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import limits
from shared.contracts.coordination import RecommendationStatus
from shared.contracts.registry import LocalizedDescription, LocalizedName, LocalizedText
from shared.limits import CodeStr, ShortStr
from shared.types import IsoDate, StrictInput

EvaluationKind = Literal["mid_term", "final", "thematic"]
Outcome = Literal["accepted", "in_progress", "implemented", "rejected"]
Months = Literal[6, 12, 24]
URL = Field(None, max_length=500, pattern=r"^https?://\S+$")


class EvaluationIn(StrictInput):
    """A theme evaluation. On create `theme_id`, `kind`, `evaluator` and `started` are required;
    a completed evaluation needs its findings."""

    model_config = ConfigDict(extra="forbid")

    theme_id: str | None = Field(None, max_length=limits.CODE)
    kind: EvaluationKind | None = None
    title: LocalizedName | None = None
    evaluator: ShortStr | None = Field(None, min_length=1,
                                       description="The evaluating organisation (not a person).")
    started: IsoDate | None = None
    completed: IsoDate | None = Field(None, description="When the report was done: public then.")
    questions: list[LocalizedName] | None = Field(None, max_length=50)
    findings: LocalizedDescription | None = None
    report_url: str | None = URL


class RecommendationIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    text: LocalizedDescription
    project_ids: list[CodeStr] = Field(default_factory=list, max_length=limits.CODES)
    practice_ids: list[CodeStr] = Field(default_factory=list, max_length=limits.CODES)
    addressee: ShortStr | None = Field(
        None, min_length=1, description="The body it is addressed to (a ministry, the funders); "
                                        "not a person.")


class TransitionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    to: Outcome
    note: str | None = Field(None, max_length=limits.NOTE,
                             description="Why; required when the recommendation is rejected.")
    date: IsoDate | None = Field(None, description="When it was decided; today if left out.")


class UserIn(StrictInput):
    """Who uses the practice: a registered organisation, or a name (an organisation's, not a
    person's)."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: str | None = Field(None, max_length=limits.CODE)
    name: ShortStr | None = Field(None, min_length=1)


class FollowUpPracticeIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    practice_id: str = Field(max_length=limits.CODE)
    in_use: bool
    used_by: list[UserIn] = Field(default_factory=list, max_length=200)
    note: str | None = Field(None, max_length=limits.NOTE)


class FollowUpIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    months: Months
    date: IsoDate
    practices: list[FollowUpPracticeIn] = Field(min_length=1, max_length=200)


# ---- responses ----

class StepView(BaseModel):
    """A step of a recommendation towards its outcome; `actor` for coordinators and admins."""

    from_status: RecommendationStatus | None = None
    to_status: RecommendationStatus
    date: dt.date | None = None
    note: str | None = None
    at: dt.datetime
    actor: str | None = None


class RecommendationRead(BaseModel):
    """A recommendation of a theme evaluation, its links (those the caller may see) and steps."""

    id: str
    version: int
    evaluation_id: str
    theme_id: str
    number: int
    text: LocalizedText
    addressee: str | None = None
    status: RecommendationStatus
    status_date: dt.date | None = None
    project_ids: list[str]
    practice_ids: list[str]
    steps: list[StepView]
    created_at: dt.datetime
    updated_at: dt.datetime


class ThemeEvaluationRead(BaseModel):
    """A theme evaluation with its recommendations and their outcomes."""

    id: str
    version: int
    theme_id: str
    kind: EvaluationKind
    title: LocalizedText | None = None
    evaluator: str
    started: dt.date
    completed: dt.date | None = None
    questions: list[LocalizedText] = []
    findings: LocalizedText | None = None
    report_url: str | None = None
    status: Literal["ongoing", "completed"]
    created_at: dt.datetime
    updated_at: dt.datetime
    recommendations: list[RecommendationRead] = []


class UserView(BaseModel):
    organisation_id: str | None = None
    name: str | None = None


class FollowUpPracticeView(BaseModel):
    practice_id: str
    name: LocalizedText | None = None
    in_use: bool
    used_by: list[UserView] = []
    note: str | None = Field(None, description="Only to those who may see the project's private parts.")


class FollowUpRead(BaseModel):
    """A follow-up of an ended project (practices the caller may not see left out)."""

    id: str
    project_id: str
    theme_id: str | None = None
    months: Months
    date: dt.date
    due_from: dt.date | None = None
    practices: list[FollowUpPracticeView]
    created_at: dt.datetime


class ContinuationItem(BaseModel):
    practice_id: str
    name: LocalizedText | None = None
    project_id: str
    project_code: str
    project_end_date: dt.date | None = None
    follow_up_date: dt.date
    in_use: bool
    users: int


class Continuation(BaseModel):
    """Practices of ended projects still in use `months` after the end: counts and a page of
    the practices followed."""

    theme_id: str | None = None
    months: Months
    ended_projects: int
    projects_followed: int
    projects_due: int
    practices_followed: int
    practices_in_use: int
    share_in_use: float | None = None
    items: list[ContinuationItem]
    items_total: int = Field(description="The practices followed (as `total`).")
    total: int
    next_cursor: str | None = None
