"""An event whose handler keeps failing becomes a dead letter, holds nothing up, and replays.

The fault is real: a trigger in the indicators database refuses certain rows, as a broken
constraint or a bad schema change would. Ops then fix the database and replay through the API.
"""

from __future__ import annotations

import uuid

from tests.conftest import eventually, execute, scalar
from tests.support.databases import BACKEND

SQLITE_FAULT = (
    "CREATE TRIGGER poison_guard BEFORE INSERT ON project_projection "
    "WHEN NEW.code LIKE 'POISON%' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
)
PG_FAULT = (
    "CREATE FUNCTION poison_guard() RETURNS trigger AS $$ BEGIN "
    "IF NEW.code LIKE 'POISON%' THEN RAISE EXCEPTION 'injected fault'; END IF; "
    "RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER poison_guard BEFORE INSERT ON project_projection "
    "FOR EACH ROW EXECUTE FUNCTION poison_guard()",
)
SQLITE_FIX = ("DROP TRIGGER poison_guard",)
PG_FIX = ("DROP TRIGGER poison_guard ON project_projection", "DROP FUNCTION poison_guard()")


async def test_failing_event_goes_to_dead_letters_and_replays(gw, stack):
    db = stack.db_urls["indicators"]
    await execute(db, *(PG_FAULT if BACKEND == "postgres" else SQLITE_FAULT))
    try:
        tag = uuid.uuid4().hex[:6].upper()
        poison = (await gw.post("/projects", json={"code": f"POISON-{tag}",
                                                   "name": {"fi": "Myrkky"}})).json()
        later = [(await gw.post("/projects", json={"code": f"LATER-{tag}-{i}",
                                                   "name": {"fi": f"Myöhempi {i}"}})).json()
                 for i in range(3)]

        # Later events are applied while the poison one is still being retried.
        for p in later:
            async def arrived(p=p):
                return (await gw.get(f"/indicators/projects/{p['id']}")).status_code == 200
            await eventually(arrived)

        async def dead():
            r = await gw.get("/admin/indicators/dead-letters", params={"status": "dead"})
            assert r.status_code == 200, r.text
            return [d for d in r.json()["items"] if d["event"]["subject"] == poison["id"]]

        letters = await eventually(dead, timeout=30)
        assert len(letters) == 1
        letter = letters[0]
        assert letter["attempts"] == 3  # the configured bound (FAST_CONSUMERS)
        assert "injected fault" in letter["error"]
        assert letter["type"] == "fi.teke.registry.project.created.v1"
        assert (await gw.get(f"/indicators/projects/{poison['id']}")).status_code == 404
        # comms has no such fault: it applied the same event normally.
        assert (await gw.get(f"/comms/projects/{poison['id']}")).status_code == 200
    finally:
        await execute(db, *(PG_FIX if BACKEND == "postgres" else SQLITE_FIX))

    r = await gw.post(f"/admin/indicators/dead-letters/{letter['id']}/replay")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "replayed" and r.json()["replayed_at"]
    row = (await gw.get(f"/indicators/projects/{poison['id']}")).json()
    assert row["code"] == poison["code"] and row["applied_count"] == 1

    # Replaying again is harmless: the inbox already has the event.
    r = await gw.post(f"/admin/indicators/dead-letters/{letter['id']}/replay")
    assert r.status_code == 200
    assert (await gw.get(f"/indicators/projects/{poison['id']}")).json()["applied_count"] == 1
    assert await scalar(db, "SELECT count(*) FROM inbox WHERE event_id = :e",
                        e=letter["event_id"]) == 1


async def test_dead_letter_admin_is_admin_only(stack, gw):
    import httpx

    token = stack.dev_token("coordinator")
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1") as client:
        r = await client.get("/admin/indicators/dead-letters",
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        r = await client.get("/admin/indicators/dead-letters")
        assert r.status_code == 401
    r = await gw.post("/admin/indicators/dead-letters/no-such-id/replay")
    assert r.status_code == 404 and r.json()["status"] == 404
