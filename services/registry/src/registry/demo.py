"""Demo data: the seed records (theme card, coordination project) plus a deterministic generator
of synthetic regional projects, organisations, practices and adoptions (same seed, same data).

Everything is loaded through the bulk-import path, so events, history and the change feed are
written exactly as for any other import.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from registry import reference
from registry.changes import history
from registry.config import Settings
from registry.coordination import demo as coordination_demo
from registry.evaluations import demo as evaluations_demo
from registry.events import organisations as organisation_events
from registry.events import practices as practice_events
from registry.main import spec
from registry.models import Adoption, Organisation, Practice, Programme, Project, Theme
from registry.outputs import demo as outputs_demo
from registry.overlap import demo as overlap_demo
from registry.projects.imports.service import run_import
from registry.themes import demo as theme_demo
from registry.validators import business_id_check_digit
from shared.contracts import registry as contracts
from shared.db import create_engine, make_sessionmaker, new_id, utcnow
from shared.identity import Identity
from shared.uow import UnitOfWork

SEED_ACTOR = Identity(sub="demo", kind="user", roles=("admin",))
PROGRAMMES = [
    {"code": "2014-2020", "name": {"fi": "Kestävää kasvua ja työtä 2014–2020",
                                   "sv": "Hållbar tillväxt och jobb 2014–2020",
                                   "en": "Sustainable growth and jobs 2014–2020"},
     "period_start": dt.date(2014, 1, 1), "period_end": dt.date(2020, 12, 31)},
    {"code": "2021-2027", "name": {"fi": "Uudistuva ja osaava Suomi 2021–2027",
                                   "sv": "Ett förnyande och kompetent Finland 2021–2027",
                                   "en": "Innovation and Skills in Finland 2021–2027"},
     "period_start": dt.date(2021, 1, 1), "period_end": dt.date(2027, 12, 31)},
]
THEME = {
    "code": "TYOELAMA-2021", "name": {"fi": "Työelämän kehittäminen", "sv": "Utveckling av arbetslivet",
                                      "en": "Development of working life"},
    "specific_objective": "ESO4.7", "budget": Decimal("27700000.00"), "ministries": ["TEM", "STM"],
    "priorities": [{"fi": "Työhyvinvointi ja työssä jaksaminen"},
                   {"fi": "Digitaaliset ratkaisut, tuottavuus ja työhyvinvointi"},
                   {"fi": "Mikro- ja pk-yritysten oppimismyönteisyys ja osaaminen"},
                   {"fi": "Yritysten muutoskyvykkyys"}],
    "sub_themes": sorted(reference.codes("sub_themes")),
    "target_groups": sorted(reference.codes("target_groups")),
    "period_start": dt.date(2021, 1, 1), "period_end": dt.date(2027, 12, 31),
}
SEED_PROJECT = {
    "code": "TEM035:00/2017",
    "name": {"fi": "Tuottava ja tuloksellinen työelämä, valtakunnallinen koordinaatiohanke",
             "en": "Productive and effective working life, national coordination project"},
    "status": "ended", "start_date": "2014-09-23", "end_date": "2020-12-31",
    "set_up_date": "2014-09-23", "case_numbers": ["1673/09.01.01/2014"],
    "appointing_body": "työ- ja elinkeinoministeriö", "region_codes": [], "published": True,
    "goals": {"fi": "Valtakunnallisella koordinaatiohankkeella edistetään työhyvinvoinnin ja "
                    "tuottavuuden kehittymistä hankkeisiin osallistuvissa yrityksissä ja "
                    "organisaatioissa hanketoteuttajien kautta."},
    "starting_points": {"fi": "Tuottava ja tuloksellinen työelämä -koordinaatiohanke tukee osaltaan "
                              "kansallisen työelämän kehittämisstrategian toimeenpanoa."},
    "further_info": {"fi": "Koordinaatiohanke on toteuttanut valtakunnallisia hankehakuja "
                           "yhteistyössä rahoittajan (Hämeen ELY-keskus) kanssa vuosina 2014-2017."},
    "target_groups": ["companies", "employees", "managers"],
    "sub_themes": ["wellbeing", "productivity"],
}
TOPICS = [("Työhyvinvointi", "Välbefinnande i arbetet", "Well-being at work", "wellbeing"),
          ("Digitaalinen työ", "Digitalt arbete", "Digital work", "digitalisation"),
          ("Osaamisen johtaminen", "Kompetensledning", "Competence management", "competence_management"),
          ("Ikäjohtaminen", "Åldersledning", "Age management", "age_management"),
          ("Tuottavuus", "Produktivitet", "Productivity", "productivity"),
          ("Muutoskyvykkyys", "Förändringsförmåga", "Change capability", "change_capability")]
PLACES = ["Oulu", "Tampere", "Turku", "Jyväskylä", "Kuopio", "Joensuu", "Lahti", "Vaasa", "Pori",
          "Rovaniemi", "Kajaani", "Seinäjoki", "Kotka", "Mikkeli", "Helsinki", "Lappeenranta"]
KINDS = ["company", "company", "company", "municipality", "association", "education", "research"]


def business_id(rnd: random.Random) -> str:
    while True:
        first = f"{rnd.randrange(1_000_000, 9_999_999)}"
        check = business_id_check_digit(first)
        if check is not None:
            return f"{first}-{check}"


def demo_organisations(count: int, seed: int = 2021) -> list[dict[str, Any]]:
    rnd = random.Random(seed * 7 + 1)
    regions = sorted(reference.codes("regions") - {"21"})
    out, used = [], set()
    for i in range(count):
        kind = rnd.choice(KINDS)
        bid = business_id(rnd)
        while bid in used:
            bid = business_id(rnd)
        used.add(bid)
        place = rnd.choice(PLACES)
        suffix = ["Oy", "kaupunki", "ry", "opisto", "instituutti"][i % 5]
        out.append({"id": f"00000000-0000-4000-8000-{i:012d}", "business_id": bid, "kind": kind,
                    "name": {"fi": f"{place}n {suffix} {i}"},
                    "size_class": rnd.choice(["micro", "small", "medium", "large"])
                    if kind == "company" else None,
                    "sector": "private" if kind == "company" else "public" if kind in (
                        "municipality", "education", "research") else "third",
                    "region_code": rnd.choice(regions)})
    return out


def demo_projects(count: int, seed: int = 2021, org_ids: list[str] | None = None,
                  funder_ids: list[str] | None = None, theme_id: str | None = None,
                  programme_id: str | None = None) -> list[dict[str, Any]]:
    """Deterministic synthetic regional projects (same seed, same projects)."""
    rnd = random.Random(seed)
    regions = sorted(reference.codes("regions") - {"21"})
    tgs = sorted(reference.codes("target_groups"))
    out = []
    for i in range(count):
        fi, sv, en, sub = rnd.choice(TOPICS)
        region = rnd.choice(regions)
        place = rnd.choice(PLACES)
        start = dt.date(2022, 1, 1) + dt.timedelta(days=rnd.randrange(0, 900))
        row: dict[str, Any] = {
            "code": f"S3{i:05d}",
            "name": {"fi": f"{fi} {place} {i}", "sv": f"{sv} {place} {i}", "en": f"{en} {place} {i}"},
            "status": rnd.choice(["planned", "active", "active", "ended"]),
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(days=rnd.randrange(365, 1100))).isoformat(),
            "region_codes": sorted({region, *([rnd.choice(regions)] if rnd.random() < 0.2 else [])}),
            "target_groups": sorted(rnd.sample(tgs, 2)), "sub_themes": [sub],
            "goals": {"fi": f"Hanke kehittää {fi.lower()}a pk-yrityksissä ({place}).",
                      "en": f"The project develops {en.lower()} in SMEs ({place})."},
            "budget": [{"source": "esf_plus", "amount": str(Decimal(rnd.randrange(50_000, 900_000)))},
                       {"source": "state", "amount": str(Decimal(rnd.randrange(10_000, 200_000)))}],
            "published": rnd.random() < 0.9,
        }
        if org_ids:
            lead = rnd.choice(org_ids)
            row["organisation_id"] = lead
            partners = [o for o in rnd.sample(org_ids, min(2, len(org_ids))) if o != lead]
            row["partners"] = [{"organisation_id": o, "role": "partner"} for o in partners[:1]]
        if funder_ids:
            row["funder_id"] = rnd.choice(funder_ids)
        if theme_id:
            row["theme_id"] = theme_id
        if programme_id:
            row["programme_id"] = programme_id
        out.append(row)
    return out


async def _ensure_reference_records(session, outbox) -> dict[str, Any]:
    """Programmes, the theme card and the funding authorities (ELY centres, elinvoimakeskukset)."""
    ids: dict[str, Any] = {}
    for prog in PROGRAMMES:
        pid = await session.scalar(select(Programme.id).where(Programme.code == prog["code"]))
        if pid is None:
            pid = new_id()
            session.add(Programme(id=pid, version=1, created_by="demo", **prog))
        ids[prog["code"]] = pid
    authorities = {}
    for a in reference.funding_authorities():
        oid = await session.scalar(select(Organisation.id).where(Organisation.authority_code == a["code"]))
        if oid is None:
            oid = new_id()
            o = Organisation(id=oid, version=1, created_by="demo", name={"fi": a["fi"]},
                             kind="funding_authority", sector="public", authority_code=a["code"],
                             region_code=(a["regions"] or [None])[0])
            session.add(o)
            await session.flush()
            await outbox.record(session, contracts.ORGANISATION_CREATED, oid,
                                organisation_events.state(o))
        authorities[a["code"]] = oid
    ids["authorities"] = authorities
    await session.flush()
    # Succession on 1.1.2026: each ELY centre -> the elinvoimakeskus that funds its region.
    for a in reference.funding_authorities():
        if a["kind"] != "ely":
            continue
        successor = next((b for b in reference.funding_authorities() if b["kind"] == "elinvoimakeskus"
                          and set(a["regions"]) & set(b["regions"])), None)
        o = await session.get(Organisation, authorities[a["code"]])
        if successor and o.successor_id is None:
            o.successor_id = authorities[successor["code"]]
            o.succeeded_on = dt.date(2026, 1, 1)
    tid = await session.scalar(select(Theme.id).where(Theme.code == THEME["code"]))
    if tid is None:
        tid = new_id()
        session.add(Theme(id=tid, version=1, created_by="demo", programme_id=ids["2021-2027"],
                          intermediate_body_id=authorities["ELY13"], **THEME))
    ids["theme"] = tid
    await session.flush()
    return ids


async def load(maker, *, projects: int, organisations: int, practices: int, seed: int = 2021,
               ) -> dict[str, int]:
    outbox = spec.outbox()
    counts = {}
    async with maker() as session:
        ids = await _ensure_reference_records(session, outbox)
        orgs = demo_organisations(organisations, seed)
        have = set((await session.scalars(select(Organisation.id).where(
            Organisation.id.in_([o["id"] for o in orgs])))).all()) if orgs else set()
        fresh = [o for o in orgs if o["id"] not in have]
        now = utcnow()
        if fresh:
            await session.execute(insert(Organisation), [
                {**o, "version": 1, "archived": False, "created_at": now, "updated_at": now,
                 "created_by": "demo"} for o in fresh])
            await outbox.record_many(session, [(contracts.ORGANISATION_CREATED, o["id"], {
                "id": o["id"], "version": 1, "name": o["name"], "business_id": o["business_id"],
                "kind": o["kind"], "sector": o["sector"], "size_class": o["size_class"],
                "region_code": o["region_code"]}) for o in fresh])
        counts["organisations"] = len(fresh)
        hame = ids["authorities"]["ELY04"]
        seed_project = {**SEED_PROJECT, "funder_id": hame, "funder_since": "2014-09-23",
                        "programme_id": ids["2014-2020"]}
        funders = [ids["authorities"][c] for c in ("ELY04", "ELY07", "ELY10", "ELY13")]
        rows = [seed_project, *demo_projects(projects, seed, [o["id"] for o in orgs], funders,
                                             ids["theme"], ids["2021-2027"])]
        existing = set((await session.scalars(select(Project.code))).all())
        rows = [r for r in rows if r["code"] not in existing]
        created = 0
        for c in range(0, len(rows), 10_000):
            _, result = await run_import(UnitOfWork(session, outbox), SEED_ACTOR, rows[c:c + 10_000],
                                         "best_effort")
            created += result["summary"]["created"]
        counts["projects"] = created
        counts.update(await theme_demo.load(session, outbox, SEED_ACTOR, ids["theme"],
                                            ids["authorities"]["ELY13"], ids["2021-2027"]))
        counts["practices"], counts["adoptions"] = await _practices(session, outbox, practices,
                                                                    seed, orgs)
        counts.update(await coordination_demo.load(session, outbox))
        counts.update(await evaluations_demo.load(UnitOfWork(session, outbox), SEED_ACTOR, ids["theme"]))
        counts["outputs"], counts["lessons"] = await outputs_demo.load(session, outbox)
        counts["overlap pairs"] = await overlap_demo.load(
            session, outbox, SEED_ACTOR, ids["theme"], ids["2021-2027"], funders, [o["id"] for o in orgs])
        await session.commit()
    return counts


async def _practices(session, outbox, count: int, seed: int, orgs: list[dict]) -> tuple[int, int]:
    if count <= 0 or not orgs or await session.scalar(select(Practice.id).limit(1)):
        return 0, 0
    rnd = random.Random(seed * 13)
    projects = (await session.execute(select(Project.id, Project.organisation_id)
                                      .where(Project.code.like("S3%")).limit(500))).all()
    made = adopted = 0
    for i in range(count):
        fi, sv, en, sub = rnd.choice(TOPICS)
        origin = rnd.choice(projects) if projects else None
        maturity = rnd.choice(["idea", "piloted", "evaluated", "adopted_nationally"])
        p = Practice(id=new_id(), version=1, created_by="demo", kind=rnd.choice(
            ["practice", "service_model"]), name={"fi": f"{fi}: toimintamalli {i}",
                                                  "en": f"{en}: practice {i}"},
            problem={"fi": f"Miten {fi.lower()} paranee pienissä työpaikoissa?"},
            how_to_adopt={"fi": "Työpaja, ohjeistus ja seurantamittari."}, maturity=maturity,
            evidence=[{"link": f"https://example.org/arviointi/{i}", "description": "arviointi"}]
            if maturity in ("evaluated", "adopted_nationally") else [],
            project_ids=[origin[0]] if origin else [], sub_themes=[sub], target_groups=["companies"],
            organisation_id=origin[1] if origin else None, published=True, theme_ids=[])
        session.add(p)
        await session.flush()
        await outbox.record(session, contracts.PRACTICE_PUBLISHED, p.id, practice_events.state(p))
        made += 1
        for _ in range(rnd.randrange(0, 4)):
            org = rnd.choice(orgs)
            a = Adoption(id=new_id(), practice_id=p.id, organisation_id=org["id"],
                         adopted_on=dt.date(2023, 1, 1) + dt.timedelta(days=rnd.randrange(0, 900)),
                         scope=rnd.choice(["unit", "organisation", "regional_service"]),
                         region_code=org["region_code"], project_id=origin[0] if origin else None,
                         within_origin=False, created_by="demo")
            session.add(a)
            await session.flush()
            view = history.jsonable({k: getattr(a, k) for k in practice_events.ADOPTION_FIELDS})
            await outbox.record(session, contracts.ADOPTION_RECORDED, a.id,
                                practice_events.adoption_recorded(view))
            adopted += 1
    return made, adopted


async def seed(args: argparse.Namespace | None = None) -> None:  # noqa: ARG001
    settings = Settings()
    engine = create_engine(settings.database_url)
    try:
        counts = await load(make_sessionmaker(engine), projects=40, organisations=60, practices=12)
    finally:
        await engine.dispose()
    print("demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + " added")
