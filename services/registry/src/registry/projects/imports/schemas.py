"""What an import answers: the per-row report, and its problem types."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from shared.errors import AppError, FieldError, Problem, Unprocessable


class ImportRow(BaseModel):
    """One input row's outcome: created, updated, unchanged or rejected (with its errors)."""

    row: int
    code: Any = None
    result: Literal["created", "updated", "unchanged", "rejected"]
    id: str | None = None
    errors: list[FieldError] | None = None


class ImportSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class ImportReport(BaseModel):
    """The per-row report of an import (200)."""

    mode: Literal["best_effort", "all_or_nothing"]
    dry_run: bool
    summary: ImportSummary
    rows: list[ImportRow]
    written: bool


class ImportRefusedProblem(Problem):
    """422 problem+json. When `mode=all_or_nothing` refuses the batch (type
    `.../import-refused`), the per-row report comes as extension members (RFC 9457 §3.2):
    `mode`, `dry_run`, `summary`, `rows` and `written: false`. Other 422s (an unreadable body,
    too many rows, a bad parameter) carry `errors` only."""

    mode: Literal["best_effort", "all_or_nothing"] | None = None
    dry_run: bool | None = None
    summary: ImportSummary | None = None
    rows: list[ImportRow] | None = None
    written: bool | None = None


class ImportRefused(Unprocessable):
    slug, title = "import-refused", "Import refused"


class Unsupported(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"
