"""Survey rules: who runs rounds, taking responses, scoring, closing, and results with the
privacy rule applied to every figure that leaves."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.common import field_error, get_project, is_funder_of, is_implementer_of
from indicators.events import payloads
from indicators.models import Instrument, SurveyRound, survey_response
from indicators.surveys import answers, privacy, queries, stats
from shared.contracts import indicators as contracts
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.identity import Identity
from shared.uow import UnitOfWork

if TYPE_CHECKING:  # the schemas use this module's day bounds; numpy is imported where the
    # maths runs (~13 MB of an idle process otherwise)
    import numpy as np

    from indicators.surveys.schemas import InstrumentIn, RoundIn, WordingIn

HELSINKI = ZoneInfo("Europe/Helsinki")


def end_of_day(day: dt.date) -> dt.datetime:
    """The instant a Helsinki calendar day ends (midnight starting the next), in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), HELSINKI).astimezone(dt.UTC)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), HELSINKI).astimezone(dt.UTC)


async def _project(session: AsyncSession, r_project_id: str | None) -> dict[str, Any] | None:
    return await get_project(session, r_project_id) if r_project_id else None


async def may_manage(session: AsyncSession, identity: Identity, organisation_id: str,
                     project_id: str | None) -> bool:
    if identity.is_national:
        return True
    if identity.has_role("implementer") and identity.org == organisation_id:
        return True
    project = await _project(session, project_id)
    return bool(project and is_implementer_of(identity, project))


async def require_manage(session, identity, organisation_id, project_id) -> None:
    if not await may_manage(session, identity, organisation_id, project_id):
        raise Forbidden("you may not run surveys for this organisation")


async def require_results(session: AsyncSession, identity: Identity, r: SurveyRound) -> None:
    if await may_manage(session, identity, r.organisation_id, r.project_id):
        return
    project = await _project(session, r.project_id)
    if project and is_funder_of(identity, project):
        return
    raise Forbidden("you may not see this round's results")


def check_open(r: SurveyRound, identity: Identity) -> None:
    """Open rounds take responses between their opening day and their close time; after it
    only national roles may still enter late (e.g. paper) responses, until the round is
    closed (a round that was open at its close time closes itself then)."""
    now = utcnow()
    closes_at = r.closes_at or end_of_day(r.closes_on)
    if r.status != "open" or (now >= closes_at and not identity.is_national):
        raise Conflict("the survey round is closed")
    if now < start_of_day(r.opens_on):
        raise Conflict(f"the survey round opens on {r.opens_on}")


def require_closed(r: SurveyRound) -> None:
    """Results only for closed rounds: while responses arrive, two reads a response apart
    would give away that one person's answers by subtraction."""
    if r.status != "closed":
        raise Conflict(f"round {r.label} is still open; results are shown once it is closed")


async def store_scored(session: AsyncSession, r: SurveyRound, ins: Instrument,
                       answers: np.ndarray, units: list[str | None]) -> int:
    sc = stats.Scoring.of(ins)
    total, dims = sc.score(answers)
    codes = sc.dim_codes
    rows = [{"round_id": r.id, "unit": units[i], "total": float(total[i]),
             "dimension_scores": {c: round(float(dims[i, j]), 6) for j, c in enumerate(codes)}}
            for i in range(len(total))]
    if rows:
        await session.execute(survey_response.insert(), rows)
    return len(rows)


async def create_instrument(session: AsyncSession, identity: Identity, body: InstrumentIn) -> Instrument:
    """Coordinators add instruments as data."""
    if not identity.is_national:
        raise Forbidden("only coordinators and admins add instruments")
    if await queries.instrument_exists(session, body.code):
        raise Conflict(f"instrument {body.code} exists")
    ins = Instrument(code=body.code, name=body.name.model_dump(exclude_none=True),
                     scale_min=body.scale_min, scale_max=body.scale_max, scoring=body.scoring,
                     items=[i.model_dump() for i in body.items],
                     dimensions=[d.model_dump(exclude_none=True) for d in body.dimensions],
                     bands=[b.model_dump() for b in body.bands], indicator_code=body.indicator_code)
    session.add(ins)
    await session.flush()
    return ins


async def set_wording(session: AsyncSession, identity: Identity, code: str,
                      body: WordingIn) -> tuple[Instrument, dict]:
    """Item wording is licensed: each organisation holding a licence loads its own copy."""
    if not identity.org:
        raise Forbidden("wording is loaded for an organisation; your identity has none")
    ins = await queries.get_instrument(session, code)
    ids = {i["id"] for i in ins.items}
    bad = sorted(set(body.items) - ids)
    if bad:
        raise Unprocessable("unknown items", errors=[field_error("body/items", "unknown", f"{bad[:10]}")])
    values = {"instrument_id": ins.id, "organisation_id": identity.org,
              "items": {k: v.model_dump(exclude_none=True) for k, v in body.items.items()},
              "updated_at": utcnow()}
    await queries.put_wording(session, values)
    return ins, values["items"]


