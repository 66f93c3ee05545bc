"""Building the national overlap report: every pair of projects whose texts are similar (each
project's NEIGHBOURS nearest per language at or above the threshold) and every pair sharing a
workplace, scored with their reasons, written to overlap_pair with the build's change-feed seq.

Full (POST /overlaps/rebuild, or when much changed) or incremental (the background task and the
CLI: only the pairs of the projects changed since the last build, their workplaces included, are
recomputed). Emits `overlap.double_funding_flagged` for each new double-funding pair and
`overlap_report.rebuilt`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from registry.events import overlap as events
from registry.overlap import queries, scoring
from registry.overlap.index import SimilarityIndex, for_session
from registry.overlap.service import thousandths
from shared.contracts import coordination as contracts
from shared.db import utcnow
from shared.errors import Forbidden
from shared.identity import Identity
from shared.uow import UnitOfWork

_LOCK = asyncio.Lock()  # one build at a time in a process (each replaces rows)
NEIGHBOURS = 10  # text neighbours per project and language kept in the report
INCREMENTAL_SHARE = 0.05  # more changed projects than this share (and 200): a full build


async def _pairs(idx: SimilarityIndex, only: set[str] | None,
                 shared: list[Any]) -> list[dict[str, Any]]:
    """The report's rows from the index and the shared workplaces; no database (none is held
    for the minutes this takes at national size)."""
    found: dict[tuple[str, str], tuple[float, str | None]] = {}
    todo = idx.project_ids() if only is None else sorted(
        i for i in only if (m := idx.get(i)) is not None and not m.archived)
    for n, pid in enumerate(todo):
        for other, (s, lang) in idx.text_neighbours(pid, NEIGHBOURS, scoring.THRESHOLD).items():
            key = (pid, other) if pid < other else (other, pid)
            if s > found.get(key, (0.0, None))[0]:
                found[key] = (s, lang)
        if n % 5 == 4:
            await asyncio.sleep(0)  # in the service: let requests in between (~0.1 s a step)
    workplaces: dict[tuple[str, str], list[Any]] = {}
    for r in shared:
        workplaces.setdefault((r.a_id, r.b_id), []).append(r)
    now, rows = utcnow(), []
    for key in sorted(set(found) | set(workplaces)):
        a, b = idx.get(key[0]), idx.get(key[1])
        if a is None or b is None or a.archived or b.archived:
            continue
        s, lang = found.get(key) or idx.text_score(*key)
        view = scoring.score_pair(a, b, s, lang, scoring.workplace_reasons(workplaces.get(key, [])))
        if s < scoring.THRESHOLD and not view["double_funding"]:
            continue
        score = thousandths(view["score"])
        rows.append({"id": f"{key[0]}:{key[1]}", "project_a_id": key[0], "project_b_id": key[1],
                     "theme_a_id": a.theme_id, "theme_b_id": b.theme_id, "score": score,
                     "text_score": thousandths(s), "double_funding": bool(view["double_funding"]),
                     "rank": (0 if view["double_funding"] else 1_000_000) + 1000 - score,
                     "reasons": view["reasons"], "computed_at": now})
    return rows


class Superseded(Exception):
    """Another replica recorded a build while this one ran: this one's work must roll back
    (its pairs and its events), so two replicas never announce one new pair twice."""


async def rebuild(uow: UnitOfWork, identity: Identity | None = None,
                  incremental: bool = False, *, release: bool = False) -> dict[str, Any]:
    """`identity` None: the CLI, the background task or the demo. Leaves the build's writes
    and events in the session's transaction, for the caller to commit.

    `release` (the background task and the CLI): the reads run in a transaction of their own,
    ended before scoring, so no connection is held for the minutes scoring takes (SQLite has
    one a process); the session must not be in a transaction. Without it (the demo, inside its
    larger unit of work) all runs in the caller's transaction."""
    if identity is not None and not identity.is_national:
        raise Forbidden("only coordinators and admins rebuild the overlap report")
    if release and uow.session.in_transaction():
        raise RuntimeError("rebuild(release=True) would end the caller's transaction")
    async with _LOCK:
        return await _rebuild(uow, incremental, release)


async def _rebuild(uow: UnitOfWork, incremental: bool, release: bool) -> dict[str, Any]:
    session = uow.session
    started = time.perf_counter()
    # Read: the index synced to `seq` and, in the same transaction, what else scoring needs.
    idx = for_session(session)
    seq = await idx.sync(session)
    last, _ = await queries.build_state(session)
    read = last.built_at if last is not None else None
    projects = len(idx.project_ids())
    only = None
    if incremental and last is not None:
        only = await queries.changed_projects(session, last.change_seq, seq)
        if len(only) > max(200, INCREMENTAL_SHARE * projects):
            only = None
    shared = await queries.all_shared_workplaces(session, only)
    if release:
        await session.rollback()  # read only; the connection goes back to the pool
    # Score, holding no connection (with `release`). Requests may sync the index further
    # meanwhile; their changes come after `seq`, so the next incremental build redoes them.
    if only is None:
        idx.pack()  # the IDF of today's corpus
    rows = await _pairs(idx, only, shared)
    # Write, in one transaction: the compare-and-set first, so a build that lost to another
    # replica's touches no pair (on PostgreSQL it waits here for the other's commit), and
    # `before` is the report as the last recorded build left it.
    build = {"built_at": utcnow(), "change_seq": seq, "projects": projects, "pairs": 0,
             "build_ms": 0}
    if not await queries.save_build(session, build, read):
        raise Superseded
    before = await queries.pair_ids(session, double_only=True)
    total = await queries.replace_pairs(session, rows, only)
    build.update(pairs=total, build_ms=int((time.perf_counter() - started) * 1000))
    await queries.build_totals(session, build)
    new = [r for r in rows if r["double_funding"] and r["id"] not in before]
    funders = await queries.funders(session, sorted({i for r in new
                                                     for i in (r["project_a_id"], r["project_b_id"])}))
    for r in new:
        await uow.emit(contracts.OVERLAP_DOUBLE_FUNDING_FLAGGED, r["id"], events.flagged(r, funders))
    doubles = await queries.double_count(session)
    await uow.emit(contracts.OVERLAP_REPORT_REBUILT, queries.BUILD_ID,
                   events.rebuilt(build, doubles))
    return {**build, "built_at": build["built_at"].isoformat(), "double_funding_pairs": doubles,
            "new_double_funding_pairs": len(new),
            "recomputed_projects": None if only is None else len(only)}


async def warm(maker) -> None:
    async with maker() as session:
        await for_session(session).sync(session)


async def rebuild_if_stale(maker, outbox) -> None:
    """Background and CLI: an incremental build when any project or workplace changed since the
    last build (a full one the first time)."""
    async with maker() as session:
        last, _ = await queries.build_state(session)
        if last is not None and not await queries.changes_since(session, last.change_seq):
            return
        await session.rollback()  # read only; rebuild reads again in its own transaction
        try:
            await rebuild(UnitOfWork(session, outbox), incremental=True, release=True)
        except Superseded:  # another replica built it meanwhile: nothing is left to do
            await session.rollback()
            return
        await session.commit()
