"""The in-memory project index (registry/projects/index.py) answers project lists exactly as the
SQL path does: the same page in the same order, the same total and the same facets, for any
filter, text query, sort, cursor and caller, before and after writes (which it learns from the
change feed). Runs in-process on a fresh database of the backend under test."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from registry.cli import MIGRATIONS
from registry.demo import SEED_ACTOR, demo_organisations, demo_projects
from registry.main import spec
from registry.models import Organisation, Project, Theme
from registry.projects import index as pindex
from registry.projects import query as pquery
from registry.projects import text_index
from registry.projects.imports.service import run_import
from registry.projects.service import project as project_service
from shared.db import create_engine, make_sessionmaker
from shared.identity import Identity
from shared.migrate import upgrade
from shared.uow import UnitOfWork
from tests.registry.conftest import new_org
from tests.support import databases

N_ORGS, N_FUNDERS, N_PROJECTS = 40, 4, 400
WORDS = ["työhyvinvointi", "tuottavuus", "välbefinnande", "digital work", "tampere",
         "ikäjohtaminen", "oulu hanke"]


@pytest.fixture(scope="module")
def db_url(tmp_path_factory) -> str:
    url = databases.database_urls(["regindex"], tmp_path_factory.mktemp("regindex"))["regindex"]
    upgrade(MIGRATIONS, url)
    return url


async def _seed(maker) -> list[str]:
    orgs = demo_organisations(N_ORGS, seed=11)
    for o in orgs[:N_FUNDERS]:
        o.update(kind="funding_authority", size_class=None, sector="public")
    ids = [o["id"] for o in orgs]
    rows = demo_projects(N_PROJECTS, seed=11, org_ids=ids[N_FUNDERS:], funder_ids=ids[:N_FUNDERS],
                         theme_id="theme-idx")
    rnd = random.Random(5)
    for i, row in enumerate(rows):  # nulls and ties the demo data does not have
        if i % 7 == 0:
            row.pop("end_date")
        if i % 11 == 0:
            row["budget"] = []
        if i % 13 == 0:
            row["region_codes"] = []
        if i % 17 == 0:
            row.pop("theme_id")
        if i % 5 == 0:
            row["start_date"] = "2023-03-01"  # ties on a sort key
        row["status"] = rnd.choice(["planned", "active", "ended"])
    async with maker() as s:
        await s.execute(insert(Organisation), [{**o, "version": 1} for o in orgs])
        await s.execute(insert(Theme), [{"id": "theme-idx", "code": "IDX", "version": 1,
                                         "name": {"fi": "Teema", "en": "Theme"}}])
        status, res = await run_import(UnitOfWork(s, spec.outbox()), SEED_ACTOR, rows, "best_effort")
        assert res["summary"]["rejected"] == 0, res["summary"]
        await s.commit()
    return ids


def _identities(org_ids: list[str]) -> list[Identity]:
    return [Identity(sub="anonymous"),
            Identity(sub="admin", kind="user", roles=("admin",)),
            Identity(sub="impl", kind="user", roles=("implementer",), org=org_ids[N_FUNDERS + 1]),
            Identity(sub="fund", kind="user", roles=("funder",), org=org_ids[1])]


def _random_query(rnd: random.Random, org_ids: list[str]) -> pquery.ProjectQuery:
    pq = pquery.ProjectQuery()
    if rnd.random() < 0.5:
        pq.q = rnd.choice(WORDS)
        if rnd.random() < 0.3:
            pq.lang = rnd.choice(["fi", "sv", "en"])
    if rnd.random() < 0.3:
        pq.status = rnd.sample(["planned", "active", "ended", "cancelled"], rnd.randint(1, 2))
    if rnd.random() < 0.3:
        pq.region = rnd.sample(["01", "02", "06", "11", "17", "19"], rnd.randint(1, 2))
    if rnd.random() < 0.2:
        pq.implementer = rnd.sample(org_ids[N_FUNDERS:], 3)
    if rnd.random() < 0.2:
        pq.funder = [rnd.choice(org_ids[:N_FUNDERS])]
    if rnd.random() < 0.2:
        pq.partner = rnd.sample(org_ids[N_FUNDERS:], 5)
    if rnd.random() < 0.2:
        pq.target_group = [rnd.choice(["companies", "employees", "smes", "unknown-code"])]
    if rnd.random() < 0.1:
        pq.theme = ["theme-idx"]
    if rnd.random() < 0.2:
        pq.active_from = dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randrange(400))
    if rnd.random() < 0.2:
        pq.active_to = dt.date(2023, 1, 1) + dt.timedelta(days=rnd.randrange(400))
    if rnd.random() < 0.2:
        pq.budget_min = Decimal(rnd.randrange(100_000, 600_000)) + Decimal("0.005")
    if rnd.random() < 0.1:
        pq.budget_max = Decimal(rnd.randrange(300_000, 900_000))
    if rnd.random() < 0.15:
        pq.published = rnd.random() < 0.5
    pq.include_archived = rnd.random() < 0.2
    keys = ["code", "start_date", "end_date", "budget_total", "updated_at"]
    pq.sort = rnd.choice(["-rank", "rank", *keys, *[f"-{k}" for k in keys]])
    return pq


async def _both(maker, identity, pq, limit, cursor, facets=True, facet_limit=None):
    out = []
    for use_index in (True, False):
        async with maker() as s:
            rows, total, next_cursor, facet_counts = await pquery.run(
                s, identity, pq, limit=limit, cursor=cursor, with_facets=facets,
                use_index=use_index, facet_limit=facet_limit)
        out.append(([p.code for p, _ in rows], [r for _, r in rows], total, next_cursor,
                    facet_counts))
    return out


def _same(indexed, sql, context):
    codes_i, ranks_i, total_i, cursor_i, facets_i = indexed
    codes_s, ranks_s, total_s, cursor_s, facets_s = sql
    assert total_i == total_s, context
    assert codes_i == codes_s, context
    assert [r is None for r in ranks_i] == [r is None for r in ranks_s], context
    assert [r for r in ranks_i if r is not None] == pytest.approx(
        [r for r in ranks_s if r is not None], rel=1e-6), context
    assert cursor_i == cursor_s, context
    assert facets_i == facets_s, context


async def _compare_many(maker, org_ids, seed: int, n: int) -> int:
    rnd = random.Random(seed)
    identities = _identities(org_ids)
    nonempty = 0
    for i in range(n):
        pq = _random_query(rnd, org_ids)
        identity = identities[i % len(identities)]
        facet_limit = rnd.choice([None, None, 1, 3])
        indexed, sql = await _both(maker, identity, pq, limit=rnd.choice([5, 20]), cursor=None,
                                   facet_limit=facet_limit)
        _same(indexed, sql, (i, identity.sub, pq, facet_limit))
        if facet_limit:  # the most frequent values, and every value filtered on
            for name, values in indexed[4].items():
                chosen = set(getattr(pq, name))
                assert len([v for v in values if v["value"] not in chosen]) <= facet_limit
                counts = [v["count"] for v in values[:facet_limit]]
                assert counts == sorted(counts, reverse=True)
        nonempty += indexed[2] > 0
    return nonempty


async def _walk(maker, identity, pq, limit) -> list[str]:
    """Every page of a list through its cursors, on both paths, checked page by page."""
    seen, cursor = [], None
    while True:
        indexed, sql = await _both(maker, identity, pq, limit, cursor, facets=False)
        _same(indexed, sql, (pq.sort, cursor))
        seen += indexed[0]
        cursor = indexed[3]
        if cursor is None:
            return seen


async def _scenario(url: str) -> None:
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    try:
        org_ids = await _seed(maker)
        nonempty = await _compare_many(maker, org_ids, seed=1, n=120)
        assert nonempty > 60  # the random queries are not all empty

        admin = Identity(sub="admin", kind="user", roles=("admin",))
        everything = pquery.ProjectQuery(include_archived=True)
        for sort in ("code", "-code", "updated_at", "-updated_at", "start_date", "-end_date",
                     "-budget_total"):
            everything.sort = sort
            codes = await _walk(maker, admin, everything, limit=37)
            assert len(codes) == len(set(codes)) == N_PROJECTS, sort  # no skips, no repeats

        # Writes after the index was built: updates (regions, partners, status, budget, name),
        # new projects and archiving. Each is in the change feed, which the index replays.
        rows = demo_projects(N_PROJECTS + 30, seed=11, org_ids=org_ids[N_FUNDERS:],
                             funder_ids=org_ids[:N_FUNDERS], theme_id="theme-idx")
        changed = rows[:60] + rows[N_PROJECTS:]
        async with maker() as s:
            status = dict((await s.execute(select(Project.code, Project.status))).all())
        for i, row in enumerate(changed):
            row["region_codes"] = ["06"] if i % 2 else ["19", "02"]
            partner = org_ids[N_FUNDERS + (i % 9)]
            row["partners"] = [] if i % 3 == 0 or partner == row["organisation_id"] else [
                {"organisation_id": partner, "role": "partner"}]
            row["budget"] = [{"source": "esf_plus", "amount": str(100_000 + i)}]
            row["name"] = {"fi": f"Tuottavuus ja työhyvinvointi {i}"}
            row["published"] = i % 4 != 0
            row["status"] = status.get(row["code"], "planned")
        async with maker() as s:
            _, res = await run_import(UnitOfWork(s, spec.outbox()), SEED_ACTOR, changed, "best_effort")
            assert res["summary"]["rejected"] == 0, [r for r in res["rows"] if r.get("errors")][:3]
            assert res["summary"]["created"] == 30
            await s.commit()
        async with maker() as s:
            for p in (await s.scalars(select(Project).order_by(Project.code).limit(25))).all():
                await project_service.archive(UnitOfWork(s, spec.outbox()), admin, p, None)
            await s.commit()

        nonempty = await _compare_many(maker, org_ids, seed=2, n=120)
        assert nonempty > 60
        codes = await _walk(maker, admin, everything, limit=50)
        assert len(codes) == N_PROJECTS + 30
        public = pquery.ProjectQuery(region=["06"], sort="-updated_at")
        anonymous = Identity(sub="anonymous")
        async with maker() as s:
            rows_, total, _, facets = await pquery.run(s, anonymous, public, limit=500, cursor=None,
                                                       with_facets=True)
        # The change shows at once: the 30 new and 60 updated projects alternate 06 / 19+02.
        assert all("06" in p.region_codes and p.published and not p.archived for p, _ in rows_)
        assert {v["value"]: v["count"] for v in facets["region"]}["06"] == total
        assert any(p.code == rows[N_PROJECTS + 1]["code"] for p, _ in rows_)
    finally:
        await engine.dispose()


def test_index_answers_as_sql_does_before_and_after_writes(db_url, monkeypatch):
    pindex.enabled = True
    ranked = []  # PostgreSQL: text queries matched and ranked by the text index, not the SQL
    rank = text_index.TextIndex.rank
    monkeypatch.setattr(text_index.TextIndex, "rank",
                        lambda self, *a: ranked.append(1) or rank(self, *a))
    asyncio.run(_scenario(db_url))
    assert (len(ranked) > 50) == (databases.BACKEND == "postgres"), len(ranked)


def test_index_is_per_database_and_survives_a_fresh_engine(db_url):
    """A new engine (a restarted process) builds its own index from the database."""
    async def check() -> None:
        engine = create_engine(db_url)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as s:
                idx = pindex.for_session(s)
                assert idx.seq is None
                rows, total, _, _ = await pquery.run(s, Identity(sub="admin", kind="user",
                                                                 roles=("admin",)),
                                                     pquery.ProjectQuery(include_archived=True),
                                                     limit=5, cursor=None, with_facets=False)
                assert idx.seq and idx.seq > 0 and total == idx.present[:idx.n].sum() > 0
                assert [p.code for p, _ in rows] == sorted(p.code for p, _ in rows)
        finally:
            await engine.dispose()

    asyncio.run(check())


async def test_lists_through_the_service_see_each_write_at_once(gw):
    """Through the gateway and the registry process (whose lists the index answers): a write
    shows in the next list, facet labels follow a renamed organisation, and a project moved to
    another region leaves the old region's facet count."""
    org = await new_org(gw)
    r = await gw.post("/themes", json={"code": f"T-{uuid.uuid4().hex[:8]}", "name": {"fi": "Teema"}})
    assert r.status_code == 201, r.text
    theme = r.json()["id"]
    rows = [{"code": f"IDX-{uuid.uuid4().hex[:8]}", "name": {"fi": f"Indeksi {i}"},
             "organisation_id": org["id"], "theme_id": theme, "published": True,
             "region_codes": ["06"]} for i in range(3)]
    r = await gw.post("/projects/import", json=rows)
    assert r.json()["summary"]["created"] == 3, r.text

    async def facets() -> dict:
        body = (await gw.get("/projects", params={"theme": theme, "facets": "true",
                                                  "lang": "en"})).json()
        assert body["total"] == len(body["items"])
        return body

    body = await facets()
    assert body["total"] == 3
    assert {f["value"]: f["count"] for f in body["facets"]["region"]} == {"06": 3}
    assert body["facets"]["implementer"] == [
        {"value": org["id"], "count": 3, "label": org["name"]["fi"]}]
    # facet_limit: the most frequent values, plus the ones filtered on; bad limits are refused.
    r = await gw.get("/projects", params={"theme": theme, "facets": "true", "facet_limit": 1,
                                          "region": "17"})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 0
    assert [f["value"] for f in r.json()["facets"]["region"]] == ["06"]  # 17 has no count
    for bad in ("0", "10001", "x"):
        r = await gw.get("/projects", params={"facets": "true", "facet_limit": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query/facet_limit", r.text

    r = await gw.patch(f"/organisations/{org['id']}", json={"name": {"fi": "Uusi nimi",
                                                                     "en": "New name"}})
    assert r.status_code == 200, r.text
    project = (await gw.get("/projects", params={"theme": theme})).json()["items"][0]
    current = await gw.get(f"/projects/{project['id']}")
    r = await gw.patch(f"/projects/{project['id']}", json={"region_codes": ["17"]},
                       headers={"If-Match": current.headers["etag"]})
    assert r.status_code == 200, r.text

    body = await facets()
    assert {f["value"]: f["count"] for f in body["facets"]["region"]} == {"06": 2, "17": 1}
    assert body["facets"]["implementer"][0]["label"] == "New name"
    r = await gw.get("/projects", params={"theme": theme, "facets": "true", "facet_limit": 1,
                                          "region": "17"})
    assert [(f["value"], f["count"]) for f in r.json()["facets"]["region"]] == [("06", 2), ("17", 1)]
    moved = (await gw.get("/projects", params={"theme": theme, "region": "17"})).json()
    assert [p["id"] for p in moved["items"]] == [project["id"]] and moved["total"] == 1
