"""Registry events of the theme's coordination (issue 14): outputs and lessons, steering groups,
service needs, theme evaluations and follow-ups. They go on the registry's stream
(`fi.teke.registry.*` types); `registry.EVENTS` includes `EVENTS` below."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

# ---- Project outputs and lessons learned ----

# ---- The coordination project's work: steering groups and service needs ----

# ---- Theme evaluations, recommendations and continuation ----

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

    # ---- steering groups and service needs ----

    # ---- evaluations and continuation ----

    # ---- synergy and overlap ----
    OVERLAP_DOUBLE_FUNDING_FLAGGED: OverlapDoubleFundingFlaggedV1,
    OVERLAP_REPORT_REBUILT: OverlapReportRebuiltV1,

}
