"""Project lists: filters, full-text search, sorting, cursor pagination with a total, facets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    Text,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.models import Project, ProjectPartner, ProjectTag
from registry.projects import index as pindex
from registry.projects import search, text_index, tsquery
from registry.projects.facet_labels import finish_facets
from shared.errors import Unprocessable
from shared.identity import Identity
from shared.pagination import decode_cursor, encode_cursor

# Attribute names, the same on Project and on the PostgreSQL search table (search.SEARCH.c).
SORTS = ("code", "start_date", "end_date", "budget_total", "updated_at")
COLUMN_FACETS = pindex.SINGLE  # facet -> column; the in-memory index keeps the same
TAG_FACETS = {"region": "region", "target_group": "target_group", "sub_theme": "sub_theme",
              "partner": "partner"}
# Multi-valued facets: arrays on the search table (PostgreSQL), JSON arrays on the project row
# (SQLite; partners there come from project_partner).
ARRAY_FACETS = {**pindex.MULTI, "partner": "partner_ids"}
FACETS = (*COLUMN_FACETS, *TAG_FACETS)


@dataclass
class ProjectQuery:
    q: str | None = None
    lang: str | None = None
    status: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    theme: list[str] = field(default_factory=list)
    programme: list[str] = field(default_factory=list)
    funder: list[str] = field(default_factory=list)
    implementer: list[str] = field(default_factory=list)
    call: list[str] = field(default_factory=list)
    target_group: list[str] = field(default_factory=list)
    sub_theme: list[str] = field(default_factory=list)
    partner: list[str] = field(default_factory=list)
    active_from: dt.date | None = None
    active_to: dt.date | None = None
    budget_min: Decimal | None = None
    budget_max: Decimal | None = None
    include_archived: bool = False
    published: bool | None = None
    sort: str = "code"


def _tag_in(kind: str, values: list[str]) -> ColumnElement[bool]:
    return Project.id.in_(select(ProjectTag.project_id)
                          .where(ProjectTag.kind == kind, ProjectTag.value.in_(values)))


def source(session: AsyncSession):
    """Where list queries read: PostgreSQL's narrow search table (a few MB to scan instead of
    the ~100 MB project heap), SQLite's project table."""
    return search.SEARCH.c if _pg(session) else Project


