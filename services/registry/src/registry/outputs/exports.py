"""Export columns and rows of outputs and lessons (CSV, XLSX, JSON), codes labelled in the
language asked for. Neither holds personal data (who recorded it stays out)."""

from __future__ import annotations

from typing import Any

from shared.exports import Column

OUTPUT_KINDS = {
    "report": {"fi": "Raportti", "sv": "Rapport", "en": "Report"},
    "toolkit": {"fi": "Työkalu", "sv": "Verktyg", "en": "Toolkit"},
    "training": {"fi": "Koulutus", "sv": "Utbildning", "en": "Training"},
    "service_model": {"fi": "Palvelumalli", "sv": "Servicemodell", "en": "Service model"},
    "publication": {"fi": "Julkaisu", "sv": "Publikation", "en": "Publication"},
    "event": {"fi": "Tilaisuus", "sv": "Evenemang", "en": "Event"},
}
LANGUAGES = {
    "fi": {"fi": "suomi", "sv": "finska", "en": "Finnish"},
    "sv": {"fi": "ruotsi", "sv": "svenska", "en": "Swedish"},
    "en": {"fi": "englanti", "sv": "engelska", "en": "English"},
    "se": {"fi": "pohjoissaame", "sv": "nordsamiska", "en": "Northern Sami"},
    "ru": {"fi": "venäjä", "sv": "ryska", "en": "Russian"},
    "et": {"fi": "viro", "sv": "estniska", "en": "Estonian"},
}
LESSON_KINDS = {
    "lesson": {"fi": "Opittu asia", "sv": "Lärdom", "en": "Lesson learned"},
    "recommendation": {"fi": "Suositus", "sv": "Rekommendation", "en": "Recommendation"},
}
AUDIENCES = {
    "next_programme_period": {"fi": "Seuraava ohjelmakausi", "sv": "Nästa programperiod",
                              "en": "Next programme period"},
    "ministries": {"fi": "Ministeriöt", "sv": "Ministerierna", "en": "Ministries"},
    "funders": {"fi": "Rahoittajat", "sv": "Finansiärer", "en": "Funders"},
    "projects": {"fi": "Hankkeet", "sv": "Projekt", "en": "Projects"},
    "workplaces": {"fi": "Työpaikat", "sv": "Arbetsplatser", "en": "Workplaces"},
    "regional_actors": {"fi": "Alueelliset toimijat", "sv": "Regionala aktörer",
                        "en": "Regional actors"},
    "coordination_project": {"fi": "Koordinaatiohanke", "sv": "Koordineringsprojektet",
                             "en": "Coordination project"},
}
TOPICS = {
    "programme_content": {"fi": "Ohjelmakauden sisällöt", "sv": "Programmets innehåll",
                          "en": "Programme content"},
    "project_launch": {"fi": "Hankkeiden käynnistäminen", "sv": "Projektstart",
                       "en": "Launching projects"},
    "administration": {"fi": "Hallinnointi", "sv": "Förvaltning", "en": "Administration"},
    "service_models": {"fi": "Palvelumallit", "sv": "Servicemodeller", "en": "Service models"},
    "communication": {"fi": "Viestintä", "sv": "Kommunikation", "en": "Communication"},
    "cooperation": {"fi": "Yhteistyö", "sv": "Samarbete", "en": "Cooperation"},
    "measurement": {"fi": "Mittaaminen", "sv": "Mätning", "en": "Measurement"},
    "other": {"fi": "Muu", "sv": "Annat", "en": "Other"},
}


def _h(fi: str, sv: str, en: str) -> dict[str, str]:
    return {"fi": fi, "sv": sv, "en": en}


PROJECT_COLUMNS = [Column("project_code", _h("Hankenumero", "Projektnummer", "Project code")),
                   Column("project_name", _h("Hanke", "Projekt", "Project"))]
OUTPUT_COLUMNS = [
    Column("title", _h("Nimi", "Namn", "Title")),
    Column("kind", _h("Tyyppi", "Typ", "Kind")),
    Column("language", _h("Kieli", "Språk", "Language")),
    Column("date", _h("Päivämäärä", "Datum", "Date")),
    Column("url", _h("Linkki", "Länk", "Link")),
    Column("description", _h("Kuvaus", "Beskrivning", "Description")),
    *PROJECT_COLUMNS,
    Column("id", _h("Tunniste", "Identifierare", "Identifier")),
]
LESSON_COLUMNS = [
    Column("kind", _h("Tyyppi", "Typ", "Kind")),
    Column("text", _h("Sisältö", "Innehåll", "Text")),
    Column("audience", _h("Kenelle", "Mottagare", "Audience")),
    Column("topic", _h("Aihe", "Ämne", "Topic")),
    *PROJECT_COLUMNS,
    Column("id", _h("Tunniste", "Identifierare", "Identifier")),
]


def _label(table: dict[str, dict[str, str]], code: str | None, lang: str) -> str | None:
    if code is None:
        return None
    return (table.get(code) or {}).get(lang) or code


def _text(value: dict | None, lang: str) -> str | None:
    return (value.get(lang) or value.get("fi")) if value else None


def _project(project: tuple[str, dict] | None, lang: str) -> dict[str, Any]:
    code, name = project or (None, None)
    return {"project_code": code, "project_name": _text(name, lang)}


def output_row(o: Any, project: tuple[str, dict] | None, lang: str) -> dict[str, Any]:
    return {"id": o.id, "title": _text(o.title, lang), "kind": _label(OUTPUT_KINDS, o.kind, lang),
            "language": _label(LANGUAGES, o.language, lang), "date": o.date, "url": o.url,
            "description": _text(o.description, lang), **_project(project, lang)}


def lesson_row(lesson: Any, project: tuple[str, dict] | None, lang: str) -> dict[str, Any]:
    return {"id": lesson.id, "kind": _label(LESSON_KINDS, lesson.kind, lang),
            "text": _text(lesson.text, lang), "audience": _label(AUDIENCES, lesson.audience, lang),
            "topic": _label(TOPICS, lesson.topic, lang), **_project(project, lang)}
