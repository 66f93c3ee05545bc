"""The overlap report's export columns (CSV, XLSX, JSON): one row per pair."""

from __future__ import annotations

from typing import Any

from shared.exports import Column

# The kinds of reason a pair overlaps (overlap/scoring.py), labelled in the export.
REASON_KINDS = {
    "shared_workplace": {"fi": "Yhteinen työpaikka", "sv": "Gemensam arbetsplats",
                         "en": "Shared workplace"},
    "text": {"fi": "Samankaltainen teksti", "sv": "Liknande text", "en": "Similar text"},
    "target_groups": {"fi": "Yhteiset kohderyhmät", "sv": "Gemensamma målgrupper",
                      "en": "Shared target groups"},
    "sub_themes": {"fi": "Yhteiset alateemat", "sv": "Gemensamma underteman",
                   "en": "Shared sub-themes"},
    "regions": {"fi": "Yhteiset maakunnat", "sv": "Gemensamma landskap", "en": "Shared regions"},
    "organisations": {"fi": "Yhteiset organisaatiot", "sv": "Gemensamma organisationer",
                      "en": "Shared organisations"},
}

COLUMNS = [
    Column("project_a_code", {"fi": "Hanke A", "sv": "Projekt A", "en": "Project A"}),
    Column("project_a_name", {"fi": "Hankkeen A nimi", "sv": "Projekt A:s namn",
                              "en": "Project A name"}),
    Column("project_b_code", {"fi": "Hanke B", "sv": "Projekt B", "en": "Project B"}),
    Column("project_b_name", {"fi": "Hankkeen B nimi", "sv": "Projekt B:s namn",
                              "en": "Project B name"}),
    Column("score", {"fi": "Pisteet", "sv": "Poäng", "en": "Score"}),
    Column("text_score", {"fi": "Tekstien samankaltaisuus", "sv": "Textlikhet",
                          "en": "Text similarity"}),
    Column("double_funding", {"fi": "Päällekkäisen rahoituksen riski",
                              "sv": "Risk för dubbelfinansiering", "en": "Double funding risk"}),
    Column("shared_workplaces", {"fi": "Yhteiset työpaikat", "sv": "Gemensamma arbetsplatser",
                                 "en": "Shared workplaces"}),
    Column("reasons", {"fi": "Perusteet", "sv": "Grunder", "en": "Reasons"}),
    Column("shared_workplace_ids", {"fi": "Yhteisten työpaikkojen tunnisteet",
                                    "sv": "Gemensamma arbetsplatsers identifierare",
                                    "en": "Shared workplace IDs"}),
    Column("id", {"fi": "Tunniste", "sv": "Identifierare", "en": "Identifier"}),
]


def _name(brief: dict[str, Any], lang: str) -> str | None:
    name = brief.get("name") or {}
    return name.get(lang) or name.get("fi")


def row(pair: dict[str, Any], lang: str, names: dict[str, dict] | None = None) -> dict[str, Any]:
    """One pair; shared workplaces by name (`names`: organisation id -> name), ids apart."""
    a, b = pair["projects"]
    shared = [r["organisation_id"] for r in pair["reasons"] if r["kind"] == "shared_workplace"]
    return {"id": pair["id"], "project_a_code": a.get("code"), "project_a_name": _name(a, lang),
            "project_b_code": b.get("code"), "project_b_name": _name(b, lang),
            "score": pair["score"], "text_score": pair["text_score"],
            "double_funding": pair["double_funding"],
            "shared_workplaces": [_name({"name": (names or {}).get(i)}, lang) or i for i in shared],
            "shared_workplace_ids": shared,
            "reasons": list(dict.fromkeys(
                (REASON_KINDS.get(r["kind"]) or {}).get(lang) or r["kind"] for r in pair["reasons"]))}
