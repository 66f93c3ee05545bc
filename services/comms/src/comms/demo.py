"""Demo data of comms, so that its lists are not empty on `make run`: the theme's
communication plan, content items in every workflow state, and events with registrations
(their confirmation mails land in the local mail catcher's mailbox).

`python -m comms.cli seed`, run by `deploy/embedded.py` before comms starts. Idempotent: once
the demo plan exists nothing is added again. Theme-level only (no project ids): comms learns
the registry's projects by events, after the seed has run.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sqlalchemy import select

from comms.config import Settings
from comms.content import service as content_service
from comms.content.schemas import ItemCreate, Transition
from comms.gatherings import service as event_service
from comms.gatherings.schemas import EventCreate, RegisterIn
from comms.models import Plan
from comms.plans import service as plan_service
from comms.plans.schemas import PlanCreate
from shared.db import utcnow
from shared.identity import Identity
from shared.uow import UnitOfWork

ACTOR = Identity(sub="demo", kind="user", roles=("admin",))

PLAN: dict[str, Any] = {
    "scope": "theme",
    "title": {"fi": "Työelämän kehittämisen teeman viestintäsuunnitelma",
              "sv": "Kommunikationsplan för temat utveckling av arbetslivet",
              "en": "Communication plan of the theme Development of working life"},
    "objectives": ["Hankkeiden hyvät käytännöt tunnetuiksi työpaikoilla",
                   "Alueelliset työpajat kokoavat hankkeet yhteen"],
    "audiences": ["työpaikat", "hanketoimijat", "ministeriöt"],
    "key_messages": ["Hyvinvoiva työyhteisö on tuottava työyhteisö"],
    "means": ["uutiskirje", "alueelliset työpajat", "webinaarit"],
    "channels": [{"channel": "web", "cadence": "weekly"}, {"channel": "email", "cadence": "monthly"},
                 {"channel": "events", "cadence": "quarterly"}],
    "expected_results": [
        {"key": "news", "metric": "items_published", "target": 24, "kind": "news",
         "label": "Uutisia verkossa"},
        {"key": "participants", "metric": "event_participants", "target": 300,
         "label": "Osallistujia tilaisuuksissa"},
        {"key": "subscribers", "metric": "subscribers", "target": 500, "label": "Uutiskirjeen tilaajat"}],
}

# (kind, title fi, body fi, the states it is moved through after draft)
ITEMS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("news", "Teeman hankkeet koolla Tampereella",
     "Yli **kolmekymmentä** hanketta esitteli tuloksiaan.", ("in_review", "published")),
    ("practice_highlight", "Hyvä käytäntö: työn imun mittaus tiimeissä",
     "Lyhyt UWES-9-kysely kahdesti vuodessa.", ("in_review", "published")),
    ("announcement", "Syksyn haku on päättynyt", "Hakemuksia tuli 58.",
     ("in_review", "published", "archived")),
    ("news", "Webinaari: tuottavuus ja hyvinvointi", "Ilmoittaudu mukaan.", ("in_review", "scheduled")),
    ("newsletter", "Uutiskirje: teeman kuulumiset", "Tässä kuussa: tulokset ja tapahtumat.",
     ("in_review",)),
    ("news", "Luonnos: kevään alueelliset työpajat", "Päivät tarkentuvat.", ()),
]

# (kind, title fi, place, region, days ahead, capacity, registrations)
EVENTS: list[tuple[str, str, str | None, str | None, int, int, int]] = [
    ("regional_workshop", "Alueellinen työpaja: Pirkanmaa", "Tampere-talo", "06", 21, 40, 6),
    ("webinar", "Webinaari: työhyvinvointi ja tuottavuus", None, None, 35, 200, 4),
    ("national_day", "Teeman valtakunnallinen päivä", "Helsinki, Säätytalo", "01", 70, 3, 5),
]


def _local(days: int, hour: int) -> dt.datetime:
    day = (utcnow() + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(hour - 2), tzinfo=dt.UTC)  # ~ Helsinki time


async def load(maker, outbox, settings: Settings) -> dict[str, int]:
    counts = {"plans": 0, "content items": 0, "events": 0, "registrations": 0}
    async with maker() as session:
        if await session.scalar(select(Plan.id).where(Plan.created_by == ACTOR.sub).limit(1)):
            return counts
        today = dt.date.today()
        plan = await plan_service.create(session, ACTOR, PlanCreate(
            **PLAN, period_start=dt.date(today.year, 1, 1), period_end=dt.date(today.year, 12, 31)))
        counts["plans"] += 1
        uow = UnitOfWork(session, outbox)
        for kind, title, body, steps in ITEMS:
            item = await content_service.create(session, ACTOR, ItemCreate(
                kind=kind, title={"fi": title}, body={"fi": body}, plan_id=plan.id,
                themes=["tyoelama"]))
            for to in steps:
                at = utcnow() + dt.timedelta(days=10) if to == "scheduled" else None
                await content_service.transition(uow, ACTOR, item, Transition(to=to, scheduled_at=at),
                                                 settings.public_base_url)
            counts["content items"] += 1
        for kind, title, place, region, days, capacity, regs in EVENTS:
            ev = await event_service.create(session, ACTOR.sub, EventCreate(
                kind=kind, title={"fi": title}, description={"fi": f"{title}. Tervetuloa!"},
                starts_at=_local(days, 9), ends_at=_local(days, 15), place=place,
                online_url=None if place else "https://teke.example.fi/webinaari",
                region_code=region, capacity=capacity, plan_id=plan.id))
            counts["events"] += 1
            for n in range(regs):
                await event_service.register(session, settings, ev.id, RegisterIn(
                    name=f"Osallistuja {n + 1}", email=f"osallistuja{n + 1}.{kind}@example.fi"))
                counts["registrations"] += 1
        await session.commit()
    return counts


async def seed(args: argparse.Namespace | None = None) -> None:  # noqa: ARG001
    from comms.main import spec
    from shared.db import create_engine, make_sessionmaker

    settings = Settings()
    engine = create_engine(settings.database_url)
    try:
        counts = await load(make_sessionmaker(engine), spec.outbox(), settings)
    finally:
        await engine.dispose()
    print("comms demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + " added")
