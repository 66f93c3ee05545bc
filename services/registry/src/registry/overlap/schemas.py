"""Request bodies and responses of the overlap routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.registry import LocalizedText
from shared.pagination import Page
from shared.types import StrictInput


class RebuildIn(StrictInput):
    """What to rebuild. A body is required (`{}` for a full build), so a stray or garbled body
    is refused instead of starting a rebuild."""

    model_config = ConfigDict(extra="forbid")
    incremental: bool = Field(False, description="Only the pairs of projects changed since the "
                                                 "last build, as the background task does.")


# ---- responses ----

class Freshness(BaseModel):
    """When the report was built, from which change-feed seq, and how many changes since."""

    built_at: dt.datetime | None = None
    change_seq: int | None = None
    changes_since: int | None = None
    stale: bool
    projects: int
    pairs: int
    build_ms: int | None = None


class ProjectBrief(BaseModel):
    """One project of a pair (only `id` if the project is gone since the build)."""

    id: str
    code: str | None = None
    name: LocalizedText | None = None
    theme_id: str | None = None
    region_codes: list[str] = []
    funder_id: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class OverlapPairRead(BaseModel):
    id: str = Field(description="'<project id>:<project id>', the smaller id first.")
    score: float
    text_score: float
    double_funding: bool
    reasons: list[dict[str, Any]] = Field(description="Why the two are alike, strongest first.")
    projects: list[ProjectBrief]
    computed_at: dt.datetime


class OverlapReport(Page[OverlapPairRead]):
    """A page of the national overlap report, with its threshold and freshness."""

    threshold: float
    freshness: Freshness


class RebuildAccepted(BaseModel):
    """A rebuild was asked for; the report's freshness as it is now."""

    accepted: bool
    incremental: bool
    freshness: Freshness