async def create_round(session: AsyncSession, identity: Identity, body: RoundIn) -> SurveyRound:
    """A round per organisation (and optionally project); it closes itself at `closes_at`
    (default: the end of `closes_on`, Helsinki time)."""
    ins = await queries.get_instrument(session, body.instrument_code)
    if body.project_id:
        await get_project(session, body.project_id)
    await require_manage(session, identity, body.organisation_id, body.project_id)
    if await queries.round_exists(session, ins.id, body.organisation_id, body.project_id, body.label):
        raise Conflict(f"round {body.label} exists for this organisation and instrument")
    r = SurveyRound(instrument_id=ins.id, organisation_id=body.organisation_id,
                    project_id=body.project_id, label=body.label, opens_on=body.opens_on,
                    closes_on=body.closes_on,
                    closes_at=body.closes_at or end_of_day(body.closes_on),
                    units=body.units, created_by=identity.sub, created_at=utcnow())
    session.add(r)
    await session.flush()
    return r


async def open_round(session: AsyncSession, identity: Identity,
                     round_id: str) -> tuple[SurveyRound, Instrument]:
    """The round, if the caller runs it and it takes responses now."""
    r, ins = await queries.get_round(session, round_id)
    await require_manage(session, identity, r.organisation_id, r.project_id)
    check_open(r, identity)
    return r, ins


async def add_responses(session: AsyncSession, r: SurveyRound, ins: Instrument, arr: np.ndarray,
                        units: list[str | None], field: str) -> int:
    """Checked answers scored and stored (only the scores, with no respondent identity)."""
    answers.check_units(r, units, field)
    return await store_scored(session, r, ins, arr, units)


async def round_results(session: AsyncSession, identity: Identity, round_id: str, k: int,
                        breakdown: bool) -> tuple[SurveyRound, Instrument, dict[str, Any]]:
    """A closed round's results, for those who may see them, as `privacy` lets them out."""
    r, ins = await queries.get_round(session, round_id)
    await require_results(session, identity, r)
    require_closed(r)
    units, total, dims = await queries.load_scores(session, r.id, [d["code"] for d in ins.dimensions])
    return r, ins, results(units, total, dims, ins, k, breakdown)


async def change(session: AsyncSession, identity: Identity, from_round: str, to_round: str,
                 k: int) -> dict[str, Any]:
    """Change between two closed rounds of one instrument."""
    a, ins_a = await queries.get_round(session, from_round)
    b, ins_b = await queries.get_round(session, to_round)
    if ins_a.id != ins_b.id:
        raise Unprocessable("the rounds use different instruments", errors=[
            field_error("query/to_round", "instrument", "compare rounds of one instrument")])
    await require_results(session, identity, a)
    await require_results(session, identity, b)
    require_closed(a)
    require_closed(b)
    return compare(await queries.load_scores(session, a.id, [d["code"] for d in ins_a.dimensions]),
                   await queries.load_scores(session, b.id, [d["code"] for d in ins_a.dimensions]),
                   [d["code"] for d in ins_a.dimensions], k) | {
        "from_round": a.id, "to_round": b.id, "instrument": ins_a.code}


