"""The in-memory similarity index of projects: per language a TextIndex over name, goals and
starting points, and per project what the structural reasons compare (target groups, sub-themes,
regions, lead and partner organisations, theme, terms).

Kept exact like the project list index (projects/index.py): before a query it replays the change
feed from the last seq it applied and reloads the projects named there (they go into the text
index's overlay, scored exactly). One index per database engine and process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Change, Project, ProjectPartner
from registry.overlap.text import LANGS, TextIndex, dot

TEXT_FIELDS = ("name", "goals", "starting_points")
_CHUNK = 10_000


@dataclass
class Meta:
    """What the structural reasons compare, per project."""

    id: str
    code: str
    name: dict
    theme_id: str | None
    start: dt.date | None
    end: dt.date | None
    status: str
    archived: bool
    target_groups: frozenset[str] = frozenset()
    sub_themes: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    organisations: frozenset[str] = frozenset()
    langs: tuple[str, ...] = field(default_factory=tuple)


def project_text(row: Any, lang: str) -> str:
    parts = []
    for f in TEXT_FIELDS:
        v = getattr(row, f)
        if isinstance(v, dict) and isinstance(v.get(lang), str):
            parts.append(v[lang])
    return " ".join(parts)


class SimilarityIndex:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.lock = asyncio.Lock()
        self.row_of: dict[str, int] = {}
        self.meta: list[Meta | None] = []
        self.text = {lang: TextIndex() for lang in LANGS}

    async def sync(self, session: AsyncSession) -> int:
        """Apply every project change committed since the last sync; returns the seq applied."""
        top = int(await session.scalar(select(func.coalesce(func.max(Change.seq), 0))))
        if top == self.seq:
            return top
        async with self.lock:
            if self.seq is not None and self.seq >= top:
                return self.seq
            if self.seq is None:
                await self._load(session, None)
            else:
                ids = list((await session.scalars(select(Change.entity_id).where(
                    Change.seq > self.seq, Change.seq <= top,
                    Change.entity_type == "project").distinct())).all())
                if ids:
                    await self._load(session, ids)
            self.seq = top
        return top

    async def _load(self, session: AsyncSession, ids: list[str] | None) -> None:
        cols = (Project.id, Project.code, Project.name, Project.goals, Project.starting_points,
                Project.theme_id, Project.start_date, Project.end_date, Project.status,
                Project.archived, Project.target_groups, Project.sub_themes, Project.region_codes,
                Project.organisation_id)
        chunks: list[list[str] | None] = [None] if ids is None else \
            [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
        fetched = []
        for chunk in chunks:
            q, pq = select(*cols), select(ProjectPartner.project_id, ProjectPartner.organisation_id)
            if chunk is not None:
                q, pq = q.where(Project.id.in_(chunk)), pq.where(ProjectPartner.project_id.in_(chunk))
            fetched.append(((await session.execute(q)).all(), (await session.execute(pq)).all()))
        # Applied without an await in between: a query never sees a half-applied change.
        for rows, partners in fetched:
            orgs: dict[str, set[str]] = {}
            for pid, oid in partners:
                orgs.setdefault(pid, set()).add(oid)
            for r in rows:
                self._put(r, orgs.get(r.id, set()))
        if ids is None:
            for t in self.text.values():
                t.pack()

    def _put(self, r: Any, partners: set[str]) -> None:
        row = self.row_of.get(r.id)
        if row is None:
            row = self.row_of[r.id] = len(self.meta)
            self.meta.append(None)
        langs = []
        for lang in LANGS:
            text = project_text(r, lang)
            self.text[lang].put(row, text)
            if text:
                langs.append(lang)
        self.meta[row] = Meta(
            id=r.id, code=r.code, name=r.name or {}, theme_id=r.theme_id, start=r.start_date,
            end=r.end_date, status=r.status, archived=bool(r.archived),
            target_groups=frozenset(r.target_groups or ()), sub_themes=frozenset(r.sub_themes or ()),
            regions=frozenset(r.region_codes or ()),
            organisations=frozenset({*partners, *([r.organisation_id] if r.organisation_id else [])}),
            langs=tuple(langs))

    def pack(self) -> None:
        for t in self.text.values():
            t.pack()

    def get(self, project_id: str) -> Meta | None:
        row = self.row_of.get(project_id)
        return None if row is None else self.meta[row]

    def text_neighbours(self, project_id: str, k: int, floor: float) -> dict[str, tuple[float, str]]:
        """Up to `k` projects per language whose text is at least `floor` similar:
        id -> (the best cosine over the languages both have, that language)."""
        row = self.row_of.get(project_id)
        if row is None:
            return {}
        out: dict[str, tuple[float, str]] = {}
        for lang, idx in self.text.items():
            idx.fresh()
            v = idx.vector(row)
            if v is None:
                continue
            for doc, s in idx.top(v, k, exclude=row, floor=floor):
                m = self.meta[doc]
                if m is None or m.archived:
                    continue
                if s > out.get(m.id, (0.0, ""))[0]:
                    out[m.id] = (s, lang)
        return out

    def text_score(self, a: str, b: str) -> tuple[float, str | None]:
        ra, rb = self.row_of.get(a), self.row_of.get(b)
        best: tuple[float, str | None] = (0.0, None)
        if ra is None or rb is None:
            return best
        for lang, idx in self.text.items():
            idx.fresh()
            va, vb = idx.vector(ra), idx.vector(rb)
            if va is not None and vb is not None:
                s = dot(va, vb)
                if s > best[0]:
                    best = (s, lang)
        return best

    def project_ids(self) -> list[str]:
        return [m.id for m in self.meta if m is not None and not m.archived]


_indexes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def for_session(session: AsyncSession) -> SimilarityIndex:
    engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind
    index = _indexes.get(engine)
    if index is None:
        index = _indexes[engine] = SimilarityIndex()
    return index
