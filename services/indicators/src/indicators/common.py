"""Periods, project lookup and who may do what with a project's figures."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.models import project_extra, project_projection
from shared import limits
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.exports import FILE_RESPONSES
from shared.identity import Identity

# Years 1900-2199: a period is a calendar span of a programme, and year 0 has no date.
PERIOD_RE = re.compile(r"^((?:19|20|21)\d{2})(?:(H)([12])|(Q)([1-4]))?$")
PERIOD_PATTERN = r"^(19|20|21)\d{2}(H[12]|Q[1-4])?$"


def period_bounds(period: str, field: str = "body/period") -> tuple[dt.date, dt.date]:
    """First and last day of YYYY, YYYYH1/H2 (ending June / December) or YYYYQ1-4."""
    m = PERIOD_RE.match(period or "")
    if not m:
        raise Unprocessable("invalid period", errors=[{
            "field": field, "type": "period",
            "message": "use YYYY, YYYYH1, YYYYH2 or YYYYQ1..YYYYQ4"}])
    year = int(m.group(1))
    if m.group(2):
        half = int(m.group(3))
        return (dt.date(year, 1, 1), dt.date(year, 6, 30)) if half == 1 else \
            (dt.date(year, 7, 1), dt.date(year, 12, 31))
    if m.group(4):
        q = int(m.group(5))
        start = dt.date(year, 3 * q - 2, 1)
        end = (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)) - dt.timedelta(days=1)
        return start, end
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def period_of(day: dt.date, kind: str) -> str:
    if kind == "H":
        return f"{day.year}H{1 if day.month <= 6 else 2}"
    if kind == "Q":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


async def get_project(session: AsyncSession, project_id: str) -> dict[str, Any]:
    row = (await session.execute(
        select(project_projection, project_extra.c.theme_id, project_extra.c.programme_id,
               project_extra.c.archived)
        .outerjoin(project_extra, project_extra.c.id == project_projection.c.id)
        .where(project_projection.c.id == project_id))).mappings().first()
    if row is None:
        raise NotFound(f"no project {project_id} known to indicators")
    return dict(row)


def is_implementer_of(identity: Identity, project: dict[str, Any]) -> bool:
    return bool(identity.has_role("implementer") and identity.org
                and identity.org == project["organisation_id"])


def is_funder_of(identity: Identity, project: dict[str, Any]) -> bool:
    return bool(identity.has_role("funder") and identity.org
                and identity.org == project["funder_id"])


def may_see(identity: Identity, project: dict[str, Any]) -> bool:
    return identity.is_national or is_implementer_of(identity, project) or \
        is_funder_of(identity, project)


def require_see(identity: Identity, project: dict[str, Any]) -> None:
    if not may_see(identity, project):
        # Not 404: the project is public in the registry; its figures are not yours.
        raise Forbidden("you may not see this project's figures")


def require_report(identity: Identity, project: dict[str, Any]) -> None:
    if not (identity.is_national or is_implementer_of(identity, project)):
        raise Forbidden("only the project's implementer (or a coordinator) reports its figures")


def require_approve(identity: Identity, project: dict[str, Any]) -> None:
    if not (identity.has_role("admin") or is_funder_of(identity, project)):
        raise Forbidden("only the project's funder approves its reports")


def visible_project_filter(identity: Identity):
    """A WHERE clause on project_projection limiting rows to what the caller may see."""
    t = project_projection
    if identity.is_national:
        return None
    conds = []
    if identity.has_role("implementer") and identity.org:
        conds.append(t.c.organisation_id == identity.org)
    if identity.has_role("funder") and identity.org:
        conds.append(t.c.funder_id == identity.org)
    if not conds:
        return t.c.id.is_(None)  # nothing
    from sqlalchemy import or_
    return or_(*conds)


def field_error(field: str, type_: str, message: str) -> dict[str, str]:
    return {"field": field, "type": type_, "message": message}


# The other media types of a list or analysis with a `format` parameter (its JSON body is the
# operation's response model, with or without `format=json`).
EXPORTABLE: dict[int | str, dict[str, Any]] = {
    200: {**FILE_RESPONSES[200],
          "description": "The result; with `format=csv` or `xlsx`, its rows as a file."},
}


def _file_format(value: str | None) -> str | None:
    # `format=json` once gave the rows as `{items}` without the operation's envelope, so the
    # JSON body disagreed with the contract; JSON is now always the operation's typed body.
    return None if value == "json" else value


# The `format` of a list or analysis: csv or xlsx for a file; json (kept for old clients) is
# the same as no format.
ExportFormat = Annotated[str | None, Query(max_length=limits.CODE, pattern="^(csv|xlsx|json)$",
                                           description="csv or xlsx for a file of the rows; "
                                           "json (or none) for the typed JSON body."),
                         AfterValidator(_file_format)]
