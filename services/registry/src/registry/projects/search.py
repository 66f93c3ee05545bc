"""Full-text search: PostgreSQL text search (finnish/swedish/english), SQLite FTS5; ranked."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    bindparam,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

# PostgreSQL: the narrow search table (migration 7837706dcd10), one small row per project with
# what list queries filter, count, sort and rank on; kept by statement triggers on project and
# project_partner (COPY included). fts_vector: fi + sv + en configurations over search_*.
# Not in the ORM metadata: the migration owns it ("fts_" names are skipped by autogenerate).
SEARCH = Table(
    "fts_project_search", MetaData(),
    Column("id", String(36), primary_key=True), Column("code", String(40)),
    Column("updated_at", DateTime(timezone=True)), Column("status", String(20)),
    Column("kind", String(20)),  # migration 9a1c2e7b4d10
    *[Column(c, String(36)) for c in ("theme_id", "programme_id", "funder_id", "organisation_id",
                                      "call_id")],
    *[Column(c, ARRAY(Text)) for c in ("region_codes", "target_groups", "sub_themes",
                                         "partner_ids")],
    Column("budget_total", Numeric(16, 2)), Column("start_date", Date), Column("end_date", Date),
    Column("published", Boolean), Column("archived", Boolean), Column("fts_vector", TSVECTOR),
    Column("n", BigInteger))  # a row number that never changes (migration 4f2b9c1d7e01)
CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}
_TOKEN = re.compile(r"\w+", re.UNICODE)


def _text_of(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return value.get(lang) or ""
    return ""


def search_texts(data: dict[str, Any]) -> dict[str, str]:
    """The per-language search text of a project (name weighs most: it comes first)."""
    out = {}
    for lang in ("fi", "sv", "en"):
        parts = [_text_of(data.get(k), lang) for k in ("name", "goals", "starting_points",
                                                         "further_info")]
        if lang == "fi":
            parts.insert(1, data.get("code") or "")
        out[f"search_{lang}"] = " ".join(p for p in parts if p)
    return out


def fts5_query(q: str) -> str | None:
    """User text to an FTS5 MATCH expression: every word must match (longer ones as prefixes)."""
    tokens = _TOKEN.findall(q)
    if not tokens:
        return None
    return " AND ".join(f'"{t}"*' if len(t) >= 4 else f'"{t}"' for t in tokens)


def pg_query(q: str, lang: str | None) -> ColumnElement:
    """The tsquery of the user's text: in one language, or in any of the three."""
    query = None
    for la in [lang] if lang else ["fi", "sv", "en"]:
        part = func.websearch_to_tsquery(literal_column(f"'{CONFIGS[la]}'"), bindparam("fts_q", q))
        query = part if query is None else query.op("||")(part)
    return query


def pg_match_and_rank(q: str, lang: str | None) -> tuple[ColumnElement, ColumnElement]:
    vector, query = SEARCH.c.fts_vector, pg_query(q, lang)
    return vector.op("@@")(query), func.ts_rank(vector, query)


async def sqlite_sync(session: AsyncSession, rows: list[dict[str, Any]], fresh: bool = False) -> None:
    """Keep the SQLite FTS5 table in step with the projects written (rows: id + search_*)."""
    if session.bind.dialect.name != "sqlite" or not rows:
        return
    ids = [] if fresh else [r["id"] for r in rows]
    for i in range(0, len(ids), 500):
        await session.execute(text("DELETE FROM fts_project WHERE project_id IN "
                                   f"({','.join(':p' + str(j) for j in range(len(ids[i:i + 500])))})")
                              .bindparams(**{f"p{j}": v for j, v in enumerate(ids[i:i + 500])}))
    await session.execute(
        text("INSERT INTO fts_project (project_id, fi, sv, en) VALUES (:id, :fi, :sv, :en)"),
        [{"id": r["id"], "fi": r.get("search_fi") or "", "sv": r.get("search_sv") or "",
          "en": r.get("search_en") or ""} for r in rows])

