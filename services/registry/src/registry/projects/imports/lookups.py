"""The import's batch reads: a few queries for the whole batch, never one per row."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import (
    Project,
    ProjectBudget,
    ProjectEvaluation,
    ProjectPartner,
    ProjectPerson,
    Theme,
)

T = Project.__table__


CHUNK = 1000


def in_list(session: AsyncSession, column, values: list[str]):
    """`column IN values`; on PostgreSQL `IN (SELECT unnest(array))`: one parameter planned as a
    join, so even a cached generic plan probes the index (a list of a thousand parameters, or
    `= ANY(param)`, became a linear search of the list for every row of a sequential scan)."""
    if session.bind.dialect.name == "postgresql":
        return column.in_(select(func.unnest(bindparam(None, list(values), type_=ARRAY(String)))))
    return column.in_(values)


async def existing_ids(session: AsyncSession, model, ids: set[str]) -> set[str]:
    found: set[str] = set()
    ids_l = list(ids)
    for i in range(0, len(ids_l), CHUNK):
        found |= set((await session.scalars(select(model.id).where(
            in_list(session, model.id, ids_l[i:i + CHUNK])))).all())
    return found


async def objectives(session: AsyncSession, ids: set[str]) -> dict[str, str | None]:
    """Theme id -> its ESF+ specific objective, for the themes that exist."""
    out: dict[str, str | None] = {}
    ids_l = list(ids)
    for i in range(0, len(ids_l), CHUNK):
        out.update((await session.execute(select(Theme.id, Theme.specific_objective).where(
            in_list(session, Theme.id, ids_l[i:i + CHUNK])))).all())
    return out


async def partners(session: AsyncSession, project_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in range(0, len(project_ids), CHUNK):
        for pid, oid in (await session.execute(select(
                ProjectPartner.project_id, ProjectPartner.organisation_id)
                .where(in_list(session, ProjectPartner.project_id, project_ids[c:c + CHUNK])))).all():
            out.setdefault(pid, []).append(oid)
    return out


async def pg_fetch(session: AsyncSession, sql: str, *args: Any) -> list:
    """A read straight through asyncpg: for the import's big reads (tens of thousands of rows),
    SQLAlchemy's per-row result processing cost more than the query."""
    conn = await session.connection()
    return await (await conn.get_raw_connection()).driver_connection.fetch(sql, *args)


async def existing_projects(session: AsyncSession, codes: list[str]) -> dict[str, dict]:
    """The stored projects with these codes, by code, every column."""
    out: dict[str, dict] = {}
    if session.bind.dialect.name != "postgresql":
        for c in range(0, len(codes), CHUNK):
            found = await session.execute(select(T).where(T.c.code.in_(codes[c:c + CHUNK])))
            for r in found.mappings():
                out[r["code"]] = dict(r)
        return out
    # The same values as through SQLAlchemy: its asyncpg dialect has the driver parse JSON, and
    # asyncpg gives aware UTC timestamps and Decimal numerics.
    for r in await pg_fetch(session, f"SELECT {', '.join(c.name for c in T.columns)} FROM project"
                                      " WHERE code IN (SELECT unnest($1::text[]))", codes):
        out[r["code"]] = dict(r)
    return out


async def current_rows(session: AsyncSession, model, cols: list[str], pids: list[str],
                   extra: dict[str, Any]) -> dict[str, Counter]:
    """Project id -> the multiset of its rows in `model` (the given columns; only rows whose
    `extra` columns have those values), for the given ids."""
    rows: dict[str, list[tuple]] = {}
    table = model.__table__
    if session.bind.dialect.name == "postgresql":
        where = " AND ".join(f"{k} = ${i}" for i, k in enumerate(extra, start=2))
        for r in await pg_fetch(
                session, f"SELECT project_id, {', '.join(cols)} FROM {table.name} "
                f"WHERE project_id IN (SELECT unnest($1::text[])){' AND ' if where else ''}{where}",
                pids, *extra.values()):
            rows.setdefault(r[0], []).append(tuple(r)[1:])
    else:
        cond = [table.c[k] == v for k, v in extra.items()]
        for c in range(0, len(pids), CHUNK):
            found = await session.execute(select(table.c.project_id, *[table.c[k] for k in cols])
                                          .where(table.c.project_id.in_(pids[c:c + CHUNK]), *cond))
            for r in found.all():
                rows.setdefault(r[0], []).append(r[1:])
    return {pid: Counter(values) for pid, values in rows.items()}


def child_cols(model, extra: dict[str, Any] | None) -> list[str]:
    """The columns a child row compares on: every one but its own id, its project and `extra`."""
    return [c.name for c in model.__table__.columns
            if c.name not in ("id", "project_id", *(extra or {}))]


CHILD_SPEC = {}  # list key -> (model, extra), filled below CHILDREN


def rows_differ(key: str, rows: list[dict], stored: Counter | None) -> bool:
    """Whether `rows` (a list as given) differ from the stored rows (None: there are none).
    Order does not matter, and values compare as values (Decimal 200 is 200.00)."""
    model, extra = CHILD_SPEC[key]
    cols = child_cols(model, extra)
    if stored is None:
        return bool(rows)
    return Counter(tuple(map(r.get, cols)) for r in rows) != stored


async def stored_children(session: AsyncSession,
                           wanted: list[tuple[str, str]]) -> dict[str, dict[str, Counter]]:
    """List key -> project id -> its stored rows, for the (key, project id) pairs asked for."""
    out: dict[str, dict[str, Counter]] = {key: {} for key in CHILD_SPEC}
    for key, (model, extra) in CHILD_SPEC.items():
        pids = list(dict.fromkeys(pid for k, pid in wanted if k == key))
        if pids:
            out[key] = await current_rows(session, model, child_cols(model, extra), pids, extra or {})
    return out


CHILDREN = (("partners", ProjectPartner, None), ("budget", ProjectBudget, None),
             ("evaluations", ProjectEvaluation, None),
             ("contact_persons", ProjectPerson, {"kind": "contact"}),
             ("steering_group", ProjectPerson, {"kind": "steering_group"}))


CHILD_SPEC.update({key: (model, extra) for key, model, extra in CHILDREN})
