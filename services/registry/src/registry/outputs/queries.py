"""The outputs' and lessons' SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.models import Project
from shared.identity import Identity


def listed(model: Any, identity: Identity | None, *, project_id: str | None = None,
           theme_id: str | None = None, equal: dict[str, str | None] | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None) -> Select:
    """Rows of `model` (ProjectOutput or Lesson) of the projects `identity` may list (None: the
    caller has already been let see the one project asked for), filtered."""
    q = select(model).join(Project, Project.id == model.project_id)
    if identity is not None:
        q = q.where(access.project_filter(identity))
    if project_id:
        q = q.where(model.project_id == project_id)
    if theme_id:
        q = q.where(Project.theme_id == theme_id)
    for column, value in (equal or {}).items():
        if value is not None:
            q = q.where(getattr(model, column) == value)
    if date_from is not None:
        q = q.where(model.date >= date_from)
    if date_to is not None:
        q = q.where(model.date <= date_to)
    return q


async def project_labels(session: AsyncSession, ids: set[str]) -> dict[str, tuple[str, dict]]:
    """Code and name of each project, for list items and export rows."""
    if not ids:
        return {}
    rows = await session.execute(select(Project.id, Project.code, Project.name)
                                 .where(Project.id.in_(ids)))
    return {pid: (code, name) for pid, code, name in rows.tuples().all()}


async def first_rows(session: AsyncSession, query: Select, keys: list[Any], max_rows: int) -> list:
    return list((await session.scalars(query.order_by(*keys).limit(max_rows))).all())
