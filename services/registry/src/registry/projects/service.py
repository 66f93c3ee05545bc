"""Project rules: who may create and change what, versioning, and the events each change emits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Project
from registry.projects.schemas import ProjectCreate, ProjectUpdate
from shared.contracts import registry as contracts
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, Unprocessable
from shared.events.outbox import Outbox
from shared.identity import Identity

ALLOWED_STATUS = {
    "planned": {"active", "cancelled"},
    "active": {"ended", "cancelled"},
    "ended": set(),
    "cancelled": set(),
}


def event_state(p: Project) -> dict[str, Any]:
    return {
        "id": p.id, "version": p.version, "code": p.code, "name": p.name, "status": p.status,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None,
        "organisation_id": p.organisation_id, "funder_id": p.funder_id,
        "region_codes": list(p.region_codes or []),
    }


def etag(p: Project) -> str:
    return f'"{p.id}:{p.version}"'


def may_edit(identity: Identity, p: Project) -> bool:
    if identity.is_national:
        return True
    if identity.has_role("implementer") and identity.org and identity.org == p.organisation_id:
        return True
    return bool(identity.has_role("funder") and identity.org and identity.org == p.funder_id)


class ProjectService:
    async def get(self, session: AsyncSession, project_id: str) -> Project:
        project = await session.get(Project, project_id)
        if project is None:
            raise NotFound(f"no project {project_id}")
        return project

    async def list(self, session: AsyncSession, *, limit: int, cursor: str | None,
                   status: str | None) -> tuple[list[Project], int, str | None]:
        q = select(Project)
        if status:
            q = q.where(Project.status == status)
        total = await session.scalar(select(func.count()).select_from(q.subquery()))
        if cursor:
            q = q.where(Project.code > cursor)
        rows = list((await session.scalars(q.order_by(Project.code).limit(limit + 1))).all())
        next_cursor = rows[limit - 1].code if len(rows) > limit else None
        return rows[:limit], int(total or 0), next_cursor

    async def create(self, session: AsyncSession, outbox: Outbox, identity: Identity,
                     data: ProjectCreate) -> Project:
        if not identity.has_role("admin", "coordinator", "implementer"):
            raise Forbidden("only implementers, coordinators and admins add projects")
        if not identity.is_national:
            if data.organisation_id is None:
                data = data.model_copy(update={"organisation_id": identity.org})
            if data.organisation_id != identity.org:
                raise Forbidden("an implementer adds projects only for its own organisation")
        if await session.scalar(select(Project.id).where(Project.code == data.code)):
            raise Conflict(f"a project with code {data.code} exists")
        project = Project(**data.model_dump(mode="python"), created_by=identity.sub)
        project.name = data.name.model_dump(exclude_none=True)
        session.add(project)
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict(f"a project with code {data.code} exists") from None
        await outbox.record(session, contracts.PROJECT_CREATED, project.id, event_state(project))
        return project

    async def update(self, session: AsyncSession, outbox: Outbox, identity: Identity,
                     project: Project, data: ProjectUpdate, if_match: str | None) -> Project:
        if not may_edit(identity, project):
            raise Forbidden("you may not change this project")
        if if_match is not None and if_match not in (etag(project), "*"):
            raise PreconditionFailed("the project has changed since you read it; read it again")
        changes = data.model_dump(exclude_unset=True, mode="python")
        if "status" in changes and changes["status"] != project.status:
            if changes["status"] not in ALLOWED_STATUS[project.status]:
                # 409: the request is valid, the project's current state refuses it.
                raise Conflict(
                    f"status cannot move from {project.status} to {changes['status']}",
                    errors=[{"field": "body/status", "type": "transition",
                             "message": f"allowed from {project.status}: "
                                        f"{sorted(ALLOWED_STATUS[project.status]) or 'none'}"}])
        start = changes.get("start_date", project.start_date)
        end = changes.get("end_date", project.end_date)
        if start and end and end < start:
            raise Unprocessable("end_date is before start_date", errors=[
                {"field": "body/end_date", "type": "date_order",
                 "message": "end_date is before start_date"}])
        if data.name is not None:
            changes["name"] = data.name.model_dump(exclude_none=True)
        changes = {k: v for k, v in changes.items() if v is not None or k.endswith("_date")}
        changed = [k for k, v in changes.items() if getattr(project, k) != v]
        if not changed:
            return project
        for key, value in changes.items():
            setattr(project, key, value)
        project.version += 1
        project.updated_at = utcnow()
        await session.flush()
        await outbox.record(session, contracts.PROJECT_UPDATED, project.id,
                            {**event_state(project), "changed_fields": changed})
        return project


project = ProjectService()
