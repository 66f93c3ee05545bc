"""Demo data: the outputs of the 2014-2020 coordination project (seed 000, TEM035:00/2017) and
its lessons and recommendations to the next programme period, as its page words them. Written
through the service, so history, change feed and events are those of any other write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from registry.models import Lesson, Project, ProjectOutput
from registry.outputs import service
from shared.events.outbox import Outbox
from shared.identity import Identity
from shared.uow import UnitOfWork

ACTOR = Identity(sub="demo", kind="user", roles=("admin",))
SEED_CODE = "TEM035:00/2017"
PAGE = "https://valtioneuvosto.fi/hanke?tunnus=TEM035:00/2017"

OUTPUTS: list[dict[str, Any]] = [
    {"kind": "publication", "language": "fi", "url": PAGE, "date": dt.date(2014, 9, 23),
     "title": {"fi": "Hankkeen perustiedot, tavoitteet ja tuotokset valtioneuvoston hankeikkunassa",
               "en": "The project's basic facts, objectives and outputs on the Government's "
                     "project pages"}},
    {"kind": "event", "language": "fi", "url": PAGE, "date": dt.date(2019, 3, 1),
     "title": {"fi": "Maakunnalliset työpajat kasvupalveluiden valmistelijoille ja alueverkostoille",
               "sv": "Regionala workshoppar för dem som bereder tillväxttjänsterna",
               "en": "Regional workshops for those preparing growth services"},
     "description": {"fi": "Arvioinnissa esiin nousseet palvelumallit tuodaan maakunnallisiin "
                           "työpajoihin kasvupalveluiden valmistelijoiden ja alueverkostojen kanssa."}},
    {"kind": "service_model", "language": "fi", "url": PAGE, "date": dt.date(2020, 6, 30),
     "title": {"fi": "Maakunnalliset työelämän laadun palvelumallit yrityspalveluiden sisälle",
               "en": "Regional service models for the quality of working life within business "
                     "services"},
     "description": {"fi": "Palvelumuotoilulla eri toimijoiden kesken luodut pysyvät "
                           "maakunnalliset työelämän laadun palvelumallit."}},
    {"kind": "report", "language": "fi", "url": PAGE, "date": dt.date(2020, 10, 31),
     "title": {"fi": "Ulkoinen arviointi: kehittämisohjelmasta rahoitettujen hankkeiden "
                     "vaikuttavimmat tulokset",
               "en": "External evaluation: the most effective results of the funded projects"},
     "description": {"fi": "Keväällä 2018 käynnistynyt ulkoinen arviointi, jossa hankkeiden "
                           "tuloksista kootaan vaikuttavimmat."}},
]

LESSONS: list[dict[str, Any]] = [
    {"kind": "recommendation", "audience": "next_programme_period", "topic": "programme_content",
     "text": {"fi": "Rakennerahaston tulevan ohjelmakauden sisältöihin: työhyvinvoinnin ja "
                    "tuottavuuden samanaikainen kehittäminen työpaikoilla sekä yritysten "
                    "sopeutumis- ja muutoskyvykkyys; arvioinnissa vaikuttavimmiksi todetut "
                    "palvelumallit osaksi yrityspalveluita.",
              "en": "For the content of the next structural-fund period: develop well-being and "
                    "productivity at workplaces together, and companies' capacity to adapt."}},
    {"kind": "recommendation", "audience": "next_programme_period", "topic": "project_launch",
     "text": {"fi": "Hankkeiden liikkeelle saattamiseen: valtakunnalliset hankehaut yhteistyössä "
                    "rahoittajan kanssa ja kansallisten kehittämistarpeiden ohjaaminen "
                    "hakupainotuksiin."}},
    {"kind": "recommendation", "audience": "next_programme_period", "topic": "administration",
     "text": {"fi": "Hallinnointiin: rahoittajien yhteistyö ja eri hallinnonalojen välinen "
                    "koordinaatio työelämän kehittämisen kysymyksissä."}},
    {"kind": "lesson", "audience": "projects", "topic": "service_models",
     "text": {"fi": "Pitkäkestoisimmat vaikutukset syntyvät työpaikka- ja yritysrajapinnassa: "
                    "yritysten parempi sopeutumis- ja muutoskyvykkyys on kestävin valmius."}},
    {"kind": "lesson", "audience": "regional_actors", "topic": "cooperation",
     "text": {"fi": "Työelämätoimijoiden kokoaminen kasvupalveluiden työelämäkokonaisuuden "
                    "ympärille ja palvelumuotoilu maakunnallisissa työpajoissa tuottavat "
                    "pysyviä palvelumalleja."}},
    {"kind": "lesson", "audience": "coordination_project", "topic": "communication",
     "text": {"fi": "Vahvaa viestintää edesauttaa aktiivinen näkyminen useassa sosiaalisen median "
                    "kanavassa."}},
]


async def load(session, outbox: Outbox) -> tuple[int, int]:
    """The seed project's outputs and lessons, once (nothing if it is missing or has some)."""
    pid = await session.scalar(select(Project.id).where(Project.code == SEED_CODE))
    if pid is None or await session.scalar(select(ProjectOutput.id).where(
            ProjectOutput.project_id == pid).limit(1)) or await session.scalar(
            select(Lesson.id).where(Lesson.project_id == pid).limit(1)):
        return 0, 0
    uow = UnitOfWork(session, outbox)
    for data in OUTPUTS:
        await service.create(uow, ACTOR, service.OUTPUTS, pid, data)
    for data in LESSONS:
        await service.create(uow, ACTOR, service.LESSONS, pid, data)
    return len(OUTPUTS), len(LESSONS)