def compare(sa, sb, dim_codes: list[str], k: int) -> dict[str, Any]:
    _, ta, da = sa
    _, tb, db = sb
    if not (len(ta) and len(tb) and privacy.publishable_total(len(ta), k)
            and privacy.publishable_total(len(tb), k)):
        return {"suppressed": True, "k": k, "total": None, "dimensions": None}

    def one(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return {"mean_from": round(float(x.mean()), 4), "mean_to": round(float(y.mean()), 4),
                "difference": round(float(y.mean() - x.mean()), 4),
                "effect_size_d": stats.cohens_d(x, y)}

    return {"suppressed": False, "k": k, "n_from": len(ta), "n_to": len(tb),
            "total": one(ta, tb),
            "dimensions": {c: one(da[:, j], db[:, j]) for j, c in enumerate(dim_codes)}}


async def _claim_close(session: AsyncSession, r: SurveyRound, closed_at: dt.datetime) -> bool:
    """Compare-and-set open -> closed: of several closers (a person, replicas' closers) only
    the one whose UPDATE hits the row closes the round and emits the event."""
    won = await session.execute(
        update(SurveyRound).where(SurveyRound.id == r.id, SurveyRound.status == "open")
        .values(status="closed", closed_at=closed_at).execution_options(synchronize_session=False))
    if won.rowcount != 1:
        return False
    r.status, r.closed_at = "closed", closed_at
    return True


async def _record_closed(uow: UnitOfWork, r: SurveyRound, k: int) -> None:
    ins = await uow.session.get(Instrument, r.instrument_id)
    n = await queries.response_count(uow.session, r.id)
    await uow.emit(contracts.SURVEY_ROUND_CLOSED, r.id,
                   payloads.survey_round_closed(r, ins.code, n >= k))


async def close(uow: UnitOfWork, identity: Identity, r: SurveyRound, k: int) -> SurveyRound:
    await require_manage(uow.session, identity, r.organisation_id, r.project_id)
    if r.status == "closed" or not await _claim_close(uow.session, r, utcnow()):
        raise Conflict("the round is already closed")
    await _record_closed(uow, r, k)
    return r


async def close_due(uow: UnitOfWork, k: int, limit: int = 100) -> list[str]:
    """Close the open rounds whose close time has come (each at its close time), with the
    same event as a manual close. Rounds created after their close time are left to a person."""
    closed = []
    for r in await queries.due_rounds(uow.session, utcnow(), limit):
        if await _claim_close(uow.session, r, r.closes_at):
            await _record_closed(uow, r, k)
            closed.append(r.id)
    return closed






def _from_sums(n: int, s: float, ss: float) -> dict[str, Any]:
    """describe() from a count, sum and sum of squares (grouped figures in one pass)."""
    import numpy as np
    if n == 0:
        return stats.describe(np.empty(0))
    mean = s / n
    var = max((ss - s * s / n) / (n - 1), 0.0) if n > 1 else 0.0
    sd = var ** 0.5
    half = stats.t_quantile_975(n - 1) * sd / n ** 0.5 if n > 1 else None
    return {"n": n, "mean": round(mean, 4), "sd": round(sd, 4),
            "ci95_low": round(mean - half, 4) if half is not None else None,
            "ci95_high": round(mean + half, 4) if half is not None else None}


def _suppressed_cell(label: str | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {"suppressed": True, "n": None, "mean": None, "sd": None,
                            "ci95_low": None, "ci95_high": None, "dimensions": None, "bands": None}
    if label is not None:
        cell["unit"] = label
    return cell


def factorize(units: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Unit labels and an integer code per respondent (first-seen order)."""
    import numpy as np
    seen: dict[Any, int] = {}
    codes = np.fromiter((seen.setdefault(u, len(seen)) for u in units), dtype=np.int64,
                        count=len(units))
    return [str(u) for u in seen], codes


def results(units: np.ndarray, total: np.ndarray, dims: np.ndarray, ins: Any, k: int,
            breakdown: bool) -> dict[str, Any]:
    """Round results in total and per unit. What is shown is decided by `privacy.protect` for
    the whole table (units x bands with its margins), the same with or without the breakdown,
    so that no two answers can be combined into a figure about fewer than k respondents.
    Grouped sums in one vectorised pass, so a million responses aggregate in well under 2 s."""
    import numpy as np
    dim_codes = [d["code"] for d in ins.dimensions]
    bands = ins.bands or []
    n = len(total)
    labels, codes = factorize(units) if n else ([], np.zeros(0, dtype=np.int64))
    band_of = privacy.band_index(total, bands) if bands and n else None
    table = privacy.protect(k, [codes], band_of, len(bands) if band_of is not None else 0)
    m = len(labels)
    cnt = np.bincount(codes, minlength=m)
    sums = np.bincount(codes, weights=total, minlength=m)
    sqs = np.bincount(codes, weights=total * total, minlength=m)
    dsums = [np.bincount(codes, weights=dims[:, j], minlength=m) for j in range(len(dim_codes))]
    dsqs = [np.bincount(codes, weights=dims[:, j] ** 2, minlength=m) for j in range(len(dim_codes))]

    def cell(ns: int, s: float, ss: float, ds: list[float], dss: list[float],
             band_names: list[tuple]) -> dict[str, Any]:
        out = _from_sums(ns, s, ss)
        out["dimensions"] = {c: _from_sums(ns, ds[j], dss[j]) for j, c in enumerate(dim_codes)}
        if bands:
            out["bands"] = {b["code"]: table.value(name) for b, name in zip(bands, band_names, strict=True)}
        return out

    res: dict[str, Any] = {"k": k, "privacy": table.summary()}
    res["total"] = {"suppressed": False, **cell(
        n, float(sums.sum()), float(sqs.sum()), [float(x.sum()) for x in dsums],
        [float(x.sum()) for x in dsqs], [("band", j) for j in range(len(bands))])} \
        if table.shown(("total",)) else _suppressed_cell()
    if breakdown:
        res["breakdown"] = []
        for g in sorted(range(m), key=lambda g: labels[g]):
            if not table.shown(("group", 0, g)):
                res["breakdown"].append(_suppressed_cell(labels[g]))
                continue
            res["breakdown"].append({"unit": labels[g], "suppressed": False, **cell(
                int(cnt[g]), float(sums[g]), float(sqs[g]), [float(x[g]) for x in dsums],
                [float(x[g]) for x in dsqs], [("group_band", 0, g, j) for j in range(len(bands))])})
    return res
