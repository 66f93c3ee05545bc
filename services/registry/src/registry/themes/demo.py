"""Demo data of the theme record (issue 14, part "theme"), loaded by `registry.demo.load`:
the seed theme's persons (fictional names), strategies, predecessor and coordination project;
the 2014-2020 coordination project TEM035:00/2017 as kind coordination; the ministry of
education's continuous-learning theme and one joint call of both. Idempotent: what exists
is left alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from registry import reference
from registry.catalogue import service as catalogue
from registry.models import Call, Project, Theme, ThemePerson
from registry.projects.schemas import ProjectCreate, ProjectUpdate
from registry.projects.service import project as projects
from registry.themes import service as persons
from shared.identity import Identity
from shared.uow import UnitOfWork

PREDECESSOR = {
    "period": "2014-2020",
    "priority_axis": {"fi": "TL 3. Työllisyys ja työvoiman liikkuvuus",
                      "en": "Priority axis 3: Employment and labour mobility"},
    "objective": {"fi": "Erityistavoite 7.1. Tuottavuuden ja työhyvinvoinnin parantaminen",
                  "en": "Specific objective 7.1: Improving productivity and well-being at work"},
    "coordination_project_code": "TEM035:00/2017",
    "responsible_authority": "Hämeen ELY-keskus",
}
# Fictional people: the card's own names are not copied into demo data.
PERSONS = [
    {"role": "intermediate_body", "name": "Maija Mallinen", "title": "rahoitusasiantuntija",
     "organisation": "Etelä-Savon ELY-keskus", "email": "maija.mallinen@example.fi",
     "phone": "+358 29 500 0001"},
    {"role": "coordination_project", "name": "Ville Esimerkki", "title": "projektipäällikkö",
     "organisation": "Koordinaatiohanke (demo)", "email": "ville.esimerkki@example.fi"},
    {"role": "ministry", "ministry": "TEM", "name": "Leena Testinen",
     "title": "neuvotteleva virkamies", "organisation": "Työ- ja elinkeinoministeriö",
     "email": "leena.testinen@example.fi"},
    {"role": "ministry", "ministry": "STM", "name": "Kalle Kuvitteellinen",
     "title": "hallitussihteeri", "organisation": "Sosiaali- ja terveysministeriö"},
]
COORDINATION_2021 = {
    "code": "KOORD-TYOELAMA-2021", "kind": "coordination", "status": "active",
    "name": {"fi": "Työelämän kehittäminen, valtakunnallinen koordinaatiohanke 2021–2027",
             "sv": "Utveckling av arbetslivet, nationellt koordineringsprojekt 2021–2027",
             "en": "Development of working life, national coordination project 2021–2027"},
    "start_date": "2022-01-01", "end_date": "2027-12-31", "published": True,
    "goals": {"fi": "Aktiivinen yhteistyö alueellisten työelämätoimijoiden kanssa työelämän ja "
                    "tuottavuuden kehittämiseksi; hankkeiden ohjausryhmätyö, päällekkäisyyksien "
                    "välttäminen, viestintä ja ulkoinen arviointi."},
    "sub_themes": ["wellbeing", "productivity", "change_capability"],
    "target_groups": ["companies", "service_developers"],
}
LEARNING_THEME = {
    "code": "JATKUVA-OPPIMINEN-2021",
    "name": {"fi": "Jatkuva oppiminen", "sv": "Kontinuerligt lärande", "en": "Continuous learning"},
    "specific_objective": "ESO4.7", "ministries": ["OKM"],
    "sub_themes": ["learning_organisation", "competence_management"],
    "target_groups": ["working_age", "education"],
    "period_start": dt.date(2021, 1, 1), "period_end": dt.date(2027, 12, 31),
}
JOINT_CALL = {
    "code": "YHTEISHAKU-TEM-OKM-2023",
    "name": {"fi": "Jatkuva oppiminen työpaikoilla: TEM:n, STM:n ja OKM:n yhteishaku",
             "en": "Continuous learning at workplaces: joint call of TEM, STM and OKM"},
    "open_date": dt.date(2023, 3, 1), "close_date": dt.date(2023, 5, 31),
    "budget": Decimal("3000000.00"),
}


async def _id(session, model, code: str) -> str | None:
    return await session.scalar(select(model.id).where(model.code == code))


async def load(session, outbox, actor: Identity, theme_id: str, funder_id: str | None,
               programme_id: str | None) -> dict[str, int]:
    """Run after the seed projects are imported, in the same transaction."""
    uow = UnitOfWork(session, outbox)
    counts = {"theme_persons": 0}
    seed = await session.scalar(select(Project).where(Project.code == "TEM035:00/2017"))
    if seed is not None and seed.kind != "coordination":
        await projects.update(uow, actor, seed, ProjectUpdate(kind="coordination"), None)
    coord_id = await _id(session, Project, COORDINATION_2021["code"])
    if coord_id is None:
        body = ProjectCreate.model_validate({**COORDINATION_2021, "theme_id": theme_id,
                                             "programme_id": programme_id, "funder_id": funder_id})
        coord_id = (await projects.create(uow, actor, body)).project.id
    theme = await session.get(Theme, theme_id)
    if theme.coordination_project_id is None:
        await catalogue.update(uow, actor, catalogue.THEME, theme_id, {
            "coordination_project_id": coord_id, "predecessor": PREDECESSOR,
            "strategy_codes": sorted(reference.codes("strategies")),
            "sub_themes": sorted(reference.codes("sub_themes"))}, None)
    if not await session.scalar(select(ThemePerson.id).where(ThemePerson.theme_id == theme_id)):
        for p in PERSONS:
            await persons.add(uow, actor, theme_id, {"ministry": None, **p})
            counts["theme_persons"] += 1
    learning_id = await _id(session, Theme, LEARNING_THEME["code"])
    if learning_id is None:
        learning_id = (await catalogue.create(uow, actor, catalogue.THEME, {
            **LEARNING_THEME, "programme_id": programme_id})).id
    if await _id(session, Call, JOINT_CALL["code"]) is None:
        data: dict[str, Any] = {**JOINT_CALL, "theme_ids": [theme_id, learning_id],
                                "funder_id": funder_id}
        await catalogue.create(uow, actor, catalogue.CALL, data)
    return counts
