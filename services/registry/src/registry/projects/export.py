"""The project export's columns and rows: one place for the synchronous export and its job."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, reference
from registry.projects import query as pquery
from registry.projects import repository
from shared.exports import Column
from shared.identity import Identity

EXPORT_COLUMNS = [
    Column("code", {"fi": "Hankenumero", "sv": "Projektnummer", "en": "Project code"}),
    Column("name", {"fi": "Nimi", "sv": "Namn", "en": "Name"}),
    Column("status", {"fi": "Tila", "sv": "Status", "en": "Status"}),
    Column("start_date", {"fi": "Alkaa", "sv": "Börjar", "en": "Start"}),
    Column("end_date", {"fi": "Päättyy", "sv": "Slutar", "en": "End"}),
    Column("regions", {"fi": "Maakunnat", "sv": "Landskap", "en": "Regions"}),
    Column("target_groups", {"fi": "Kohderyhmät", "sv": "Målgrupper", "en": "Target groups"}),
    Column("sub_themes", {"fi": "Alateemat", "sv": "Underteman", "en": "Sub-themes"}),
    Column("budget_total", {"fi": "Budjetti (EUR)", "sv": "Budget (EUR)", "en": "Budget (EUR)"}),
    Column("organisation_id", {"fi": "Toteuttaja", "sv": "Genomförare", "en": "Implementer"}),
    Column("funder_id", {"fi": "Rahoittaja", "sv": "Finansiär", "en": "Funder"}),
    Column("kind", {"fi": "Hanketyyppi", "sv": "Projekttyp", "en": "Project kind"}),
]
PERSONAL_COLUMN = Column("contact_persons", {"fi": "Yhteyshenkilöt", "sv": "Kontaktpersoner",
                                             "en": "Contact persons"})


async def rows(session: AsyncSession, identity: Identity, projects: list, lang: str,
               include_personal: bool) -> tuple[list[dict[str, Any]], bool]:
    """The export rows of these projects, and whether the personal column is in them."""
    persons: dict[str, list[str]] = {}
    allowed = {p.id for p in projects if access.project_private(identity, p)}
    personal = bool(include_personal and allowed)
    if personal:
        persons = await repository.contact_persons(session, list(allowed)[:30000])
    out = []
    for p in projects:
        out.append({
            "code": p.code, "name": (p.name or {}).get(lang) or (p.name or {}).get("fi"),
            "status": reference.label("statuses", p.status, lang),
            "kind": reference.label("project_kinds", p.kind or "development", lang),
            "start_date": p.start_date.isoformat() if p.start_date else None,
            "end_date": p.end_date.isoformat() if p.end_date else None,
            "regions": [reference.label("regions", c, lang) for c in p.region_codes or []],
            "target_groups": [reference.label("target_groups", c, lang) for c in p.target_groups or []],
            "sub_themes": [reference.label("sub_themes", c, lang) for c in p.sub_themes or []],
            "budget_total": str(p.budget_total) if p.budget_total is not None else None,
            "organisation_id": p.organisation_id, "funder_id": p.funder_id,
            "contact_persons": persons.get(p.id, []) if p.id in allowed else None,
        })
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
