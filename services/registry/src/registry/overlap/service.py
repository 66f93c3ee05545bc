"""Overlap rules: who may see which similar projects and pairs, and the national report's build.

The report is precomputed (`rebuild`: the CLI `overlaps`, the background task, or
POST /overlaps/rebuild) so that a report request is a query; its freshness (when built, from which
change-feed seq, how many project changes since) comes with every page.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.events import overlap as events
from registry.overlap import queries, scoring
from registry.overlap.index import SimilarityIndex, for_session
from registry.projects.service import project as project_service
from shared.contracts import coordination as contracts
from shared.db import utcnow
from shared.errors import Forbidden
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

_LOCK = asyncio.Lock()  # one rebuild at a time in a process (each replaces every row)
NEIGHBOURS = 10  # text neighbours per project and language kept in the report


def _thousandths(x: float) -> int:
    return int(round(x * 1000))


async def similar(session: AsyncSession, identity: Identity, project_id: str,
                  limit: int) -> dict[str, Any]:
    """The most similar other projects the caller may see, best first (double-funding risks
    before all). Shared workplaces are shown to those who may see both projects' workplaces."""
    p = await project_service.get(session, project_id, identity)
    idx = for_session(session)
    await idx.sync(session)
    me = idx.get(p.id)
    text = idx.text_neighbours(p.id, max(50, 3 * limit), scoring.CANDIDATE_FLOOR) if me else {}
    wp_rows = await queries.shared_workplaces_of(session, p.id)
    by_other: dict[str, list[Any]] = {}
    for r in wp_rows:
        by_other.setdefault(r.b_id, []).append(r)
    ids = sorted(set(text) | set(by_other))
    listable, private = await queries.visible(session, identity, [p.id, *ids])
    mine_private = p.id in private
    items = []
    for other in ids:
        m = idx.get(other)
        if other not in listable or m is None or me is None or m.archived:
            continue
        s, lang = text.get(other) or idx.text_score(p.id, other)
        show_wp = mine_private and other in private
        wps = scoring.workplace_reasons(by_other.get(other, [])) if show_wp else None
        view = scoring.score_pair(me, m, s, lang, wps)
        if s < scoring.CANDIDATE_FLOOR and not view["double_funding"] and not wps:
            continue
        items.append({"project": scoring.project_brief(m), **view,
                      "similar": s >= scoring.THRESHOLD or bool(view["double_funding"])})
    items.sort(key=lambda i: (not i["double_funding"], -i["score"], i["project"]["code"]))
    return {"project_id": p.id, "threshold": scoring.THRESHOLD, "items": items[:limit]}


def require_reader(identity: Identity) -> None:
    if not (identity.is_national or (identity.has_role("funder") and identity.org)):
        raise Forbidden("only the coordination project, funders and admins read the overlap report")


async def freshness(session: AsyncSession) -> dict[str, Any]:
    build, _ = await queries.build_state(session)
    if build is None:
        return {"built_at": None, "change_seq": None, "changes_since": None, "stale": True,
                "projects": 0, "pairs": 0, "build_ms": None}
    since = await queries.changes_since(session, build.change_seq)
    return {"built_at": build.built_at.isoformat(), "change_seq": build.change_seq,
            "changes_since": since, "stale": since > 0, "projects": build.projects,
            "pairs": build.pairs, "build_ms": build.build_ms}


def _pair_out(pair: Any, briefs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"id": pair.id, "score": pair.score / 1000, "text_score": pair.text_score / 1000,
            "double_funding": pair.double_funding, "reasons": pair.reasons,
            "projects": [briefs.get(pair.project_a_id, {"id": pair.project_a_id}),
                         briefs.get(pair.project_b_id, {"id": pair.project_b_id})],
            "computed_at": pair.computed_at.isoformat()}


async def report(session: AsyncSession, identity: Identity, theme_id: str | None,
                 region: str | None, min_score: float | None, cursor: str | None,
                 limit: int) -> dict[str, Any]:
    require_reader(identity)
    q = queries.report(identity, theme_id, region,
                       None if min_score is None else _thousandths(min_score))
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [queries.OverlapPair.rank, queries.OverlapPair.id],
                               cursor, limit)
    briefs = await queries.briefs(session, sorted({i for r in rows
                                                   for i in (r.project_a_id, r.project_b_id)}))
    return {"items": [_pair_out(r, briefs) for r in rows], "total": total, "next_cursor": nxt,
            "threshold": scoring.THRESHOLD, "freshness": await freshness(session)}


