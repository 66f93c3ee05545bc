"""The import's batch writes: multi-row statements on SQLite, COPY on PostgreSQL; only the child
rows and tags that changed are rewritten."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import Column, MetaData, Table, bindparam, delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import ProjectFunder, ProjectTag
from registry.projects.imports.lookups import (
    CHILDREN,
    CHUNK,
    T,
    child_cols,
    current_rows,
    in_list,
)
from registry.projects.repository import TAG_KINDS
from shared.db import bulk_insert, new_id, new_ids


async def lock_key(session: AsyncSession, key: str) -> None:
    """On PostgreSQL, hold a transaction lock on `key`: a retry racing the first request with
    the same Idempotency-Key waits for it, then replays its result."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


async def chunked_insert(session: AsyncSession, table, rows: list[dict]) -> None:
    if session.bind.dialect.name == "postgresql":
        await bulk_insert(session, table, rows)
        return
    for c in range(0, len(rows), CHUNK):
        await session.execute(insert(table), rows[c:c + CHUNK])


async def chunked_delete(session: AsyncSession, column, ids: list[str], *extra) -> None:
    for c in range(0, len(ids), CHUNK):
        await session.execute(delete(column.table).where(in_list(session, column, ids[c:c + CHUNK]), *extra))


async def update_projects(session: AsyncSession, rows: list[dict], cols: list[str]) -> None:
    """Rewrite existing project rows (every column but id, code, created_*).

    PostgreSQL: COPY into a temporary table, then one UPDATE ... FROM; the executemany it
    replaces ran one UPDATE per row, and with it the search table's statement trigger once per
    row. Elsewhere one executemany UPDATE."""
    if session.bind.dialect.name != "postgresql":
        stmt = update(T).where(T.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in cols})
        for c in range(0, len(rows), CHUNK):
            await session.execute(stmt, [{"_id": r["id"], **{k: r.get(k) for k in cols}}
                                         for r in rows[c:c + CHUNK]])
        return
    names = ", ".join(cols)
    await session.execute(text(
        f"CREATE TEMP TABLE {_UPDATE_TMP} ON COMMIT DROP AS SELECT id, {names} FROM project "
        "WITH NO DATA"))
    tmp = Table(_UPDATE_TMP, MetaData(), *[Column(c, T.c[c].type) for c in ("id", *cols)])
    await bulk_insert(session, tmp, rows)  # rows carry every column of project
    await session.execute(text(
        f"UPDATE project AS p SET {', '.join(f'{c} = t.{c}' for c in cols)} "
        f"FROM {_UPDATE_TMP} AS t WHERE p.id = t.id"))
    await session.execute(text(f"DROP TABLE {_UPDATE_TMP}"))


_UPDATE_TMP = "import_project_update"


async def replace_changed(session: AsyncSession, model, wanted: dict[str, list[dict]],
                           created: set[str], extra: dict[str, Any] | None = None,
                           stored: dict[str, Counter] | None = None) -> None:
    """Make each project's rows in `model` exactly `wanted[pid]`, writing only the projects whose
    rows differ: a re-import of the same lists (the common case) deletes and inserts nothing.
    Rows compare on every column but their own id, so a generated id survives an unchanged row.
    `stored`: the existing projects' rows, when the caller has read them already."""
    table = model.__table__
    extra = extra or {}
    cols = child_cols(model, extra)
    old = stored if stored is not None else await current_rows(
        session, model, cols, [p for p in wanted if p not in created], extra)
    changed = []
    for pid, rows in wanted.items():
        before = old.get(pid)
        if before is None:
            if rows:
                changed.append(pid)
        elif Counter(tuple(map(r.get, cols)) for r in rows) != before:
            changed.append(pid)
    await chunked_delete(session, table.c.project_id, [p for p in changed if p in old],
                          *[table.c[k] == v for k, v in extra.items()])
    # Every column in every row: COPY takes its column list from the first row, and an optional
    # field (a person's email) set only on a later row was lost.
    rows = [{"project_id": pid, **{k: row.get(k) for k in cols}, **extra}
            for pid in changed for row in wanted[pid]]
    if "id" in table.c:
        for row, rid in zip(rows, new_ids(len(rows)), strict=True):
            row["id"] = rid
    await chunked_insert(session, table, rows)


async def write(session: AsyncSession, new_rows, upd_rows, touched, children,
                 kept_partners: dict[str, list[str]],
                 stored_children: dict[str, dict[str, Counter]] | None = None) -> None:
    cols = [c.name for c in T.columns]
    created = {r["id"] for r in new_rows}  # nothing of theirs to delete or close
    await chunked_insert(session, T, new_rows)  # every column of project, in every row
    if upd_rows:
        await update_projects(session, upd_rows, [
            c for c in cols if c not in ("id", "code", "created_at", "created_by")])
    for key, model, extra in CHILDREN:
        items = children.get(key, [])
        if items:
            await replace_changed(session, model, dict(items), created, extra,
                                   (stored_children or {}).get(key))
    funders = children.get("funder", [])
    if funders:
        ft = ProjectFunder.__table__
        closing = [{"_pid": pid, "_to": since - dt.timedelta(days=1)}
                   for pid, (_fid, since) in funders if pid not in created]
        if closing:  # the open funder period of an existing project ends the day before
            await session.execute(update(ft).where(ft.c.project_id == bindparam("_pid"),
                                                   ft.c.valid_to.is_(None))
                                  .values(valid_to=bindparam("_to")), closing)
        await chunked_insert(session, ft, [
            {"id": new_id(), "project_id": pid, "organisation_id": fid, "valid_from": since}
            for pid, (fid, since) in funders if fid])
    tags: dict[str, list[dict]] = {}
    for rec, partners in touched:
        rows = tags[rec["id"]] = []
        for kind, attr in TAG_KINDS.items():
            rows += [{"kind": kind, "value": v} for v in set(rec.get(attr) or [])]
        plist = partners if partners is not None else kept_partners.get(rec["id"], [])
        rows += [{"kind": "partner", "value": v} for v in set(plist)]
    await replace_changed(session, ProjectTag, tags, created)
