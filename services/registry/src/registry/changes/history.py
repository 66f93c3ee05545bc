"""History (who changed what, before/after) and the change feed, written with every change.

Change-feed order on PostgreSQL: a sequence value is taken when a row is inserted, but rows
become visible when their transaction commits, so with concurrent writers a reader could see
seq 11 before seq 10 commits and, polling `since=11`, skip 10 for ever. We serialise
allocation instead: each transaction that writes change rows first takes a transaction-scoped
advisory lock (released only after its commit is visible), so change rows are numbered in
commit order and a reader never skips one. The lock is taken at the end of the request's work
(the feed rows are written last, just before the commit at the edge of the request), so it is
held briefly; a bulk import takes it once for all its rows. The alternative (expose only rows
older than the oldest in-flight transaction, via pg_snapshot_xmin) keeps writers parallel but
makes the feed lag behind any long transaction and needs xid bookkeeping per row; at the
registry's write rates the lock is simpler and exact. On SQLite every write transaction
already holds the database write lock from BEGIN IMMEDIATE to COMMIT, so order is commit order.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Change, History
from shared.db import bulk_insert, utcnow

# Core INSERTs built once (an ORM insert(...).values(...) per call was built and cache-keyed
# anew each time). A None for a JSON column is stored as JSON 'null', as the ORM insert did.
_INSERT_HISTORY = insert(History.__table__)
_INSERT_CHANGE = insert(Change.__table__)
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
CHANGE_LOCK_KEY = 7_310_001  # pg_advisory_xact_lock key of the registry's change feed
_LOCKED = "registry_change_lock_held"


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the keys that changed, before and after."""
    if before is None:
        return {}, jsonable(after)
    keys = [k for k in after if before.get(k) != after.get(k)]
    return ({k: jsonable(before.get(k)) for k in keys}, {k: jsonable(after.get(k)) for k in keys})


async def lock_feed(session: AsyncSession) -> None:
    if session.bind.dialect.name != "postgresql" or session.info.get(_LOCKED):
        return
    await session.execute(_LOCK, {"k": CHANGE_LOCK_KEY})
    session.info[_LOCKED] = True


def _forget_lock(session) -> None:
    session.info.pop(_LOCKED, None)


async def record(session: AsyncSession, *, entity_type: str, entity_id: str, action: str,
                 version: int | None, actor: str | None, before: dict | None, after: dict | None,
                 feed_state: dict | None = None, published: bool = False,
                 organisation_id: str | None = None, funder_id: str | None = None,
                 feed: bool = True) -> None:
    """One history row, and (for create/update/archive) one change-feed row."""
    b, a = diff(before, after or {})
    now = utcnow()
    await session.execute(_INSERT_HISTORY, {
        "entity_type": entity_type, "entity_id": entity_id, "version": version, "action": action,
        "actor": actor, "at": now, "before": b or None, "after": a or None})
    if feed:
        await lock_feed(session)
        await session.execute(_INSERT_CHANGE, {
            "entity_type": entity_type, "entity_id": entity_id, "action": action,
            "version": version, "at": now, "published": published,
            "organisation_id": organisation_id, "funder_id": funder_id,
            "state": jsonable(feed_state) if feed_state is not None else None})


async def record_many(session: AsyncSession, history_rows: list[dict], change_rows: list[dict]) -> None:
    """Bulk variant (imports): COPY / one multi-row insert each."""
    await bulk_insert(session, History.__table__, history_rows)
    if change_rows:
        await lock_feed(session)
        await bulk_insert(session, Change.__table__, change_rows)


def install_listeners() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_commit", _forget_lock)
    event.listen(Session, "after_rollback", _forget_lock)


install_listeners()
