"""The overlap package's SQL: shared workplaces, who may see what, the precomputed pairs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from registry import access
from registry.models import (
    Change,
    OverlapBuild,
    OverlapPair,
    Project,
    ProjectFunder,
    ProjectTag,
    ProjectWorkplace,
)
from shared.db import bulk_insert, dialect_insert
from shared.identity import Identity

BUILD_ID = "national"
_CHUNK = 10_000


def _shared_workplaces() -> Select:
    a, b = aliased(ProjectWorkplace), aliased(ProjectWorkplace)
    pa, pb = aliased(Project), aliased(Project)
    return (select(a.project_id.label("a_id"), b.project_id.label("b_id"),
                   a.organisation_id.label("organisation_id"),
                   a.joined_on.label("a_joined"), a.left_on.label("a_left"),
                   pa.end_date.label("a_end"), b.joined_on.label("b_joined"),
                   b.left_on.label("b_left"), pb.end_date.label("b_end"))
            .join(b, (b.organisation_id == a.organisation_id) & (b.project_id != a.project_id))
            .join(pa, pa.id == a.project_id).join(pb, pb.id == b.project_id)
            .where(pa.archived.is_(False), pb.archived.is_(False)))


async def shared_workplaces_of(session: AsyncSession, project_id: str) -> list[Any]:
    """Workplaces this project shares with other projects (one row per pairing of periods)."""
    q = _shared_workplaces()
    return list((await session.execute(q.where(q.selected_columns.a_id == project_id))).all())


async def all_shared_workplaces(session: AsyncSession, only: set[str] | None = None) -> list[Any]:
    """Every pair of projects sharing a workplace (a < b), or those of the projects `only`."""
    q = _shared_workplaces()
    a_id, b_id = q.selected_columns.a_id, q.selected_columns.b_id
    q = q.where(a_id < b_id)
    if only is None:
        return list((await session.execute(q)).all())
    ids, out = sorted(only), []
    for c in range(0, len(ids), 1000):
        chunk = ids[c:c + 1000]
        out += (await session.execute(q.where(or_(a_id.in_(chunk), b_id.in_(chunk))))).all()
    return list({(r.a_id, r.b_id, r.organisation_id, r.a_joined, r.b_joined): r
                 for r in out}.values())


def private_filter(identity: Identity) -> ColumnElement[bool]:
    """Projects whose private parts (workplaces among them) the caller may see."""
    if identity.is_national:
        return true()
    conds = []
    if identity.org and identity.has_role("implementer"):
        conds.append(Project.organisation_id == identity.org)
    if identity.org and identity.has_role("funder"):
        conds.append(Project.funder_id == identity.org)
        conds.append(Project.id.in_(select(ProjectFunder.project_id)
                                    .where(ProjectFunder.organisation_id == identity.org)))
    return or_(*conds) if conds else false()


async def visible(session: AsyncSession, identity: Identity, ids: list[str]) -> tuple[set[str], set[str]]:
    """Of `ids`: those the caller may list, and those whose private parts it may see."""
    if not ids:
        return set(), set()
    rows = (await session.execute(select(Project.id, private_filter(identity)).where(
        Project.id.in_(ids), access.project_filter(identity)))).all()
    return {r[0] for r in rows}, {r[0] for r in rows if r[1]}


async def funders(session: AsyncSession, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {i: set() for i in ids}
    for pid, fid in (await session.execute(select(Project.id, Project.funder_id).where(
            Project.id.in_(ids)))).all():
        if fid:
            out[pid].add(fid)
    for pid, fid in (await session.execute(select(ProjectFunder.project_id,
                                                  ProjectFunder.organisation_id).where(
            ProjectFunder.project_id.in_(ids)))).all():
        out[pid].add(fid)
    return {k: sorted(v) for k, v in out.items()}


def report(identity: Identity, theme_id: str | None, region: str | None,
           min_score: int | None) -> Select:
    """The precomputed pairs the caller may read (funders: those with a project they fund)."""
    q = select(OverlapPair)
    if not identity.is_national:
        funded = select(Project.id).where(Project.funder_id == identity.org).union(
            select(ProjectFunder.project_id).where(ProjectFunder.organisation_id == identity.org))
        q = q.where(or_(OverlapPair.project_a_id.in_(funded), OverlapPair.project_b_id.in_(funded)))
    if theme_id:
        q = q.where(or_(OverlapPair.theme_a_id == theme_id, OverlapPair.theme_b_id == theme_id))
    if region:
        q = q.where(exists().where(
            ProjectTag.kind == "region", ProjectTag.value == region,
            ProjectTag.project_id.in_([OverlapPair.project_a_id, OverlapPair.project_b_id])))
    if min_score is not None:
        q = q.where(or_(OverlapPair.score >= min_score, OverlapPair.double_funding.is_(True)))
    return q


async def briefs(session: AsyncSession, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = (await session.execute(select(
        Project.id, Project.code, Project.name, Project.theme_id, Project.region_codes,
        Project.funder_id, Project.start_date, Project.end_date).where(Project.id.in_(ids)))).all()
    return {r.id: {"id": r.id, "code": r.code, "name": r.name, "theme_id": r.theme_id,
                   "region_codes": r.region_codes or [], "funder_id": r.funder_id,
                   "start_date": r.start_date.isoformat() if r.start_date else None,
                   "end_date": r.end_date.isoformat() if r.end_date else None} for r in rows}


async def build_state(session: AsyncSession) -> tuple[OverlapBuild | None, int]:
    """The last build and the change feed's top seq now."""
    build = await session.get(OverlapBuild, BUILD_ID)
    top = int(await session.scalar(select(func.coalesce(func.max(Change.seq), 0))))
    return build, top


