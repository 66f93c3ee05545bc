"""Survey rounds close themselves at their close time: once, with the same event as a
manual close, with two replicas of the service running, and across a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import nats
import pytest

from deploy.embedded import Stack
from shared.contracts import indicators as ic
from tests.conftest import FAST_CONSUMERS, eventually, scalar
from tests.indicators.helpers import problem, uid

HELSINKI = ZoneInfo("Europe/Helsinki")
SUBJECT = "teke.indicators.survey_round.closed"


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _round_due_in(gw, org: str, seconds: float) -> tuple[dict, dt.datetime]:
    closes_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).replace(microsecond=0)
    local_day = closes_at.astimezone(HELSINKI).date()
    r = await gw.post("/surveys/rounds", json={
        "instrument_code": "UWES-9", "organisation_id": org, "label": "T1",
        "opens_on": (local_day - dt.timedelta(days=1)).isoformat(),
        "closes_on": local_day.isoformat(), "closes_at": _iso(closes_at)})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "open" and _t(body["closes_at"]) == closes_at
    return body, closes_at


async def _status(db: str, rid: str) -> str:
    return await scalar(db, "SELECT status FROM survey_round WHERE id=:i", i=rid)


async def _closed_events_in_outbox(db: str, rid: str) -> list[dict]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT envelope FROM outbox WHERE type=:t AND entity_id=:i"),
                {"t": ic.SURVEY_ROUND_CLOSED, "i": rid})).all()
    finally:
        await engine.dispose()
    return [json.loads(e) for (e,) in rows]


async def _closed_events_on_stream(nats_url: str, rid: str) -> list[dict]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(SUBJECT, durable=None)
        found = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=1.0)
            except TimeoutError:
                break
            for m in msgs:
                env = json.loads(m.data)
                if env["subject"] == rid:
                    found.append(env)
            if len(msgs) < 500:
                break
        return found
    finally:
        await nc.close()


async def _check_closed_once(stack, nats_url: str, rid: str, closes_at: dt.datetime) -> dict:
    db = stack.db_urls["indicators"]
    events = await _closed_events_in_outbox(db, rid)
    assert len(events) == 1, events
    data = ic.SurveyRoundClosedV1.model_validate(events[0]["data"])
    assert data.closed_at == closes_at and data.label == "T1" and data.instrument == "UWES-9"
    await eventually(lambda: scalar(db, "SELECT published_at IS NOT NULL FROM outbox "
                                        "WHERE type=:t AND entity_id=:i",
                                    t=ic.SURVEY_ROUND_CLOSED, i=rid))
    on_stream = await _closed_events_on_stream(nats_url, rid)
    assert [e["id"] for e in on_stream] == [events[0]["id"]]
    return data.model_dump()


@pytest.fixture
def replica(stack, tmp_path):
    """A second indicators process on the same database and NATS (a scaled-out service)."""
    other = Stack(tmp_path / "replica", nats_url=stack.nats_url, db_urls=stack.db_urls,
                  extra_env=dict(FAST_CONSUMERS), environment="test")
    other.secrets = stack.secrets
    other.start("indicators")
    try:
        other.wait_ready(["indicators"])
        yield other
    finally:
        other.stop_all()


async def test_round_closes_itself_at_its_close_time_once_with_two_replicas(
        stack, nats_server, gw, replica):
    db, org = stack.db_urls["indicators"], uid()
    rnd, closes_at = await _round_due_in(gw, org, 2.0)
    answers = [{"answers": {f"q{i}": v for i in range(1, 10)}} for v in (2, 3, 4, 5, 6)]
    assert (await gw.post(f"/surveys/rounds/{rnd['id']}/responses",
                          json={"responses": answers})).status_code == 201
    assert await _status(db, rnd["id"]) == "open"

    async def closed():
        items = (await gw.get("/surveys/rounds", params={"organisation_id": org})).json()["items"]
        return items[0]["status"] == "closed" and items[0]

    item = await eventually(closed, timeout=15)
    assert dt.datetime.now(dt.UTC) >= closes_at
    assert _t(item["closed_at"]) == closes_at
    data = await _check_closed_once(stack, nats_server.url, rnd["id"], closes_at)
    assert data["results_available"] is True and data["organisation_id"] == org
    # Closed is closed: no second close, no late response, and results are out.
    problem(await gw.post(f"/surveys/rounds/{rnd['id']}/close"), 409)
    problem(await gw.post(f"/surveys/rounds/{rnd['id']}/responses", json={"responses": answers}), 409)
    res = (await gw.get(f"/surveys/rounds/{rnd['id']}/results")).json()
    assert res["total"]["n"] == 5
    await asyncio.sleep(1.5)  # both replicas have looked again since
    assert len(await _closed_events_in_outbox(db, rnd["id"])) == 1


async def test_round_due_while_the_service_is_down_closes_after_restart(stack, nats_server, gw):
    db = stack.db_urls["indicators"]
    rnd, closes_at = await _round_due_in(gw, uid(), 3.0)
    stack.stop("indicators")
    try:
        assert await _status(db, rnd["id"]) == "open"
        await asyncio.sleep(max(0.0, (closes_at - dt.datetime.now(dt.UTC)).total_seconds()) + 1.0)
        assert await _status(db, rnd["id"]) == "open"  # nobody was there to close it
    finally:
        stack.start("indicators")
        await asyncio.to_thread(stack.wait_ready, ["indicators"])
    await eventually(lambda: _is_closed(db, rnd["id"]), timeout=15)
    assert await scalar(db, "SELECT closed_at FROM survey_round WHERE id=:i", i=rnd["id"]) is not None
    data = await _check_closed_once(stack, nats_server.url, rnd["id"], closes_at)
    assert data["results_available"] is False  # nobody answered


async def _is_closed(db: str, rid: str) -> bool:
    return await _status(db, rid) == "closed"


async def test_close_time_must_fall_on_the_close_date(gw):
    base = {"instrument_code": "UWES-9", "organisation_id": uid(), "label": "T1",
            "opens_on": "2026-05-01", "closes_on": "2026-06-30"}
    for bad in ("2026-07-01T12:00:00+03:00", "2026-06-29T23:59:59+03:00", "2026-06-30T12:00:00"):
        err = problem(await gw.post("/surveys/rounds", json={**base, "closes_at": bad}), 422)
        assert err["errors"], err
    # The last instant of the day (Helsinki midnight) is allowed, and is the default.
    ok = await gw.post("/surveys/rounds", json={**base, "closes_at": "2026-07-01T00:00:00+03:00"})
    assert ok.status_code == 201 and _t(ok.json()["closes_at"]) == _t("2026-06-30T21:00:00Z"), ok.text
    default = await gw.post("/surveys/rounds", json={**base, "organisation_id": uid()})
    assert _t(default.json()["closes_at"]) == _t("2026-06-30T21:00:00Z")
