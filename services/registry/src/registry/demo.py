"""Demo data: the seed coordination project plus a few generated regional projects."""

from __future__ import annotations

import argparse
import datetime as dt
import random

from sqlalchemy import select

from registry.config import Settings
from registry.main import spec
from registry.models import Project
from registry.projects.service import event_state
from shared.contracts import registry as contracts
from shared.db import create_engine, make_sessionmaker

SEED_PROJECT = {
    "code": "TEM035:00/2017",
    "name": {"fi": "Tuottava ja tuloksellinen työelämä, valtakunnallinen koordinaatiohanke",
             "en": "Productive and effective working life, national coordination project"},
    "status": "ended",
    "start_date": dt.date(2014, 9, 23),
    "end_date": dt.date(2020, 12, 31),
    "region_codes": [],
}
REGIONS = ["01", "02", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
           "16", "17", "18", "19"]
TOPICS = [("Työhyvinvointi", "Well-being at work"), ("Digitaalinen työ", "Digital work"),
          ("Osaamisen johtaminen", "Competence management"), ("Ikäjohtaminen", "Age management")]


def demo_projects(count: int, seed: int = 2021) -> list[dict]:
    """Deterministic synthetic regional projects (same seed, same projects)."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        fi, en = rnd.choice(TOPICS)
        region = rnd.choice(REGIONS)
        start = dt.date(2022, 1, 1) + dt.timedelta(days=rnd.randrange(0, 900))
        out.append({
            "code": f"S3{i:05d}", "name": {"fi": f"{fi} {region}-{i}", "en": f"{en} {region}-{i}"},
            "status": rnd.choice(["planned", "active", "active", "ended"]),
            "start_date": start, "end_date": start + dt.timedelta(days=rnd.randrange(365, 1100)),
            "region_codes": [region],
        })
    return out


async def _seed(count: int) -> int:
    settings = Settings()
    engine = create_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    outbox = spec.outbox()
    added = 0
    async with maker() as session:
        existing = set((await session.scalars(select(Project.code))).all())
        for data in [SEED_PROJECT, *demo_projects(count)]:
            if data["code"] in existing:
                continue
            p = Project(**data, created_by="demo")
            session.add(p)
            await session.flush()
            await outbox.record(session, contracts.PROJECT_CREATED, p.id, event_state(p))
            added += 1
        await session.commit()
    await engine.dispose()
    return added


async def seed(args: argparse.Namespace | None = None) -> None:  # noqa: ARG001
    added = await _seed(count=12)
    print(f"demo data: {added} projects added")