async def changes_since(session: AsyncSession, seq: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(Change).where(
        Change.seq > seq, Change.entity_type.in_(("project", "workplace")))))


async def pair_ids(session: AsyncSession, double_only: bool = False) -> set[str]:
    q = select(OverlapPair.id)
    if double_only:
        q = q.where(OverlapPair.double_funding.is_(True))
    return set((await session.scalars(q)).all())


async def replace_pairs(session: AsyncSession, rows: list[dict[str, Any]],
                        only: set[str] | None) -> int:
    """All pairs (only None), or those of the projects `only`, replaced by `rows`; the total."""
    if only is None:
        await session.execute(delete(OverlapPair))
    else:
        ids = sorted(only)
        for c in range(0, len(ids), 1000):
            chunk = ids[c:c + 1000]
            await session.execute(delete(OverlapPair).where(or_(
                OverlapPair.project_a_id.in_(chunk), OverlapPair.project_b_id.in_(chunk))))
    for i in range(0, len(rows), _CHUNK):
        await bulk_insert(session, OverlapPair.__table__, rows[i:i + _CHUNK])
    return int(await session.scalar(select(func.count()).select_from(OverlapPair)))


async def double_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(OverlapPair).where(
        OverlapPair.double_funding.is_(True))))


async def save_build(session: AsyncSession, build: dict[str, Any],
                     read: dt.datetime | None) -> bool:
    """Records the build if none was recorded since the one built at `read` (None: none yet),
    by compare-and-set: of two replicas building at once exactly one records its build (on
    PostgreSQL the other waits for the row and then misses it; SQLite has one writer at a
    time); False for the other, whose transaction must roll back with its pairs and events."""
    if read is None:
        done = await session.execute(
            dialect_insert(session, OverlapBuild.__table__)
            .on_conflict_do_nothing(index_elements=[OverlapBuild.id]),
            {"id": BUILD_ID, **build})
    else:
        done = await session.execute(
            update(OverlapBuild).where(OverlapBuild.id == BUILD_ID, OverlapBuild.built_at == read)
            .values(**build).execution_options(synchronize_session=False))
    return done.rowcount == 1


async def build_totals(session: AsyncSession, build: dict[str, Any]) -> None:
    """The pair count and time of the build recorded by save_build in this transaction."""
    await session.execute(update(OverlapBuild).where(OverlapBuild.id == BUILD_ID).values(
        pairs=build["pairs"], build_ms=build["build_ms"]).execution_options(
        synchronize_session=False))


async def changed_projects(session: AsyncSession, since: int, upto: int) -> set[str]:
    """Projects changed in (since, upto]: their own changes and their workplaces'."""
    rows = (await session.execute(select(Change.entity_type, Change.entity_id).where(
        Change.seq > since, Change.seq <= upto,
        Change.entity_type.in_(("project", "workplace"))).distinct())).all()
    out = {i for kind, i in rows if kind == "project"}
    wids = [i for kind, i in rows if kind == "workplace"]
    for c in range(0, len(wids), 1000):
        out.update((await session.scalars(select(ProjectWorkplace.project_id).where(
            ProjectWorkplace.id.in_(wids[c:c + 1000])))).all())
    return out
