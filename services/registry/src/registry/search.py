"""Full-text search: PostgreSQL text search (finnish/swedish/english), SQLite FTS5; ranked."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession

# PostgreSQL: a stored tsvector column (fi + sv + en configurations over search_*), kept by a
# trigger on every write, COPY included (migration 0cd396afd1fd), GIN-indexed.
FTS_PG_VECTOR = "project.fts_vector"
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


def pg_match_and_rank(q: str, lang: str | None) -> tuple[ColumnElement, ColumnElement]:
    langs = [lang] if lang else ["fi", "sv", "en"]
    vector = literal_column(FTS_PG_VECTOR)
    query = None
    for la in langs:
        part = func.websearch_to_tsquery(literal_column(f"'{CONFIGS[la]}'"), bindparam("fts_q", q))
        query = part if query is None else query.op("||")(part)
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