def _pg(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def conditions(session: AsyncSession, identity: Identity, pq: ProjectQuery,
               skip: str | None = None) -> tuple[list[ColumnElement[bool]], ColumnElement | None]:
    """WHERE conditions for the query, and the rank expression when searching.

    `skip` leaves out one facet's own filter (its counts, Kohesio-style, show the other values)."""
    t = source(session)
    conds: list[ColumnElement[bool]] = [access.project_filter(identity, t)]
    if not (pq.include_archived and identity.is_national):
        conds.append(t.archived.is_(False))
    for name, col in COLUMN_FACETS.items():
        values = getattr(pq, name)
        if values and name != skip:
            conds.append(getattr(t, col).in_(values))
    for name, kind in TAG_FACETS.items():
        values = getattr(pq, name)
        if values and name != skip:
            conds.append(getattr(t, ARRAY_FACETS[name]).overlap(values) if _pg(session)
                         else _tag_in(kind, values))
    if pq.active_from:  # term overlaps [active_from, active_to]
        conds.append(or_(t.end_date.is_(None), t.end_date >= pq.active_from))
    if pq.active_to:
        conds.append(or_(t.start_date.is_(None), t.start_date <= pq.active_to))
    if pq.budget_min is not None:
        conds.append(t.budget_total >= pq.budget_min)
    if pq.budget_max is not None:
        conds.append(t.budget_total <= pq.budget_max)
    if pq.published is not None:
        conds.append(t.published.is_(pq.published))
    rank = None
    if pq.q and pq.q.strip():
        if _pg(session):
            match, rank = search.pg_match_and_rank(pq.q.strip(), pq.lang)
            conds.append(match)
        else:
            hits = _fts5_hits(pq)
            conds.append(Project.id.in_(select(hits.c.pid)))
            rank = hits
    return conds, rank


async def run(session: AsyncSession, identity: Identity, pq: ProjectQuery, *, limit: int,
              cursor: str | None, with_facets: bool, lang: str = "fi",
              use_index: bool | None = None, facet_limit: int | None = None
              ) -> tuple[list[tuple[Project, float | None]], int, str | None, dict | None]:
    """A page of projects, the total and (if asked) the facets, each cut to its `facet_limit`
    most frequent values plus those filtered on. `use_index`: answer from the in-memory index
    (projects/index.py; default: REGISTRY_SEARCH_INDEX) or in SQL alone."""
    searching = bool(pq.q and pq.q.strip())
    sort = pq.sort
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "rank" and not searching:
        key, desc = "code", False
    if key not in SORTS and key != "rank":
        raise Unprocessable("unknown sort", errors=[{
            "field": "query/sort", "type": "value_error",
            "message": f"one of {sorted([*SORTS, 'rank'])}, optionally prefixed by -"}])
    # Keyset cursors carry the last row's key and id; the others a position.
    offset = 0 if key in ("code", "updated_at") else int((decode_cursor(cursor) or [0])[0])
    if pindex.enabled if use_index is None else use_index:
        page, total, facets = await _run_indexed(session, identity, pq, key=key, desc=desc,
                                                 cursor=cursor, offset=offset, limit=limit,
                                                 with_facets=with_facets)
        if facets is not None:
            await finish_facets(session, facets, lang, pq, facet_limit,
                                 pindex.for_session(session).names)
    else:
        page, total, facets = await _run_sql(session, identity, pq, key=key, desc=desc,
                                             cursor=cursor, offset=offset, limit=limit,
                                             with_facets=with_facets, lang=lang,
                                             facet_limit=facet_limit)
    next_cursor = None
    loaded: dict[str, Project] = {}
    ids = [r[0] for r in page]
    for i in range(0, len(ids), 10_000):  # exports take up to 100,000 rows; bind-parameter cap
        loaded.update((p.id, p) for p in (await session.scalars(
            select(Project).where(Project.id.in_(ids[i:i + 10_000])))).all())
    if len(page) > limit:
        page = page[:limit]
        last = loaded[page[-1][0]]
        if key in ("code", "updated_at"):
            next_cursor = encode_cursor([last.code if key == "code"
                                         else last.updated_at.isoformat(), last.id])
        else:
            next_cursor = encode_cursor([offset + limit])
    rows = [(loaded[pid], r) for pid, r in page]
    return rows, total, next_cursor, facets


async def _run_indexed(session: AsyncSession, identity: Identity, pq: ProjectQuery, *, key: str,
                       desc: bool, cursor: str | None, offset: int, limit: int,
                       with_facets: bool) -> tuple[list[tuple[str, float | None]], int, dict | None]:
    index = pindex.for_session(session)
    await index.sync(session)
    hits = None
    if pq.q and pq.q.strip() and _pg(session) and index.text is not None:
        # The words as PostgreSQL reads them (stems, stop words); matched and ranked here when
        # the text index reads the tree (projects/text_index.py), else by PostgreSQL below.
        words = (await session.execute(select(
            search.pg_query(pq.q.strip(), pq.lang).cast(Text)))).scalar_one()
        try:
            tree = tsquery.parse(words)
        except tsquery.Unreadable:
            tree = False
        if tree is None:  # only stop words: nothing matches, as `@@` says
            hits = (np.zeros(0, np.int64), np.zeros(0))
        elif tree and tsquery.readable_here(tree):
            hits = pindex.TextHits(index.text, tree, await text_index.query_keys(session, tree))
    if hits is None and pq.q and pq.q.strip():
        if _pg(session):
            # A topic word matches ~15 % of the rows: read them through the GIN index's bitmap
            # (~10 ms at 100k) rather than a sequential scan the default costs prefer (~40 ms).
            # A custom plan folds websearch_to_tsquery(:q) to a constant; the generic plan that
            # a prepared statement turns to after five runs parses the query again per row (5×).
            await session.execute(text("SELECT set_config('random_page_cost', '1.1', true), "
                                       "set_config('plan_cache_mode', 'force_custom_plan', true)"))
            # Two arrays in one row, the matches as row numbers: ~15,000 result rows or string
            # ids cost more to build and map than to find.
            match, rank = search.pg_match_and_rank(pq.q.strip(), pq.lang)
            keys, ranks = (await session.execute(select(
                func.array_agg(search.SEARCH.c.n), func.array_agg(rank)).where(match))).one()
            rows = index.rows_of_keys(np.asarray(keys or [], np.int64))
            ranks = ranks or []
        else:
            # Two strings in one row: ~15,000 row tuples cost more than the match, and their
            # garbage set off full collections (~45 ms) every few queries.
            hits5 = _fts5_hits(pq)
            inner = select(hits5.c.pid, func.printf("%.17g", -hits5.c.score).label("rank")) \
                .limit(-1).subquery()  # LIMIT keeps bm25() out of the aggregate (SQLite rule)
            pids, ranks = (await session.execute(select(
                func.group_concat(inner.c.pid, " "), func.group_concat(inner.c.rank, " ")))).one()
            pids = pids.split(" ") if pids else []
            rows = np.fromiter(map(index.row_of.get, pids, repeat(-1)), np.int64, len(pids))
            ranks = np.array(ranks.split(" "), np.float64) if ranks else []
        known = rows >= 0  # a project committed after the sync: the next query has it
        hits = (rows[known], np.asarray(ranks, np.float64)[known])
    return index.query(identity, pq, hits, key=key, desc=desc, cursor=decode_cursor(cursor),
                       offset=offset, limit=limit, with_facets=with_facets)


def _fts5_hits(pq: ProjectQuery):
    expr = search.fts5_query(pq.q)
    if expr is None:
        raise Unprocessable("nothing to search for", errors=[
            {"field": "query/q", "type": "value_error", "message": "no words in q"}])
    col = {"fi": "fi", "sv": "sv", "en": "en"}.get(pq.lang or "")
    match_expr = f"{{{col}}} : ({expr})" if col else expr
    return text("SELECT project_id AS pid, bm25(fts_project) AS score FROM fts_project "
                "WHERE fts_project MATCH :fts_q").bindparams(fts_q=match_expr) \
        .columns(pid=String, score=Float).subquery("hits")


async def _run_sql(session: AsyncSession, identity: Identity, pq: ProjectQuery, *, key: str,
                   desc: bool, cursor: str | None, offset: int, limit: int, with_facets: bool,
                   lang: str, facet_limit: int | None
                   ) -> tuple[list[tuple[str, float | None]], int, dict | None]:
    conds, rank = conditions(session, identity, pq)
    t = source(session)
    if _pg(session):
        # The facet statement's estimated cost passes jit_above_cost; compiling it cost more
        # (~120 ms at 100k projects) than running it. work_mem: its shared match (~15,000
        # rows for a topic word) spilled to temporary files at the default 4 MB.
        await session.execute(text("SELECT set_config('jit', 'off', true), "
                                   "set_config('work_mem', '32MB', true), "
                                   "set_config('plan_cache_mode', 'force_custom_plan', true)"))
    # The page is chosen on the narrow source (ids, sort keys, rank); only its rows are loaded.
    if rank is not None and not isinstance(rank, ColumnElement):
        # SQLite: join the FTS5 hits once; bm25 is lower for better matches.
        hits = rank
        rank = -hits.c.score
        src = select(t.id, t.code, t.updated_at, t.start_date, t.end_date, t.budget_total,
                     rank.label("rank")).join(hits, hits.c.pid == t.id).where(*conds).subquery()
    else:
        src = None
    facets, total = None, None
    if with_facets and _pg(session):
        # One statement: the page is taken from the same match as the facets and the total,
        # so the ~15,000 matching rows of a topic word are read (and ranked) once.
        facets, total, page = await facet_counts(
            session, identity, pq, conds, lang, facet_limit, rank=rank,
            page=lambda m: _page(m.c, key, desc, cursor, offset, limit, with_pos=True))
    else:
        if with_facets:
            facets, total, _ = await facet_counts(session, identity, pq, conds, lang, facet_limit)
        else:
            total = int(await session.scalar(select(func.count()).select_from(
                select(t.id).where(*conds).subquery())) or 0)
        if src is None:
            src = select(t.id, t.code, t.updated_at, t.start_date, t.end_date, t.budget_total,
                         (rank if rank is not None else literal(None)).label("rank")) \
                .where(*conds).subquery()
        page = [(r.id, r.rank) for r in (await session.execute(
            _page(src.c, key, desc, cursor, offset, limit))).all()]
    return page, total, facets


def _page(c, key: str, desc: bool, cursor: str | None, offset: int, limit: int,
          with_pos: bool = False) -> Select:
    """The page's ids and ranks, in order (`c`: columns id, code, updated_at, the sort keys and
    rank), with its position as `pos` if asked."""
    values = decode_cursor(cursor)
    if key in ("code", "updated_at"):
        # Keyset on a unique-enough non-null key (+ id as tie-breaker).
        col = c[key]
        order = [col.desc() if desc else col, c.id.desc() if desc else c.id]
        q = select(c.id, c.rank)
        if values:
            last = values[0] if key == "code" else dt.datetime.fromisoformat(values[0])
            q = q.where((col < last) | ((col == last) & (c.id < values[1]))) if desc else \
                q.where((col > last) | ((col == last) & (c.id > values[1])))
    else:
        # Nullable keys and relevance: the cursor carries the position in the ordered result.
        # Nulls last either way, on both databases (their defaults differ).
        order = [c.rank.desc() if key == "rank" else
                 (c[key].desc() if desc else c[key].asc()).nulls_last(), c.code]
        q = select(c.id, c.rank)
    if with_pos:  # in the facet statement, whose parts come back unordered
        q = q.add_columns(func.row_number().over(order_by=order).label("pos"))
    # Without the window, ORDER BY .. LIMIT can stop early (an index on code, a top-N sort).
    return q.order_by(*order).offset(offset).limit(limit + 1)


def _elements(session: AsyncSession, column):
    """The elements of an array column (PostgreSQL text[], SQLite JSON), table-valued.

    Multi-valued facets are counted from the row's own arrays: a join with project_tag cost a
    scan of half a million tag rows at 100k projects."""
    if _pg(session):
        return func.unnest(column).table_valued("value").render_derived()
    return func.json_each(column).table_valued("value")


def _facet_parts(session: AsyncSession, conds: list, names: list[str], name: str,
                 with_total: bool, rank=None, page=None) -> list[Select]:
    """Count statements for the facets `names` over the projects matching `conds`
    (rows: facet, value, n, score); with `page`, the page's rows too (facet "_page")."""
    t = source(session)
    cols = [n for n in names if n in COLUMN_FACETS]
    # SQLite has no partner array on the project row: partners are joined from their table.
    arrays = [n for n in names if n in ARRAY_FACETS and (n != "partner" or _pg(session))]
    extra = [] if page is None else [
        t.code.label("code"), t.updated_at.label("updated_at"), t.start_date.label("start_date"),
        t.end_date.label("end_date"), t.budget_total.label("budget_total"),
        (rank if rank is not None else literal(None, Float)).label("rank")]
    matched = select(t.id, *[getattr(t, COLUMN_FACETS[n]).label(n) for n in cols],
                     *[getattr(t, ARRAY_FACETS[n]).label(n) for n in arrays], *extra) \
        .where(*conds).cte(name)
    no_score = literal(None, Float).label("score")
    parts = [select(literal("_total").label("facet"), null().label("value"),
                    func.count().label("n"), no_score).select_from(matched)] if with_total else []
    parts += [select(literal(n).label("facet"), matched.c[n].label("value"), func.count().label("n"),
                     no_score).group_by(matched.c[n]) for n in cols]
    for n in arrays:
        elem = _elements(session, matched.c[n])
        parts.append(select(literal(n).label("facet"), elem.c.value.label("value"),
                            func.count().label("n"), no_score).select_from(matched)
                     .join(elem, true()).group_by(elem.c.value))
    if "partner" in names and not _pg(session):
        pp = ProjectPartner.__table__
        parts.append(select(literal("partner").label("facet"), pp.c.organisation_id.label("value"),
                            func.count().label("n"), no_score)
                     .join(matched, matched.c.id == pp.c.project_id)
                     .group_by(pp.c.organisation_id))
    if page is not None:
        sq = page(matched).subquery("page")
        parts.append(select(literal("_page").label("facet"), sq.c.id.label("value"),
                            sq.c.pos.label("n"), sq.c.rank.label("score")))
    return parts


async def facet_counts(session: AsyncSession, identity: Identity, pq: ProjectQuery, conds: list,
                       lang: str, facet_limit: int | None = None, rank=None, page=None
                       ) -> tuple[dict[str, list[dict]], int, list[tuple[str, float | None]]]:
    """Counts per value of each filter, and the total, in one statement.

    As Kohesio shows them: a facet's counts apply every filter but its own (filtering region=06
    still shows how many projects each other region has), so each facet with an active filter
    is counted over its own match; all the others share the query's match."""
    active = [n for n in FACETS if getattr(pq, n)]
    parts = _facet_parts(session, conds, [n for n in FACETS if n not in active], "matched", True,
                         rank, page)
    for n in active:
        parts += _facet_parts(session, conditions(session, identity, pq, skip=n)[0], [n], f"m_{n}",
                              False)
    rows = (await session.execute(union_all(*parts))).all()
    out: dict[str, list[dict]] = {n: [] for n in FACETS}
    total = 0
    page_rows = []
    for facet, value, n, score in rows:
        if facet == "_total":
            total = int(n)
            continue
        if facet == "_page":
            page_rows.append((int(n), value, score))
            continue
        out.setdefault(facet, []).append({"value": value, "count": int(n)})
    await finish_facets(session, out, lang, pq, facet_limit)
    return out, total, [(pid, score) for _, pid, score in sorted(page_rows)]


def summary(p: Project, rank: float | None) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "status": p.status,
            "kind": p.kind or "development",
            "start_date": p.start_date, "end_date": p.end_date,
            "organisation_id": p.organisation_id, "funder_id": p.funder_id,
            "region_codes": p.region_codes or [], "theme_id": p.theme_id,
            "programme_id": p.programme_id, "call_id": p.call_id,
            "target_groups": p.target_groups or [], "sub_themes": p.sub_themes or [],
            "budget_total": p.budget_total, "published": p.published, "archived": p.archived,
            "version": p.version, "created_at": p.created_at, "updated_at": p.updated_at,
            "rank": float(rank) if rank is not None else None}
