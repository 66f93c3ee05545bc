"""Request bodies of theme evaluations, recommendations and follow-ups (every string and list
bounded)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from shared import limits
from shared.contracts.registry import LocalizedDescription, LocalizedName
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
