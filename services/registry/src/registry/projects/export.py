"""The project export's columns and rows: one place for the synchronous export and its job."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, exports
from registry.projects import query as pquery
from registry.projects import repository
from shared.exports import Column
from shared.identity import Identity

# Columns and one row: registry/exports.py (organisations named, codes labelled).
EXPORT_COLUMNS = exports.PROJECT_COLUMNS
PERSONAL_COLUMN = exports.PROJECT_PERSONAL_COLUMN


async def rows(session: AsyncSession, identity: Identity, projects: list, lang: str,
               include_personal: bool) -> tuple[list[dict[str, Any]], bool]:
    """The export rows of these projects, and whether the personal column is in them."""
    persons: dict[str, list[str]] = {}
    allowed = {p.id for p in projects if access.project_private(identity, p)}
    personal = bool(include_personal and allowed)
    if personal:
        persons = await repository.contact_persons(session, list(allowed)[:30000])
    names = await exports.organisation_names(
        session, (i for p in projects for i in (p.organisation_id, p.funder_id)))
    out = [{**exports.project_row(p, names, lang),
            "contact_persons": persons.get(p.id, []) if p.id in allowed else None}
           for p in projects]
    return out, personal


def columns(personal: bool) -> list[Column]:
    return [*EXPORT_COLUMNS, PERSONAL_COLUMN] if personal else list(EXPORT_COLUMNS)


def query_to_json(pq: pquery.ProjectQuery) -> dict[str, Any]:
    """The filters as JSON, for a job to run them later (dates ISO, amounts as strings)."""
    out = dataclasses.asdict(pq)
    for k, v in out.items():
        if isinstance(v, dt.date | Decimal):
            out[k] = str(v) if isinstance(v, Decimal) else v.isoformat()
    return out


def query_from_json(data: dict[str, Any]) -> pquery.ProjectQuery:
    data = dict(data)
    for k in ("active_from", "active_to"):
        if data.get(k):
            data[k] = dt.date.fromisoformat(data[k])
    for k in ("budget_min", "budget_max"):
        if data.get(k) is not None:
            data[k] = Decimal(data[k])
    return pquery.ProjectQuery(**data)
