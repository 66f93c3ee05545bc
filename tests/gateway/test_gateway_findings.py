"""The outside client's findings (issue 12), through the running system's gateway.

- Bodies between 256 KiB and 1 MiB (the export at max_rows=500, a project with a
  900 000-character name read back) waited for the gateway's timeout and answered 504: the
  upstream client paused reading at 256 KiB and then waited for the end without taking.
  Names are bounded now (500 characters), so the large bodies are made of descriptions
  (goals: 20,000 characters a language) and of a name stored before the limits existed.
- After a service answered 500 (an exception: uvicorn closes the connection a moment after
  Starlette sent the 500, which looked reusable), the next client's request went out on that
  connection and waited for the timeout (504).
Each must now answer 200, fast (the suite's upstream timeout is 3 s).
"""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.conftest import execute
from tests.support.databases import BACKEND

FAST = 2.0

SQLITE_FAULT = (
    "CREATE TRIGGER fail500_guard BEFORE INSERT ON project WHEN NEW.code LIKE 'FAIL500%' "
    "BEGIN SELECT json('injected fault: not json'); END",
)
PG_FAULT = (
    "CREATE FUNCTION fail500_guard() RETURNS trigger AS $$ BEGIN "
    "IF NEW.code LIKE 'FAIL500%' THEN RAISE EXCEPTION 'injected fault' USING ERRCODE = 'XX000'; "
    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER fail500_guard BEFORE INSERT ON project "
    "FOR EACH ROW EXECUTE FUNCTION fail500_guard()",
)
SQLITE_FIX = ("DROP TRIGGER fail500_guard",)
PG_FIX = ("DROP TRIGGER fail500_guard ON project", "DROP FUNCTION fail500_guard()")


def _tag() -> str:
    return uuid.uuid4().hex[:8].upper()


async def _timed(coro):
    started = time.monotonic()
    r = await coro
    return r, time.monotonic() - started


async def test_export_between_256_kib_and_1_mib_answers_at_once(gw):
    tag = _tag()
    # 500 projects with names near their 500-character limit: an export of ~400 KB.
    rows = [{"code": f"BIGEXP-{tag}-{i}",
             "name": {"fi": f"Vientihanke zq{tag.lower()} {i} " + "nimi " * 90}} for i in range(500)]
    r = await gw.post("/projects/import", json={"projects": rows})
    assert r.status_code == 200, r.text[:300]
    r, elapsed = await _timed(gw.get("/projects/export", params={
        "format": "json", "max_rows": 500, "q": f"zq{tag.lower()}"},
        headers={"Accept-Encoding": "identity"}))
    assert r.status_code == 200, r.text
    assert elapsed < FAST
    assert 256 * 1024 < len(r.content) <= 1024 * 1024  # the range that hung
    assert len(r.json()["items"]) == 500


async def test_project_with_a_900_000_character_name_reads_back(stack, gw):
    """A name stored before names were bounded (written straight into the database), and a
    history grown past 256 KiB by large changes of the goals, both read back at once."""
    name = "Ä" + "n" * 899_999
    r = await gw.post("/projects", json={"code": f"LONGNAME-{_tag()}", "name": {"fi": "Pitkä"}})
    assert r.status_code == 201, r.text[:300]
    pid = r.json()["id"]
    await execute(stack.db_urls["registry"],
                  f"UPDATE project SET name = '{json.dumps({'fi': name})}' WHERE id = '{pid}'")
    r, elapsed = await _timed(gw.get(f"/projects/{pid}", headers={"Accept-Encoding": "identity"}))
    assert r.status_code == 200 and elapsed < FAST and name in r.text, (r.status_code, elapsed)
    for i in range(4):
        text = f"versio {i} " + "kuvaus " * 2_840
        r = await gw.patch(f"/projects/{pid}", headers={"If-Match": r.headers["ETag"]},
                           json={"goals": {"fi": text, "sv": text, "en": text}})
        assert r.status_code == 200, r.text[:300]
    for path in (f"/projects/{pid}", f"/projects/{pid}/history"):
        for encoding in ("identity", "gzip"):
            r, elapsed = await _timed(gw.get(path, headers={"Accept-Encoding": encoding}))
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            assert elapsed < FAST, (path, elapsed)
            assert name in r.text if path.endswith(pid) else len(r.content) > 256 * 1024


async def test_a_500_is_followed_by_a_good_answer_for_another_client(stack, gw, admin_token):
    tag = _tag()
    r = await gw.post("/projects", json={"code": f"AFTER500-{tag}", "name": {"fi": "Hyvä"}})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    db = stack.db_urls["registry"]
    await execute(db, *(PG_FAULT if BACKEND == "postgres" else SQLITE_FAULT))
    try:
        for i in range(5):
            async with httpx.AsyncClient(
                    base_url=stack.gateway_url, timeout=15,
                    headers={"Authorization": f"Bearer {admin_token}"}) as other:
                assert (await other.get("/healthz")).status_code == 200  # connected, ready
                failed = await gw.post("/projects", json={"code": f"FAIL500-{tag}-{i}",
                                                          "name": {"fi": "Kaatuu"}})
                assert failed.status_code == 500, failed.text[:300]
                r, elapsed = await _timed(other.get(f"/api/v1/projects/{pid}"))
                assert r.status_code == 200, (i, r.status_code, r.text[:300])
                assert elapsed < FAST, (i, elapsed)
    finally:
        await execute(db, *(PG_FIX if BACKEND == "postgres" else SQLITE_FIX))
