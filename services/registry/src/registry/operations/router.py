"""GET /operations/export: the EU list of operations, public, CSV or XLSX in fi/sv/en."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from registry.operations import service
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import FILE_RESPONSES, CsvResponse, export_response

router = APIRouter(prefix="/operations", tags=["operations"])


@router.get("/export", summary="The EU list of operations (CSV, XLSX)",
            response_class=CsvResponse, responses={**FILE_RESPONSES, **problem_responses(422)})
async def export_operations(session: SessionDep, format: Literal["csv", "xlsx"] = "csv",
                            lang: Literal["fi", "sv", "en"] = "fi"):
    """Every public project (not drafts, not archived) as an operation with the fields of
    Regulation (EU) 2021/1060, Article 49(3), headings in `lang`; the columns and what was
    verified are at /reference/list-of-operations. No token needed; no natural person named.
    The date of last update is the list's date: its most recently changed project's."""
    rows, _ = await service.rows(session, lang)
    return export_response(rows, service.columns(), format, lang=lang,
                           filename=f"list-of-operations-{lang}")