async def export(session: AsyncSession, identity: Identity, theme_id: str | None,
                 region: str | None, min_score: float | None, max_rows: int) -> list[dict[str, Any]]:
    require_reader(identity)
    q = queries.report(identity, theme_id, region,
                       None if min_score is None else _thousandths(min_score))
    rows = list((await session.scalars(q.order_by(queries.OverlapPair.rank,
                                                  queries.OverlapPair.id).limit(max_rows))).all())
    briefs = await queries.briefs(session, sorted({i for r in rows
                                                   for i in (r.project_a_id, r.project_b_id)}))
    return [_pair_out(r, briefs) for r in rows]


async def _pairs(session: AsyncSession, idx: SimilarityIndex) -> list[dict[str, Any]]:
    """Every pair above the threshold, and every pair sharing a workplace in overlapping terms."""
    found: dict[tuple[str, str], tuple[float, str | None]] = {}
    for n, pid in enumerate(idx.project_ids()):
        for other, (s, lang) in idx.text_neighbours(pid, NEIGHBOURS, scoring.THRESHOLD).items():
            key = (pid, other) if pid < other else (other, pid)
            if s > found.get(key, (0.0, None))[0]:
                found[key] = (s, lang)
        if n % 200 == 199:
            await asyncio.sleep(0)  # in the service: let requests in between
    workplaces: dict[tuple[str, str], list[Any]] = {}
    for r in await queries.all_shared_workplaces(session):
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
        score = _thousandths(view["score"])
        rows.append({"id": f"{key[0]}:{key[1]}", "project_a_id": key[0], "project_b_id": key[1],
                     "theme_a_id": a.theme_id, "theme_b_id": b.theme_id, "score": score,
                     "text_score": _thousandths(s), "double_funding": bool(view["double_funding"]),
                     "rank": (0 if view["double_funding"] else 1_000_000) + 1000 - score,
                     "reasons": view["reasons"], "computed_at": now})
    return rows


async def rebuild(uow: UnitOfWork, identity: Identity | None = None) -> dict[str, Any]:
    """Recompute the national report from the similarity index; emits
    `overlap.double_funding_flagged` for each new double-funding pair and
    `overlap_report.rebuilt`. `identity` None: the CLI or the background task."""
    if identity is not None and not identity.is_national:
        raise Forbidden("only coordinators and admins rebuild the overlap report")
    async with _LOCK:
        return await _rebuild(uow)


async def _rebuild(uow: UnitOfWork) -> dict[str, Any]:
    session = uow.session
    started = time.perf_counter()
    idx = for_session(session)
    seq = await idx.sync(session)
    before = await queries.pair_ids(session, double_only=True)
    rows = await _pairs(session, idx)
    build = {"built_at": utcnow(), "change_seq": seq, "projects": len(idx.project_ids()),
             "pairs": len(rows), "build_ms": int((time.perf_counter() - started) * 1000)}
    await queries.replace_pairs(session, rows, build)
    new = [r for r in rows if r["double_funding"] and r["id"] not in before]
    funders = await queries.funders(session, sorted({i for r in new
                                                     for i in (r["project_a_id"], r["project_b_id"])}))
    for r in new:
        await uow.emit(contracts.OVERLAP_DOUBLE_FUNDING_FLAGGED, r["id"], events.flagged(r, funders))
    doubles = sum(1 for r in rows if r["double_funding"])
    await uow.emit(contracts.OVERLAP_REPORT_REBUILT, queries.BUILD_ID,
                   events.rebuilt(build, doubles))
    return {**build, "built_at": build["built_at"].isoformat(), "double_funding_pairs": doubles,
            "new_double_funding_pairs": len(new)}


async def rebuild_if_stale(maker, outbox) -> None:
    """Background and CLI: rebuild when any project or workplace changed since the last build."""
    async with maker() as session:
        build, _ = await queries.build_state(session)
        if build is not None and not await queries.changes_since(session, build.change_seq):
            return
        await rebuild(UnitOfWork(session, outbox))
        await session.commit()
