"""Survey queries: instruments, wording, rounds, response counts and scores."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.models import Instrument, SurveyRound, survey_response, survey_wording
from shared.db import dialect_insert
from shared.errors import NotFound
from shared.identity import Identity

UNSPECIFIED = "(unspecified)"


async def instruments(session: AsyncSession) -> list[Instrument]:
    return list((await session.scalars(select(Instrument).order_by(Instrument.code))).all())


async def find_instrument(session: AsyncSession, code: str) -> Instrument | None:
    return await session.scalar(select(Instrument).where(Instrument.code == code))


async def get_instrument(session: AsyncSession, code: str) -> Instrument:
    ins = await find_instrument(session, code)
    if ins is None:
        raise NotFound(f"no survey instrument {code}")
    return ins


async def instrument_exists(session: AsyncSession, code: str) -> bool:
    return bool(await session.scalar(select(Instrument.id).where(Instrument.code == code)))


async def wording(session: AsyncSession, instrument_id: str, organisation_id: str) -> dict | None:
    return await session.scalar(select(survey_wording.c["items"]).where(
        survey_wording.c.instrument_id == instrument_id,
        survey_wording.c.organisation_id == organisation_id))


async def put_wording(session: AsyncSession, values: dict) -> None:
    """One organisation's wording of one instrument, replacing what it had."""
    t = survey_wording
    await session.execute(dialect_insert(session, t).values(**values).on_conflict_do_update(
        index_elements=[t.c.instrument_id, t.c.organisation_id],
        set_={"items": values["items"], "updated_at": values["updated_at"]}))


async def get_round(session: AsyncSession, round_id: str) -> tuple[SurveyRound, Instrument]:
    r = await session.get(SurveyRound, round_id)
    if r is None:
        raise NotFound(f"no survey round {round_id}")
    return r, await session.get(Instrument, r.instrument_id)


async def round_exists(session: AsyncSession, instrument_id: str, organisation_id: str,
                       project_id: str | None, label: str) -> bool:
    return bool(await session.scalar(select(SurveyRound.id).where(
        SurveyRound.instrument_id == instrument_id, SurveyRound.organisation_id == organisation_id,
        (SurveyRound.project_id.is_(None) if project_id is None
         else SurveyRound.project_id == project_id),
        SurveyRound.label == label)))


async def visible_rounds(session: AsyncSession, identity: Identity, organisation_id: str | None,
                         project_id: str | None) -> list[SurveyRound]:
    """Rounds of the caller's organisation or created by the caller (all for national roles)."""
    q = select(SurveyRound).order_by(SurveyRound.organisation_id, SurveyRound.label)
    if not identity.is_national:
        q = q.where(or_(SurveyRound.organisation_id == (identity.org or "-"),
                        SurveyRound.created_by == identity.sub))
    if organisation_id:
        q = q.where(SurveyRound.organisation_id == organisation_id)
    if project_id:
        q = q.where(SurveyRound.project_id == project_id)
    return list((await session.scalars(q)).all())


async def response_counts(session: AsyncSession) -> dict[str, int]:
    return dict((await session.execute(select(survey_response.c.round_id, func.count())
                                       .group_by(survey_response.c.round_id))).all())


async def response_count(session: AsyncSession, round_id: str) -> int:
    n = await session.scalar(select(func.count()).select_from(survey_response)
                             .where(survey_response.c.round_id == round_id))
    return int(n or 0)


async def due_rounds(session: AsyncSession, now: dt.datetime, limit: int) -> list[SurveyRound]:
    """Open rounds whose close time has come, but not those created after it."""
    return list((await session.scalars(select(SurveyRound).where(
        SurveyRound.status == "open", SurveyRound.closes_at <= now,
        SurveyRound.closes_at > SurveyRound.created_at)
        .order_by(SurveyRound.closes_at).limit(limit))).all())


async def next_close(session: AsyncSession) -> dt.datetime | None:
    return await session.scalar(select(func.min(SurveyRound.closes_at)).where(
        SurveyRound.status == "open", SurveyRound.closes_at > SurveyRound.created_at))


async def load_scores(session: AsyncSession, round_id: str, dim_codes: list[str]):
    import numpy as np
    rows = (await session.execute(select(survey_response.c.unit, survey_response.c.total,
                                         survey_response.c.dimension_scores)
                                  .where(survey_response.c.round_id == round_id))).all()
    units = np.array([u if u is not None else UNSPECIFIED for u, _, _ in rows], dtype=object)
    total = np.array([t for _, t, _ in rows], dtype=float)
    dims = np.array([[d.get(c, np.nan) for c in dim_codes] for _, _, d in rows], dtype=float) \
        if rows else np.empty((0, len(dim_codes)))
    return units, total, dims
