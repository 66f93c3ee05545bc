"""Overlap rules: who may see which similar projects and which pairs of the national report.

The report is precomputed (overlap/build.py) so that a report request is a query; its freshness
(when built, from which change-feed seq, how many project changes since) comes with every page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.overlap import queries, scoring
from registry.overlap.index import for_session
from registry.projects.service import project as project_service
from shared.errors import Forbidden
from shared.identity import Identity
from shared.pagination import count, paginate


def thousandths(x: float) -> int:
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


def require_rebuilder(identity: Identity) -> None:
    if not identity.is_national:
        raise Forbidden("only coordinators and admins rebuild the overlap report")


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
                       None if min_score is None else thousandths(min_score))
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
                       None if min_score is None else thousandths(min_score))
    rows = list((await session.scalars(q.order_by(queries.OverlapPair.rank,
                                                  queries.OverlapPair.id).limit(max_rows))).all())
    briefs = await queries.briefs(session, sorted({i for r in rows
                                                   for i in (r.project_a_id, r.project_b_id)}))
    return [_pair_out(r, briefs) for r in rows]
