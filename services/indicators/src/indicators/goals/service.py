"""Goal rules: who writes a theme's goals, which indicators may measure them, and every
change kept (a revision and an event per change)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.service import current_definitions
from indicators.common import field_error, period_bounds
from indicators.events import payloads
from indicators.goals import queries
from indicators.goals.schemas import GoalIn, GoalIndicatorIn, GoalPatch
from indicators.models import Goal, GoalIndicator
from shared.contracts import indicators as contracts
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

# The coordination project, the ministries (a role of its own once the registry has it) and
# admins set the theme's goals; everyone may read them (the theme card is public).
WRITERS = ("admin", "coordinator", "ministry")


def may_write(identity: Identity) -> bool:
    return identity.has_role(*WRITERS)


def require_write(identity: Identity) -> None:
    if not may_write(identity):
        raise Forbidden("only the coordination project, the ministries and admins set a "
                        "theme's goals")


def goal_period_bounds(period: str, field: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period, or of a span of years (2021-2027)."""
    if len(period) == 9 and period[4] == "-":
        start, end = period_bounds(period[:4], field)[0], period_bounds(period[5:], field)[1]
        if end < start:
            raise Unprocessable("invalid period", errors=[field_error(
                field, "period", "a span of years runs from an earlier year to a later one")])
        return start, end
    return period_bounds(period, field)


async def get(session: AsyncSession, goal_id: str) -> Goal:
    goal = await queries.get_goal(session, goal_id)
    if goal is None:
        raise NotFound(f"no goal {goal_id}")
    return goal


async def list_page(session: AsyncSession, theme_id: str | None, cursor: str | None,
                    limit: int) -> tuple[list[Goal], int, str | None]:
    """A page of goals in theme, position and code order, the total and the next cursor."""
    q = queries.goals_query(theme_id)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [Goal.theme_id, Goal.position, Goal.code, Goal.id],
                               cursor, limit)
    return rows, total, nxt


async def create(uow: UnitOfWork, identity: Identity, body: GoalIn,
                 trust_theme: bool = False) -> Goal:
    """A new goal of a theme the registry has told us of (the seed may name a theme whose
    events are still on their way: `trust_theme`)."""
    require_write(identity)
    session = uow.session
    if not trust_theme:
        theme = await queries.theme(session, body.theme_id)
        if theme is None and not await queries.theme_known(session, body.theme_id):
            raise Unprocessable(f"no theme {body.theme_id}", errors=[field_error(
                "body/theme_id", "unknown_id", f"no theme {body.theme_id} known to indicators")])
        if theme is not None and theme["archived"]:
            raise Conflict(f"theme {body.theme_id} is archived")
    if await queries.code_taken(session, body.theme_id, body.code):
        raise Conflict(f"the theme has a goal {body.code}")
    now = utcnow()
    goal = Goal(theme_id=body.theme_id, code=body.code,
                name=body.name.model_dump(exclude_none=True),
                description=body.description.model_dump(exclude_none=True) if body.description else None,
                position=body.position, version=1, created_by=identity.sub, created_at=now,
                updated_at=now)
    session.add(goal)
    await session.flush()
    await _record(uow, identity, goal, [], "create", None)
    return goal


async def update(uow: UnitOfWork, identity: Identity, goal_id: str, body: GoalPatch) -> Goal:
    """Change the goal's code, texts or order; a change that changes nothing records nothing."""
    require_write(identity)
    goal = await get(uow.session, goal_id)
    data: dict[str, Any] = {}
    for key in body.model_fields_set:
        value = getattr(body, key)
        data[key] = value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value
    changed = sorted(k for k, v in data.items() if getattr(goal, k) != v)
    if not changed:
        return goal
    if "code" in changed and await queries.code_taken(uow.session, goal.theme_id, data["code"]):
        raise Conflict(f"the theme has a goal {data['code']}")
    for key in changed:
        setattr(goal, key, data[key])
    goal.version += 1
    goal.updated_at = utcnow()
    await uow.session.flush()
    indicators = (await queries.indicators_of(uow.session, [goal.id]))[goal.id]
    await _record(uow, identity, goal, indicators, "update", changed)
    return goal


