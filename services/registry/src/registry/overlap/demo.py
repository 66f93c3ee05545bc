"""Demo data of the overlap part: two regional projects on age management with similar texts
(in Finnish and Swedish) and one workplace taking part in both in overlapping terms, so the
national overlap report shows a double-funding risk; then the report is built."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from registry.changes import history
from registry.models import Project, ProjectWorkplace
from registry.overlap import build
from registry.projects.imports.service import run_import
from shared.contracts import registry as contracts
from shared.db import new_id
from shared.identity import Identity
from shared.uow import UnitOfWork

PROJECTS = [
    {"code": "OVL-DEMO-1",
     "name": {"fi": "Ikäjohtamisella pidempiä työuria Pohjois-Savon pk-yrityksissä",
              "sv": "Åldersledning för längre arbetskarriärer i små företag i Norra Savolax"},
     "goals": {"fi": "Hanke kehittää pienten ja keskisuurten yritysten esihenkilöille "
                     "ikäjohtamisen toimintamallin, jolla ikääntyvien työntekijöiden työkykyä ja "
                     "osaamista tuetaan ja hiljainen tieto siirtyy nuoremmille.",
               "sv": "Projektet utvecklar en modell för chefer i små och medelstora företag som "
                     "stöder äldre arbetstagares arbetsförmåga och överföringen av tyst kunskap."},
     "region_codes": ["11"], "start_date": "2023-01-01", "end_date": "2025-12-31"},
    {"code": "OVL-DEMO-2",
     "name": {"fi": "Ikäjohtaminen pienyrityksissä: kokeneet osaajat töihin pidempään",
              "sv": "Åldersmedveten ledning i småföretag"},
     "goals": {"fi": "Valmennamme pk-yritysten johtoa ikäjohtamiseen, sukupolvien väliseen "
                     "osaamisen siirtoon ja ikääntyneiden työntekijöiden jaksamisen tukemiseen.",
               "sv": "Vi utbildar chefer i småföretag att leda äldre medarbetare och att föra "
                     "tyst kunskap vidare mellan generationerna."},
     "region_codes": ["11", "12"], "start_date": "2024-03-01", "end_date": "2026-08-31"},
]
WORKPLACE_TERMS = [(dt.date(2023, 9, 1), None), (dt.date(2024, 4, 1), None)]


async def load(session, outbox, actor: Identity, theme_id: str, programme_id: str,
               funder_ids: list[str], org_ids: list[str]) -> int:
    """Idempotent: nothing when the two projects exist. Returns the report's pair count."""
    if len(org_ids) < 3 or await session.scalar(select(Project.id).where(
            Project.code == PROJECTS[0]["code"])):
        return 0
    rows = [{**p, "status": "active", "published": True, "theme_id": theme_id,
             "programme_id": programme_id, "organisation_id": org_ids[i],
             "funder_id": funder_ids[i % len(funder_ids)],
             "target_groups": ["companies", "managers", "employees"],
             "sub_themes": ["age_management"]} for i, p in enumerate(PROJECTS)]
    uow = UnitOfWork(session, outbox)
    await run_import(uow, actor, rows, "best_effort")
    ids = dict((await session.execute(select(Project.code, Project.id).where(
        Project.code.in_([p["code"] for p in PROJECTS])))).tuples().all())
    workplace = org_ids[2]
    for p, (joined, left) in zip(PROJECTS, WORKPLACE_TERMS, strict=True):
        w = ProjectWorkplace(id=new_id(), project_id=ids[p["code"]], organisation_id=workplace,
                             joined_on=joined, left_on=left)
        session.add(w)
        await session.flush()
        view: dict[str, Any] = history.jsonable({"id": w.id, "project_id": w.project_id,
                                                 "organisation_id": workplace,
                                                 "joined_on": joined, "left_on": left})
        await history.record(session, entity_type="workplace", entity_id=w.id, action="create",
                             version=None, actor=actor.sub, before=None, after=view)
        await uow.emit(contracts.WORKPLACE_JOINED, w.id, {k: view[k] for k in (
            "id", "project_id", "organisation_id", "joined_on")})
    return (await build.rebuild(uow))["pairs"]
