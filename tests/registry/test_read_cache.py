"""GET /projects/{id} answered from kept records (projects/reads.py) is the same as read anew.

Three registry processes on one database: two keep rendered records (A and B, the default), one
keeps none (C, REGISTRY_READ_CACHE_SIZE=0: the oracle). Hypothesis drives writes of every kind
that changes what a record renders, each through A or B (so the other replica's kept record goes
stale behind its back): scalar fields, publishing, every child list, the funder (past funders
decide who sees private parts), erasing a person, the theme's specific objective (labels), a
re-import of the project, archiving. After each write, callers of every kind (admin,
implementer, funder, past funder, stranger, ministry, anonymous) read through A, B and C in
each language: status, ETag and body must be the same, as must the answer to If-None-Match
with the ETag read before the write.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.registry_import import _free_port
from shared.identity import Identity, InternalTokenSigner, generate_keypair
from shared.migrate import upgrade
from tests.support import databases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    from registry.cli import MIGRATIONS

    tmp = tmp_path_factory.mktemp("readcache")
    url = databases.database_urls(["registry"], tmp)["registry"]
    upgrade(MIGRATIONS, url)
    private, public = generate_keypair()
    procs, bases = [], []
    for cache_size in ("2000", "2000", "0"):
        port = _free_port()
        env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_LOG_LEVEL": "WARNING",
               "REGISTRY_INTERNAL_TOKEN_PUBLIC_KEY": public,
               "REGISTRY_READ_CACHE_SIZE": cache_size,
               "REGISTRY_NATS_URL": f"nats://127.0.0.1:{_free_port()}"}  # events stay in the outbox
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "registry.main:create_app", "--factory", "--port",
             str(port), "--log-level", "warning"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        bases.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    for base in bases:
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{base} not ready"
            time.sleep(0.2)
    try:
        yield bases, InternalTokenSigner(private, lifetime=3600)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


class World:
    """One project with its organisations and theme, and a client per caller and replica."""

    def __init__(self, bases: list[str], signer: InternalTokenSigner) -> None:
        self.bases, self.signer = bases, signer
        self.clients = [httpx.AsyncClient(base_url=b, timeout=60) for b in bases]

    def headers(self, who: Identity) -> dict[str, str]:
        return {"x-teke-identity": self.signer.sign(who)}

    async def setup(self) -> None:
        admin = Identity(sub="admin", kind="user", roles=("admin",))
        self.admin = self.headers(admin)
        a = self.clients[0]
        orgs = []
        for _ in range(5):
            r = await a.post("/organisations", headers=self.admin, json={
                "name": {"fi": f"Org {uuid.uuid4().hex[:6]}"}, "kind": "company"})
            assert r.status_code == 201, r.text
            orgs.append(r.json()["id"])
        self.lead, self.funder, self.funder2, self.partner, self.other = orgs
        r = await a.post("/themes", headers=self.admin, json={
            "code": f"TH-{uuid.uuid4().hex[:8]}", "name": {"fi": "Teema"},
            "specific_objective": "ESO4.7"})
        assert r.status_code == 201, r.text
        self.theme = r.json()["id"]
        self.code = f"RC-{uuid.uuid4().hex[:10]}"
        r = await a.post("/projects", headers=self.admin, json={
            "code": self.code, "name": {"fi": "Välimuisti", "sv": "Cache"},
            "organisation_id": self.lead, "funder_id": self.funder, "theme_id": self.theme,
            "start_date": "2025-01-01", "end_date": "2026-12-31", "region_codes": ["06"],
            "partners": [{"organisation_id": self.partner, "role": "partner"}],
            "budget": [{"source": "esf_plus", "amount": "100.00"}],
            "contact_persons": [{"name": "Liisa", "email": "liisa@example.fi"}],
            "steering_group": [{"name": "Matti"}], "published": False})
        assert r.status_code == 201, r.text
        self.pid = r.json()["id"]
        self.callers = {
            "admin": self.admin,
            "implementer": self.headers(Identity(sub="impl", kind="user", roles=("implementer",),
                                                 org=self.lead)),
            "funder": self.headers(Identity(sub="fund", kind="user", roles=("funder",),
                                            org=self.funder)),
            "funder2": self.headers(Identity(sub="fund2", kind="user", roles=("funder",),
                                             org=self.funder2)),
            "stranger": self.headers(Identity(sub="str", kind="user", roles=("implementer",),
                                              org=self.other)),
            "ministry": self.headers(Identity(sub="min", kind="user", roles=("ministry",))),
            "anonymous": self.headers(Identity(sub="anonymous")),
        }

    async def read_all(self, etags: dict) -> None:
        """Every caller through every replica: the two that keep records agree with the one
        that keeps none (C)."""
        for who, headers in self.callers.items():
            for lang in ("fi", "sv") if who == "admin" else ("fi",):
                answers = []
                for c in self.clients:
                    r = await c.get(f"/projects/{self.pid}", params={"lang": lang}, headers=headers)
                    body = r.json() if r.status_code != 304 else None
                    if r.status_code >= 400:
                        body.pop("request_id")  # one per request
                    answers.append((r.status_code, r.headers.get("etag"), body))
                assert answers[0] == answers[2] and answers[1] == answers[2], (who, lang, answers)
                old = etags.get(who)
                if old:  # the ETag read before the last write: 304 only if nothing changed
                    cond = []
                    for c in self.clients:
                        r = await c.get(f"/projects/{self.pid}", params={"lang": lang},
                                        headers={**headers, "if-none-match": old})
                        cond.append((r.status_code, r.headers.get("etag")))
                    assert cond[0] == cond[2] and cond[1] == cond[2], (who, lang, cond)
                etags[who] = answers[2][1]

    async def write(self, op: tuple, via: int) -> None:
        c, h, pid = self.clients[via], self.admin, self.pid
        kind = op[0]
        if kind == "patch":
            r = await c.patch(f"/projects/{pid}", headers=h, json=op[1](self))
        elif kind == "erase":
            r = await self.clients[2].get(f"/projects/{pid}", headers=h)
            people = r.json().get("contact_persons", []) + r.json().get("steering_group", [])
            if not people:
                return
            before = (await c.get(f"/projects/{pid}", headers=h)).headers["etag"]
            r = await c.delete(f"/projects/{pid}/people/{people[0]['id']}", headers=h)
            assert r.status_code == 204, r.text
            # The record reads differently now: a new ETag (If-None-Match must not say 304).
            r = await c.get(f"/projects/{pid}", headers={**h, "if-none-match": before})
            assert r.status_code == 200 and r.headers["etag"] != before
            assert people[0]["id"] not in str(r.json())
        elif kind == "objective":
            r = await c.patch(f"/themes/{self.theme}", headers=h,
                              json={"specific_objective": op[1]})
        elif kind == "import":
            r = await c.post("/projects/import", headers=h, json={"projects": [{
                "code": self.code, "name": {"fi": f"Tuotu {op[1]}"},
                "organisation_id": self.lead}]})
        elif kind == "archive":
            r = await c.post(f"/projects/{pid}/archive", headers=h)
        else:
            raise AssertionError(kind)
        assert r.status_code < 500, r.text


def _persons(n: int, prefix: str) -> list[dict]:
    return [{"name": f"{prefix} {i}", "email": f"{prefix.lower()}{i}@example.fi"} for i in range(n)]


WRITES = st.one_of(
    st.builds(lambda t: ("patch", lambda w: {"name": {"fi": t}}), st.text(
        alphabet="abcåäö ", min_size=1, max_size=12).filter(str.strip)),
    st.builds(lambda b: ("patch", lambda w: {"published": b}), st.booleans()),
    st.builds(lambda n: ("patch", lambda w: {"contact_persons": _persons(n, "Yhteys")}),
              st.integers(0, 2)),
    st.builds(lambda n: ("patch", lambda w: {"steering_group": _persons(n, "Ohjaus")}),
              st.integers(0, 2)),
    st.builds(lambda a: ("patch", lambda w: {"budget": [{"source": "state", "amount": f"{a}.50"}]}),
              st.integers(0, 10**6)),
    st.builds(lambda p: ("patch", lambda w: {"partners": [
        {"organisation_id": w.partner if p else w.other, "role": "partner"}]}), st.booleans()),
    st.builds(lambda f: ("patch", lambda w: {"funder_id": w.funder2 if f else w.funder,
                                             "funder_since": "2026-01-01"}), st.booleans()),
    st.builds(lambda r: ("patch", lambda w: {"region_codes": r}),
              st.lists(st.sampled_from(["01", "06", "17"]), unique=True, max_size=2)),
    st.just(("erase",)),
    st.builds(lambda o: ("objective", o), st.sampled_from(["ESO4.7", "ESO4.1", "ESO4.8"])),
    st.builds(lambda n: ("import", n), st.integers(0, 99)),
)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(WRITES, st.integers(0, 1)), min_size=4, max_size=10),
       archive_at_end=st.booleans())
def test_kept_records_read_like_fresh_ones(registries, steps, archive_at_end):
    bases, signer = registries

    async def run():
        world = World(bases, signer)
        try:
            await world.setup()
            etags: dict = {}
            await world.read_all(etags)
            await world.read_all(etags)  # now kept by A and B
            for op, via in steps + ([(("archive",), 1)] if archive_at_end else []):
                await world.write(op, via)
                await world.read_all(etags)
        finally:
            for c in world.clients:
                await c.aclose()

    asyncio.run(run())


def test_a_missing_project_is_404_and_a_stranger_sees_no_unpublished_one(registries):
    bases, signer = registries

    async def run():
        world = World(bases, signer)
        try:
            await world.setup()
            for c in world.clients:
                r = await c.get(f"/projects/{uuid.uuid4()}", headers=world.admin)
                assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
                for _ in range(2):  # the second read is answered from what A and B keep
                    admin_tag = (await c.get(f"/projects/{world.pid}",
                                             headers=world.admin)).headers["etag"]
                    for cond in ({}, {"if-none-match": "*"}, {"if-none-match": admin_tag}):
                        # No 304 either: it would tell a stranger the project exists.
                        r = await c.get(f"/projects/{world.pid}",
                                        headers={**world.callers["stranger"], **cond})
                        assert r.status_code == 404, (cond, r.status_code, r.text)
                    r = await c.get(f"/projects/{world.pid}", headers=world.callers["funder"])
                    assert r.status_code == 200
                    assert r.json()["contact_persons"][0]["email"] == "liisa@example.fi"
                    r = await c.get(f"/projects/{world.pid}", headers=world.callers["ministry"])
                    assert r.status_code == 200 and "contact_persons" not in r.json()
        finally:
            for c in world.clients:
                await c.aclose()

    asyncio.run(run())
