"""Report and target queries: values, revisions, the paged list, approved values so far."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.common import field_error, visible_project_filter
from indicators.models import Report, Target, project_projection, reported_value
from shared.errors import NotFound, Unprocessable
from shared.identity import Identity

LIST_ORDER = (Report.period_end.desc(), Report.project_id, Report.period, Report.revision.desc())


async def load_values(session: AsyncSession, report_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    if not report_ids:
        return out
    t = reported_value
    rows = (await session.execute(select(t).where(t.c.report_id.in_(report_ids))
                                  .order_by(t.c.id))).mappings().all()
    for r in rows:
        out[r["report_id"]].append({"indicator_code": r["indicator_code"], "value": r["value"],
                                    "disaggregations": r["disaggregations"],
                                    "counted_ids": r["counted_ids"]})
    return out


async def get_report(session: AsyncSession, report_id: str) -> Report:
    r = await session.get(Report, report_id)
    if r is None:
        raise NotFound(f"no report {report_id}")
    return r


async def revisions(session: AsyncSession, r: Report) -> list[Report]:
    """Every revision for the report's project and period, oldest first."""
    return list((await session.scalars(select(Report).where(
        Report.project_id == r.project_id, Report.period == r.period).order_by(Report.revision))).all())


async def codes_of(session: AsyncSession, r: Report) -> list[str]:
    return list((await session.scalars(select(reported_value.c.indicator_code)
                                       .where(reported_value.c.report_id == r.id))).all())


def visible_reports(identity: Identity, project_id: str | None, period: str | None,
                    status: str | None) -> Select:
    """Reports of the projects the caller may see, filtered."""
    q = select(Report).join(project_projection, project_projection.c.id == Report.project_id)
    cond = visible_project_filter(identity)
    if cond is not None:
        q = q.where(cond)
    if project_id:
        q = q.where(Report.project_id == project_id)
    if period:
        q = q.where(Report.period == period)
    if status:
        q = q.where(Report.status == status)
    return q


async def all_reports(session: AsyncSession, q: Select, cap: int = 100000) -> list[Report]:
    return list((await session.scalars(q.order_by(*LIST_ORDER).limit(cap))).all())


async def page(session: AsyncSession, q: Select, limit: int,
               after: list | None) -> tuple[list[Report], int, list[Any] | None]:
    """One page in list order, the total, and the next page's cursor values (None at the end)."""
    total = await session.scalar(select(func.count()).select_from(q.subquery()))
    if after:
        q = q.where(_after(after))
    rows = list((await session.scalars(q.order_by(*LIST_ORDER).limit(limit + 1))).all())
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = [last.period_end.isoformat(), last.project_id, last.period, last.revision]
    return rows[:limit], int(total or 0), nxt


def _after(values: list) -> ColumnElement[bool]:
    """Rows after the cursor's (period_end desc, project_id, period, revision desc)."""
    try:
        end, pid, per, rev = dt.date.fromisoformat(values[0]), str(values[1]), str(values[2]), int(values[3])
    except (ValueError, TypeError, IndexError):
        raise Unprocessable("invalid cursor", errors=[field_error(
            "query/cursor", "value_error", "not a cursor this list gave out")]) from None
    return or_(Report.period_end < end,
               and_(Report.period_end == end, Report.project_id > pid),
               and_(Report.period_end == end, Report.project_id == pid, Report.period > per),
               and_(Report.period_end == end, Report.project_id == pid, Report.period == per,
                    Report.revision < rev))


async def achieved(session: AsyncSession, project_id: str, code: str, aggregation: str,
                   until: dt.date | None = None) -> tuple[float | None, str | None]:
    """The project's approved value for an indicator: summed over periods, or the latest."""
    t = reported_value
    q = (select(t.c.value, Report.period, Report.period_end).join(Report, Report.id == t.c.report_id)
         .where(Report.project_id == project_id, Report.status.in_(("approved", "locked")),
                t.c.indicator_code == code).order_by(Report.period_end))
    if until:
        q = q.where(Report.period_end <= until)
    rows = (await session.execute(q)).all()
    if not rows:
        return None, None
    if aggregation in ("sum", "count"):
        return sum(v for v, _, _ in rows), rows[-1][1]
    return rows[-1][0], rows[-1][1]


async def targets_of(session: AsyncSession, project_id: str) -> list[Target]:
    return list((await session.scalars(select(Target).where(Target.project_id == project_id)
                                       .order_by(Target.indicator_code, Target.target_date))).all())


async def target_exists(session: AsyncSession, project_id: str, code: str, day: dt.date) -> bool:
    return bool(await session.scalar(select(Target.id).where(
        Target.project_id == project_id, Target.indicator_code == code, Target.target_date == day)))


async def open_targets(session: AsyncSession, project_id: str, codes: list[str]) -> list[Target]:
    return list((await session.scalars(select(Target).where(
        Target.project_id == project_id, Target.indicator_code.in_(codes),
        Target.reached_on.is_(None)))).all())
