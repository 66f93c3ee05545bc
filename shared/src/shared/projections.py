"""The project projection that consuming services keep from registry events.

Each consumer owns its own `project_projection` table (made here on its MetaData); the
handlers keep the highest version seen, so redelivered or out-of-order events are harmless.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import JSON, Column, Date, Integer, MetaData, String, Table, case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import registry as contracts
from shared.db import SessionDep, UTCDateTime, dialect_insert, utcnow
from shared.errors import NotFound, problem_responses
from shared.events.consumer import HandlerRegistry
from shared.limits import IdPath


def make_project_projection(metadata: MetaData) -> Table:
    return Table(
        "project_projection", metadata,
        Column("id", String(36), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("code", String(40), nullable=False, index=True),
        Column("name", JSON, nullable=False),
        Column("status", String(20), nullable=False),
        Column("start_date", Date),
        Column("end_date", Date),
        Column("organisation_id", String(36), index=True),
        Column("funder_id", String(36), index=True),
        Column("region_codes", JSON, nullable=False),
        # How many events were applied to this row (one handler run each): with the inbox
        # working it equals the number of distinct events about the project.
        Column("applied_count", Integer, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


def register_project_handlers(handlers: HandlerRegistry, table: Table) -> None:
    """Upsert the projection from project.created / project.updated (newest version wins)."""

    # Every applied event is counted; only a newer version changes the state. One statement
    # (INSERT .. ON CONFLICT DO UPDATE with CASE), built once per dialect.
    state_columns = ("version", "code", "name", "status", "start_date", "end_date",
                     "organisation_id", "funder_id", "region_codes", "updated_at")
    statements: dict[str, Any] = {}

    def statement(session: AsyncSession):
        dialect = session.bind.dialect.name
        if dialect not in statements:
            ins = dialect_insert(session, table)
            newer = ins.excluded.version > table.c.version
            set_ = {c: case((newer, ins.excluded[c]), else_=table.c[c]) for c in state_columns}
            set_["applied_count"] = table.c.applied_count + 1
            statements[dialect] = ins.on_conflict_do_update(index_elements=[table.c.id], set_=set_)
        return statements[dialect]

    async def upsert(session: AsyncSession, env: dict[str, Any]) -> None:
        state = contracts.ProjectState.model_validate(env["data"])
        await session.execute(statement(session), {
            "id": state.id, "applied_count": 1,
            "version": state.version, "code": state.code,
            "name": state.name.model_dump(exclude_none=True), "status": state.status,
            "start_date": state.start_date, "end_date": state.end_date,
            "organisation_id": state.organisation_id, "funder_id": state.funder_id,
            "region_codes": state.region_codes, "updated_at": utcnow(),
        })

    handlers.on(contracts.PROJECT_CREATED)(upsert)
    handlers.on(contracts.PROJECT_UPDATED)(upsert)

    @handlers.on_reset
    async def _reset(session: AsyncSession) -> None:
        await session.execute(delete(table))


def project_projection_router(prefix: str, table: Table, tag: str):
    """GET {prefix}/projects/{id}: what this service knows of a project (from events)."""
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get("/projects/{project_id}", summary="A project as this service knows it",
                responses=problem_responses(404), name=f"read_{tag}_project")
    async def read_projected_project(project_id: IdPath, session: SessionDep) -> dict[str, Any]:
        """The project projection, kept current from the registry's events."""
        row = (await session.execute(select(table).where(table.c.id == project_id))).mappings().first()
        if row is None:
            raise NotFound(f"{tag} knows no project {project_id} (yet)")
        return dict(row)

    return router