async def _check_indicators(session: AsyncSession, items: list[GoalIndicatorIn]) -> list[dict]:
    """Every code in the catalogue, each (code, period) once, figures within the indicator's
    bounds: all problems named at once, by field."""
    defs = await current_definitions(session, {i.indicator_code for i in items})
    errors, rows, seen = [], [], set()
    for n, item in enumerate(items):
        d = defs.get(item.indicator_code)
        if d is None:
            errors.append(field_error(f"body/{n}/indicator_code", "unknown",
                                      f"no indicator {item.indicator_code} in the catalogue"))
            continue
        try:
            start, end = goal_period_bounds(item.period, f"body/{n}/period")
        except Unprocessable as e:
            errors.extend(e.errors or [])
            continue
        if (item.indicator_code, item.period) in seen:
            errors.append(field_error(f"body/{n}/period", "duplicate",
                                      f"{item.indicator_code} for {item.period} is listed twice"))
        seen.add((item.indicator_code, item.period))
        for key in ("baseline", "target"):
            v = getattr(item, key)
            if v is not None and ((d.min_value is not None and v < d.min_value)
                                  or (d.max_value is not None and v > d.max_value)):
                errors.append(field_error(f"body/{n}/{key}", "out_of_bounds",
                                          f"must be within [{d.min_value}, {d.max_value}]"))
        rows.append({**item.model_dump(), "unit": item.unit or d.unit, "period_start": start,
                     "period_end": end, "position": n})
    if errors:
        raise Unprocessable("invalid goal indicators", errors=errors[:50])
    return rows


def _comparable(rows: list[Any]) -> list[tuple]:
    keys = ("indicator_code", "period", "baseline", "target", "unit", "unverified", "note")
    return [tuple(r[k] if isinstance(r, dict) else getattr(r, k) for k in keys) for r in rows]


async def put_indicators(uow: UnitOfWork, identity: Identity, goal_id: str,
                         items: list[GoalIndicatorIn]) -> tuple[Goal, list[GoalIndicator]]:
    """Replace the indicators measuring the goal (the list as a whole, in the order given)."""
    require_write(identity)
    session = uow.session
    goal = await get(session, goal_id)
    rows = await _check_indicators(session, items)
    current = (await queries.indicators_of(session, [goal.id]))[goal.id]
    if _comparable(rows) == _comparable(current):
        return goal, current
    new = [GoalIndicator(goal_id=goal.id, **r) for r in rows]
    await queries.replace_indicators(session, goal.id, new)
    goal.version += 1
    goal.updated_at = utcnow()
    await session.flush()
    await _record(uow, identity, goal, new, "indicators", ["indicators"])
    return goal, new


async def _record(uow: UnitOfWork, identity: Identity, goal: Goal, indicators: list[GoalIndicator],
                  action: str, changed: list[str] | None) -> None:
    """The revision (the goal's whole state) and its event, in the change's transaction."""
    state = payloads.goal_state(goal, indicators)
    state["position"] = goal.position
    for s, i in zip(state["indicators"], indicators, strict=True):
        s["note"] = i.note
    await queries.add_revision(uow.session, {
        "goal_id": goal.id, "version": goal.version, "action": action,
        "changed_fields": changed or [], "state": state, "actor": identity.sub, "at": utcnow()})
    if changed is None:
        await uow.emit(contracts.GOAL_CREATED, goal.id, payloads.goal_state(goal, indicators))
    else:
        await uow.emit(contracts.GOAL_UPDATED, goal.id,
                       payloads.goal_state(goal, indicators, changed))


async def history(session: AsyncSession, identity: Identity, goal_id: str) -> list[dict[str, Any]]:
    """Every state the goal has had, oldest first. Who changed it: for the writers only (an
    account id says who a person is)."""
    await get(session, goal_id)
    items = []
    for r in await queries.revisions(session, goal_id):
        item = {"version": r["version"], "action": r["action"],
                "changed_fields": r["changed_fields"], "at": r["at"], "state": r["state"]}
        if may_write(identity):
            item["actor"] = r["actor"]
        items.append(item)
    return items
