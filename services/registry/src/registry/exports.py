"""Exports of organisations and good practices (CSV, XLSX, JSON), like the project export.

Code values are labelled in the language asked for. Neither record holds personal data (people
are kept only on projects, as contact persons and steering-group members); what a caller may
see is the list's own visibility rule (practices: published ones for the public).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from registry import reference
from registry.models import Organisation, Practice
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


ORGANISATION_COLUMNS = [
    Column("name", {"fi": "Nimi", "sv": "Namn", "en": "Name"}),
    Column("business_id", {"fi": "Y-tunnus", "sv": "FO-nummer", "en": "Business ID"}),
    Column("kind", {"fi": "Tyyppi", "sv": "Typ", "en": "Kind"}),
    Column("sector", {"fi": "Sektori", "sv": "Sektor", "en": "Sector"}),
    Column("size_class", {"fi": "Kokoluokka", "sv": "Storleksklass", "en": "Size class"}),
    Column("region", {"fi": "Maakunta", "sv": "Landskap", "en": "Region"}),
    Column("authority_code", {"fi": "Viranomaiskoodi", "sv": "Myndighetskod",
                              "en": "Authority code"}),
    Column("successor_id", {"fi": "Seuraaja", "sv": "Efterträdare", "en": "Successor"}),
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
    Column("organisation_id", {"fi": "Omistaja", "sv": "Ägare", "en": "Owner"}),
    Column("published", {"fi": "Julkaistu", "sv": "Publicerad", "en": "Published"}),
    Column("id", {"fi": "Tunniste", "sv": "Identifierare", "en": "Identifier"}),
]


def organisation_row(o: Organisation, lang: str) -> dict[str, Any]:
    return {"id": o.id, "name": _text(o.name, lang), "business_id": o.business_id,
            "kind": reference.label("organisation_kinds", o.kind, lang) if o.kind else None,
            "sector": _label(SECTORS, o.sector, lang),
            "size_class": _label(SIZES, o.size_class, lang),
            "region": reference.label("regions", o.region_code, lang) if o.region_code else None,
            "authority_code": o.authority_code, "successor_id": o.successor_id}


def practice_row(p: Practice, lang: str) -> dict[str, Any]:
    return {"id": p.id, "name": _text(p.name, lang), "kind": _label(PRACTICE_KINDS, p.kind, lang),
            "maturity": _label(MATURITIES, p.maturity, lang),
            "problem": _text(p.problem, lang), "how_to_adopt": _text(p.how_to_adopt, lang),
            "sub_themes": [reference.label("sub_themes", c, lang) for c in p.sub_themes or []],
            "target_groups": [reference.label("target_groups", c, lang)
                              for c in p.target_groups or []],
            "evidence": [e.get("link") for e in p.evidence or [] if isinstance(e, dict)],
            "organisation_id": p.organisation_id, "published": bool(p.published)}
