"""Export columns and rows of projects, organisations and good practices (CSV, XLSX, JSON).

Code values are labelled in the language asked for, in the code's own column. A column that
refers to an organisation names it (`organisation_names`), and the id follows in its own
column. Organisations and practices hold no personal data (people are kept only on projects,
as contact persons and steering-group members); what a caller may see is the list's own
visibility rule (practices: published ones for the public).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import reference
from registry.models import Organisation, Practice, Project
from shared.exports import MEDIA_TYPES, Column

Lang = Literal["fi", "sv", "en"]
Format = Literal["csv", "xlsx", "json"]



def export_responses(name: str, columns: Sequence[Column]) -> dict[int | str, dict[str, Any]]:
    """An export's 200 for the route decorator: the JSON body typed by its columns (`items` of
    rows with one key a column), then CSV and XLSX. JSON comes first: generated clients parse
    the first media type they know."""
    row = create_model(f"{name}ExportRow", __config__=ConfigDict(extra="allow"),
                       **{c.key: (Any, ...) for c in columns})
    body = create_model(f"{name}Export", __base__=_Export, items=(list[row], ...))
    return {200: {"model": body, "description": "The rows as CSV, XLSX or JSON (`format`).",
                  "content": {MEDIA_TYPES["csv"]: {"schema": {"type": "string"}},
                              MEDIA_TYPES["xlsx"]: {"schema": {"type": "string",
                                                               "format": "binary"}}}}}


class _Export(BaseModel):
    """The JSON export: every row, one key a column (code values labelled in `lang`)."""


# Codes without a list in /reference.
SECTORS = {"public": {"fi": "Julkinen", "sv": "Offentlig", "en": "Public"},
           "private": {"fi": "Yksityinen", "sv": "Privat", "en": "Private"},
           "third": {"fi": "Kolmas sektori", "sv": "Tredje sektorn", "en": "Third sector"}}
SIZES = {"micro": {"fi": "Mikroyritys", "sv": "Mikroföretag", "en": "Micro"},
         "small": {"fi": "Pieni", "sv": "Litet", "en": "Small"},
         "medium": {"fi": "Keskisuuri", "sv": "Medelstort", "en": "Medium"},
         "large": {"fi": "Suuri", "sv": "Stort", "en": "Large"}}
MATURITIES = {"idea": {"fi": "Idea", "sv": "Idé", "en": "Idea"},
              "piloted": {"fi": "Pilotoitu", "sv": "Pilottestad", "en": "Piloted"},
              "evaluated": {"fi": "Arvioitu", "sv": "Utvärderad", "en": "Evaluated"},
              "adopted_nationally": {"fi": "Käytössä valtakunnallisesti",
                                     "sv": "Används nationellt", "en": "Adopted nationally"}}
PRACTICE_KINDS = {"practice": {"fi": "Hyvä käytäntö", "sv": "God praxis", "en": "Good practice"},
                  "service_model": {"fi": "Palvelumalli", "sv": "Servicemodell",
                                    "en": "Service model"}}


def _label(table: dict[str, dict[str, str]], code: str | None, lang: str) -> str | None:
    if code is None:
        return None
    entry = table.get(code) or {}
    return entry.get(lang) or entry.get("fi") or code


def _text(value: dict | None, lang: str) -> str | None:
    return (value or {}).get(lang) or (value or {}).get("fi") if value else None


Names = dict[str, dict]  # organisation id -> its name (fi/sv/en)


async def organisation_names(session: AsyncSession, ids: Iterable[str | None]) -> Names:
    """The names of these organisations, a few queries for any number of ids."""
    wanted = sorted({i for i in ids if i})
    out: Names = {}
    for c in range(0, len(wanted), 500):
        out.update((await session.execute(select(Organisation.id, Organisation.name).where(
            Organisation.id.in_(wanted[c:c + 500])))).tuples().all())
    return out


def org_name(names: Names, org_id: str | None, lang: str) -> str | None:
    """An organisation's name in `lang` (Finnish when missing); None when it is not known."""
    return _text(names.get(org_id), lang) if org_id else None


def _h(fi: str, sv: str, en: str) -> dict[str, str]:
    return {"fi": fi, "sv": sv, "en": en}


# The project export (GET /projects/export). The first columns keep their places (clients read
# them by position); organisations by name, their ids in the last columns.
PROJECT_COLUMNS = [
    Column("code", _h("Hankenumero", "Projektnummer", "Project code")),
    Column("name", _h("Nimi", "Namn", "Name")),
    Column("status", _h("Tila", "Status", "Status")),
    Column("start_date", _h("Alkaa", "Börjar", "Start")),
    Column("end_date", _h("Päättyy", "Slutar", "End")),
    Column("regions", _h("Maakunnat", "Landskap", "Regions")),
    Column("target_groups", _h("Kohderyhmät", "Målgrupper", "Target groups")),
    Column("sub_themes", _h("Alateemat", "Underteman", "Sub-themes")),
    Column("budget_total", _h("Budjetti (EUR)", "Budget (EUR)", "Budget (EUR)")),
    Column("organisation", _h("Toteuttaja", "Genomförare", "Implementer")),
    Column("funder", _h("Rahoittaja", "Finansiär", "Funder")),
    Column("kind", _h("Hanketyyppi", "Projekttyp", "Project kind")),
    Column("co_financing_rate", _h("EU:n osarahoitusosuus (%)", "Unionens medfinansieringsandel (%)",
                                   "EU co-financing rate (%)")),
    Column("intervention_type", _h("Toimenpidetyyppi", "Typ av åtgärd", "Type of intervention")),
    Column("organisation_id", _h("Toteuttajan tunniste", "Genomförarens identifierare",
                                 "Implementer ID")),
    Column("funder_id", _h("Rahoittajan tunniste", "Finansiärens identifierare", "Funder ID")),
]
PROJECT_PERSONAL_COLUMN = Column("contact_persons", _h("Yhteyshenkilöt", "Kontaktpersoner",
                                                       "Contact persons"))


