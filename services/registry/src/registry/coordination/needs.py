"""Service needs from the regions: who raises them, how the coordination project triages them
(new -> under_review -> forwarded -> addressed | declined) and every step kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes.history import jsonable
from registry.coordination import queries
from registry.coordination.service import require_reader
from registry.events import coordination as events
from registry.models import ServiceNeed, ServiceNeedStep
from shared.contracts import coordination as contracts
from shared.db import new_id, utcnow
from shared.errors import Forbidden, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

# to-status <- the statuses it may come from. A need is looked at before it is forwarded or
# addressed; it may be declined at any open step.
ALLOWED: dict[str, set[str]] = {
    "under_review": {"new"},
    "forwarded": {"under_review"},
    "addressed": {"under_review", "forwarded"},
    "declined": {"new", "under_review", "forwarded"},
}
NEEDS_REASON = {"forwarded", "addressed", "declined"}
CLOSED = ("addressed", "declined")
OPEN = ("new", "under_review", "forwarded")
WRITERS = ("admin", "coordinator", "funder", "implementer")


def _role(identity: Identity) -> str | None:
    return next((r for r in ("admin", "coordinator", "funder", "implementer", "ministry")
                 if identity.has_role(r)), None)


def _step(s: ServiceNeedStep, identity: Identity) -> dict[str, Any]:
    """Who took a step: the user for coordinators and admins, the role for everyone else."""
    step = {"from": s.from_status, "to": s.to_status, "reason": s.reason, "by_role": s.actor_role,
            "at": s.at}
    if identity.is_national:
        step["by"] = s.actor
    return step


def out(n: ServiceNeed, identity: Identity, steps: list[ServiceNeedStep] | None = None) -> dict[str, Any]:
    view = {"id": n.id, "version": n.version, "theme_id": n.theme_id, "title": n.title,
            "description": n.description, "region_codes": n.region_codes,
            "target_group_codes": n.target_group_codes, "evidence": n.evidence,
            "project_ids": n.project_ids, "status": n.status, "open": n.status not in CLOSED,
            "reason": n.reason, "organisation_id": n.organisation_id,
            "created_at": n.created_at, "updated_at": n.updated_at}
    if steps is not None:
        view["steps"] = [_step(s, identity) for s in steps]
    return jsonable(view)


async def _visible_ids(session: AsyncSession, identity: Identity, rows: list[ServiceNeed]) -> list[str]:
    """Of `rows`, the needs a funder or implementer sees: raised by its organisation, or coming
    from a project whose private records it reads."""
    wanted = sorted({pid for n in rows for pid in n.project_ids or []})
    readable = await queries.readable_project_ids(session, identity, wanted) if wanted else set()
    return [n.id for n in rows if (identity.org and n.organisation_id == identity.org)
            or readable.intersection(n.project_ids or [])]


async def _may_see(session: AsyncSession, identity: Identity, n: ServiceNeed) -> bool:
    return identity.reads_national or bool(await _visible_ids(session, identity, [n]))


async def load(session: AsyncSession, identity: Identity, need_id: str) -> ServiceNeed:
    require_reader(identity, "service needs")
    n = await session.get(ServiceNeed, need_id)
    if n is None or n.archived or not await _may_see(session, identity, n):
        raise access.hide("service need", need_id)
    return n


async def read(session: AsyncSession, identity: Identity, need_id: str) -> dict[str, Any]:
    n = await load(session, identity, need_id)
    return out(n, identity, await queries.steps(session, n.id))


async def list_page(session: AsyncSession, identity: Identity, theme_id: str | None,
                    status: str | None, open_only: bool | None, region: str | None,
                    cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], int, str | None]:
    require_reader(identity, "service needs")
    statuses = [status] if status else None
    if open_only is not None:
        wanted = OPEN if open_only else CLOSED
        statuses = [s for s in (statuses or wanted) if s in wanted]
        if not statuses:
            return [], 0, None
    q = queries.needs(theme_id, statuses, None)
    if region or not identity.reads_national:  # JSON lists: filtered here (needs are few)
        rows = await queries.need_rows(session, q)
        if region:
            rows = [n for n in rows if region in (n.region_codes or [])]
        ids = [n.id for n in rows] if identity.reads_national else \
            await _visible_ids(session, identity, rows)
        q = queries.needs(theme_id, statuses, ids)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [ServiceNeed.created_at, ServiceNeed.id], cursor, limit)
    return [out(n, identity) for n in rows], total, nxt


def _text(localized: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in localized.items() if v is not None}


def _field(field: str, type_: str, message: str) -> list[dict[str, str]]:
    return [{"field": f"body/{field}", "type": type_, "message": message}]


async def _check_projects(session: AsyncSession, identity: Identity, ids: list[str]) -> None:
    """Every project must exist (422 naming the item); a funder or implementer raises needs only
    from projects it takes part in (403)."""
    found = await queries.projects_by_id(session, ids) if ids else {}
    for i, pid in enumerate(ids):
        if pid not in found:
            raise Unprocessable(f"no project {pid}", errors=_field(
                f"project_ids/{i}", "unknown_id", "no such project"))
    if ids and not identity.is_national:
        readable = await queries.readable_project_ids(session, identity, ids)
        foreign = [pid for pid in ids if pid not in readable]
        if foreign:
            raise Forbidden(f"not a project of your organisation: {', '.join(foreign)}")


async def create(uow: UnitOfWork, identity: Identity, data: dict[str, Any]) -> dict[str, Any]:
    """Implementers, funders, coordinators and admins raise a need; it starts as `new`."""
    session = uow.session
    if not identity.has_role(*WRITERS):
        raise Forbidden("only implementers, funders, coordinators and admins record service needs")
    if not await queries.theme_exists(session, data["theme_id"]):
        raise Unprocessable(f"no theme {data['theme_id']}", errors=_field(
            "theme_id", "unknown_id", "no such theme"))
    project_ids = list(dict.fromkeys(data["project_ids"]))
    await _check_projects(session, identity, project_ids)
    n = ServiceNeed(id=new_id(), version=1, theme_id=data["theme_id"], title=_text(data["title"]),
                    description=_text(data["description"]), region_codes=data["region_codes"],
                    target_group_codes=data["target_group_codes"], evidence=data["evidence"],
                    project_ids=project_ids, status="new",
                    organisation_id=None if identity.is_national else identity.org,
                    created_by=identity.sub)
    session.add(n)
    await session.flush()
    step = ServiceNeedStep(need_id=n.id, from_status=None, to_status="new", reason=None,
                           actor=identity.sub, actor_role=_role(identity))
    session.add(step)
    await session.flush()
    await uow.emit(contracts.SERVICE_NEED_RECORDED, n.id, events.need_state(n))
    return out(n, identity, [step])


async def transition(uow: UnitOfWork, identity: Identity, need_id: str, to: str,
                     reason: str | None) -> dict[str, Any]:
    """Only the coordination project (coordinator) and admins triage; the reason is required
    from forwarded on; emits service_need.transitioned."""
    session = uow.session
    n = await load(session, identity, need_id)
    if not identity.is_national:
        raise Forbidden("only the coordination project (coordinators) and admins triage service needs")
    if n.status not in ALLOWED.get(to, set()):
        allowed = sorted(k for k, v in ALLOWED.items() if n.status in v)
        raise Unprocessable(f"a need cannot move from {n.status} to {to}", errors=_field(
            "to", "transition", f"allowed from {n.status}: {allowed}"))
    if to in NEEDS_REASON and not (reason and reason.strip()):
        raise Unprocessable(f"moving a need to {to} needs a reason", errors=_field(
            "reason", "missing", f"say why it is {to}"))
    from_status = n.status
    n.status, n.reason = to, reason
    n.version += 1
    n.updated_at = utcnow()
    session.add(ServiceNeedStep(need_id=n.id, from_status=from_status, to_status=to, reason=reason,
                                actor=identity.sub, actor_role=_role(identity)))
    await session.flush()
    await uow.emit(contracts.SERVICE_NEED_TRANSITIONED, n.id,
                   events.need_transitioned(n, from_status, reason))
    return out(n, identity, await queries.steps(session, n.id))
