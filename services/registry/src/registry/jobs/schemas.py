"""What the jobs API answers and accepts."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from registry.projects.imports.schemas import ImportReport
from shared.errors import FieldError

JobKind = Literal["projects.import", "projects.export"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobProgress(BaseModel):
    rows_done: int
    rows_total: int | None = Field(None, description="Unknown until an export has run its query.")


class JobResultLink(BaseModel):
    """Where a finished export's file is served, until when."""

    href: str
    media_type: str
    expires_at: dt.datetime
    expired: bool


class JobRead(BaseModel):
    """A long import or export. `result` when succeeded: the import report (as the synchronous
    import answers it) or the export's download link."""

    id: str
    kind: JobKind
    state: JobState
    owner: str
    progress: JobProgress
    errors: list[FieldError] = Field(description="Errors so far (at most 100; the import "
                                                 "report has every rejected row).")
    cancel_requested: bool
    attempts: int = Field(description="How many times a worker took it up (more than 1: a "
                                      "worker stopped and another resumed it).")
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    links: dict[str, str]
    result: ImportReport | JobResultLink | None = Field(
        None, description="When done: an import's report, an export's download link.")


class JobPage(BaseModel):
    items: list[JobRead]
    total: int
    next_cursor: str | None = None


class QuotaIn(BaseModel):
    max_active: int = Field(ge=1, le=1000, description="Queued or running jobs at once.")


class QuotaRead(BaseModel):
    subject: str
    max_active: int
    default: bool = Field(description="True: no override, the configured default applies.")
