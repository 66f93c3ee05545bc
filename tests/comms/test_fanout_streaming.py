"""Newsletter fan-out streams: keyset pages of subscribers, matched in SQL, each exactly once.

Straight on a migrated comms database (SQLite, or PostgreSQL with TEKE_TEST_DB=postgres), with
a page size far below the number of subscribers, so every boundary case crosses pages.
"""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import event, func, insert, select

from comms.cli import MIGRATIONS
from comms.delivery import queue
from comms.models import ContentItem, Delivery, Subscriber
from shared.db import create_engine, make_sessionmaker, new_id
from shared.migrate import upgrade
from tests.support import databases

THEMES = ([], ["a"], ["b"], ["a", "b"], ["c"])
REGIONS = ([], ["r1"], ["r2"], ["r3"])
GROUPS = ([], ["g1"], ["g2"])


def _wanted(subscriber: list[str], item: list[str]) -> bool:
    """The rule, written out again: an empty list on either side means all."""
    return not subscriber or not item or any(x in item for x in subscriber)


def _subscribers() -> list[dict]:
    rows = []
    # Every combination twice confirmed, and twice not (pending, unsubscribed).
    for n, (th, rg, gr) in enumerate(itertools.product(THEMES, REGIONS, GROUPS)):
        for k, status in enumerate(("confirmed", "confirmed", "pending", "unsubscribed")):
            rows.append({"id": new_id(), "email": f"s{n}-{k}@example.fi",
                         "language": ("fi", "en", "sv")[(n + k) % 3],
                         "themes": th, "regions": rg, "target_groups": gr, "status": status,
                         "unsubscribe_token": f"tok{n}x{k}"})
    return rows


def test_newsletter_streams_in_pages_and_matches_each_subscriber_once(tmp_path):
    url = databases.database_urls(["fanout"], tmp_path)["fanout"]
    upgrade(MIGRATIONS, url)
    subs = _subscribers()

    async def scenario() -> None:
        engine = create_engine(url)
        pages: list[str] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(conn, cursor, statement, params, context, executemany):  # noqa: ARG001
            if statement.lstrip().upper().startswith("SELECT") and "FROM subscriber" in statement:
                pages.append(statement)

        try:
            maker = make_sessionmaker(engine)
            async with maker() as s, s.begin():
                await s.execute(insert(Subscriber), subs)
                narrow = ContentItem(kind="newsletter", title={"fi": "Kirje", "en": "Letter", "sv": ""},
                                     body={"fi": "x"}, body_html={}, channels=["email"],
                                     themes=["a"], regions=["r1", "r2"], target_groups=[],
                                     status="published", created_by="test")
                everyone = ContentItem(kind="newsletter", title={"fi": "Kaikille"}, body={"fi": "x"},
                                       body_html={}, channels=["email"], status="published",
                                       created_by="test")
                s.add_all([narrow, everyone])
            confirmed = [s for s in subs if s["status"] == "confirmed"]
            expected = {s["id"] for s in confirmed
                        if _wanted(s["themes"], ["a"]) and _wanted(s["regions"], ["r1", "r2"])}
            # Some match and some do not, on every side of the rule.
            assert 10 < len(expected) < len(confirmed)

            async with maker() as s, s.begin():
                queued = await queue.newsletter(s, narrow, "https://teke.test", batch_size=7)
                assert s.sync_session.info.get("comms_wake") is True  # the sender is woken at commit
            assert queued == len(expected)
            # Read page by page: at least one query per 7 matched subscribers, not one for all.
            assert len(expected) // 7 <= len(pages) <= len(expected) // 7 + 1

            async with maker() as s:
                got = (await s.execute(select(Delivery.subscriber_id, Delivery.recipient,
                                              Delivery.payload, Delivery.status)
                                       .where(Delivery.item_id == narrow.id))).all()
            ids = [g.subscriber_id for g in got]
            assert len(ids) == len(set(ids))  # none twice
            assert set(ids) == expected  # every match, no other
            by_id = {s["id"]: s for s in subs}
            for g in got:
                sub = by_id[g.subscriber_id]
                assert g.recipient == sub["email"] and g.status == "queued"
                # Swedish has an empty title: Finnish instead; English is there.
                assert g.payload["language"] == {"fi": "fi", "en": "en", "sv": "fi"}[sub["language"]]
                assert g.payload["unsubscribe_url"] == (
                    f"https://teke.test/api/v1/subscriptions/unsubscribe?token={sub['unsubscribe_token']}")
                assert g.payload["item_id"] == narrow.id

            # An item for all: every confirmed subscriber, whatever their lists.
            async with maker() as s, s.begin():
                n = await queue.newsletter(s, everyone, "https://teke.test", batch_size=7)
            assert n == len(confirmed)
            async with maker() as s:
                got = (await s.scalars(select(Delivery.subscriber_id)
                                       .where(Delivery.item_id == everyone.id))).all()
                assert sorted(got) == sorted(s["id"] for s in confirmed)
                # Rolled back with the caller's transaction: nothing left behind.
                before = await s.scalar(select(func.count()).select_from(Delivery))
            async with maker() as s:
                await s.begin()
                await queue.newsletter(s, everyone, "https://teke.test", batch_size=7)
                await s.rollback()
            async with maker() as s:
                assert await s.scalar(select(func.count()).select_from(Delivery)) == before
        finally:
            await engine.dispose()

    asyncio.run(scenario())