def intervention_label(code: str | None, lang: str) -> str | None:
    """'146 Support for adaptation ...': the Annex I code and its label."""
    if not code:
        return None
    label = reference.label("intervention_types", code, lang)
    return code if label == code else f"{code} {label}"


def project_row(p: Project, names: Names, lang: str) -> dict[str, Any]:
    return {
        "code": p.code, "name": _text(p.name, lang),
        "status": reference.label("statuses", p.status, lang),
        "kind": reference.label("project_kinds", p.kind or "development", lang),
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None,
        "regions": [reference.label("regions", c, lang) for c in p.region_codes or []],
        "target_groups": [reference.label("target_groups", c, lang) for c in p.target_groups or []],
        "sub_themes": [reference.label("sub_themes", c, lang) for c in p.sub_themes or []],
        "budget_total": str(p.budget_total) if p.budget_total is not None else None,
        "organisation": org_name(names, p.organisation_id, lang),
        "funder": org_name(names, p.funder_id, lang),
        "co_financing_rate": str(p.co_financing_rate) if p.co_financing_rate is not None else None,
        "intervention_type": intervention_label(p.intervention_type, lang),
        "organisation_id": p.organisation_id, "funder_id": p.funder_id,
    }


ORGANISATION_COLUMNS = [
    Column("name", {"fi": "Nimi", "sv": "Namn", "en": "Name"}),
    Column("business_id", {"fi": "Y-tunnus", "sv": "FO-nummer", "en": "Business ID"}),
    Column("kind", {"fi": "Tyyppi", "sv": "Typ", "en": "Kind"}),
    Column("sector", {"fi": "Sektori", "sv": "Sektor", "en": "Sector"}),
    Column("size_class", {"fi": "Kokoluokka", "sv": "Storleksklass", "en": "Size class"}),
    Column("region", {"fi": "Maakunta", "sv": "Landskap", "en": "Region"}),
    Column("authority_code", {"fi": "Viranomaiskoodi", "sv": "Myndighetskod",
                              "en": "Authority code"}),
    Column("successor", {"fi": "Seuraaja", "sv": "Efterträdare", "en": "Successor"}),
    Column("successor_id", _h("Seuraajan tunniste", "Efterträdarens identifierare",
                              "Successor ID")),
    Column("id", {"fi": "Tunniste", "sv": "Identifierare", "en": "Identifier"}),
]

PRACTICE_COLUMNS = [
    Column("name", {"fi": "Nimi", "sv": "Namn", "en": "Name"}),
    Column("kind", {"fi": "Tyyppi", "sv": "Typ", "en": "Kind"}),
    Column("maturity", {"fi": "Kypsyys", "sv": "Mognad", "en": "Maturity"}),
    Column("problem", {"fi": "Ratkaistava ongelma", "sv": "Problem", "en": "Problem solved"}),
    Column("how_to_adopt", {"fi": "Käyttöönotto", "sv": "Införande", "en": "How to adopt"}),
    Column("sub_themes", {"fi": "Alateemat", "sv": "Underteman", "en": "Sub-themes"}),
    Column("target_groups", {"fi": "Kohderyhmät", "sv": "Målgrupper", "en": "Target groups"}),
    Column("evidence", {"fi": "Näyttö", "sv": "Belägg", "en": "Evidence"}),
    Column("organisation", {"fi": "Omistaja", "sv": "Ägare", "en": "Owner"}),
    Column("published", {"fi": "Julkaistu", "sv": "Publicerad", "en": "Published"}),
    Column("organisation_id", _h("Omistajan tunniste", "Ägarens identifierare", "Owner ID")),
    Column("id", {"fi": "Tunniste", "sv": "Identifierare", "en": "Identifier"}),
]


def organisation_row(o: Organisation, lang: str, names: Names | None = None) -> dict[str, Any]:
    return {"id": o.id, "name": _text(o.name, lang), "business_id": o.business_id,
            "kind": reference.label("organisation_kinds", o.kind, lang) if o.kind else None,
            "sector": _label(SECTORS, o.sector, lang),
            "size_class": _label(SIZES, o.size_class, lang),
            "region": reference.label("regions", o.region_code, lang) if o.region_code else None,
            "authority_code": o.authority_code, "successor_id": o.successor_id,
            "successor": org_name(names or {}, o.successor_id, lang)}


def practice_row(p: Practice, lang: str, names: Names | None = None) -> dict[str, Any]:
    return {"id": p.id, "name": _text(p.name, lang), "kind": _label(PRACTICE_KINDS, p.kind, lang),
            "maturity": _label(MATURITIES, p.maturity, lang),
            "problem": _text(p.problem, lang), "how_to_adopt": _text(p.how_to_adopt, lang),
            "sub_themes": [reference.label("sub_themes", c, lang) for c in p.sub_themes or []],
            "target_groups": [reference.label("target_groups", c, lang)
                              for c in p.target_groups or []],
            "evidence": [e.get("link") for e in p.evidence or [] if isinstance(e, dict)],
            "organisation_id": p.organisation_id, "published": bool(p.published),
            "organisation": org_name(names or {}, p.organisation_id, lang)}
