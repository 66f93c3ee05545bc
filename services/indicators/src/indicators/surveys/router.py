"""Survey endpoints: instruments, wording per organisation, rounds, responses, results."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, status
from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from indicators.common import field_error
from indicators.models import Instrument, SurveyRound, survey_response, survey_wording
from indicators.surveys import privacy, service, stats
from indicators.surveys.schemas import InstrumentIn, ResponsesIn, RoundIn, WordingIn
from shared import limits
from shared.db import SessionDep, utcnow
from shared.errors import Conflict, Forbidden, Unprocessable, problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated
from shared.limits import IdPath

router = APIRouter(prefix="/surveys", tags=["surveys"])
R = problem_responses(401, 403, 404, 409, 413, 422)
RESULT_COLUMNS = [Column(k, {"fi": k, "en": k}) for k in (
    "round_id", "label", "unit", "suppressed", "n", "mean", "sd", "ci95_low", "ci95_high")]


def _k(request: Request) -> int:
    return int(request.app.state.settings.privacy_min_respondents)


def _instrument(ins: Instrument, wording: dict | None = None) -> dict[str, Any]:
    items = [{**i, "wording": (wording or {}).get(i["id"])} for i in ins.items]
    return {"code": ins.code, "name": ins.name, "scale_min": ins.scale_min,
            "scale_max": ins.scale_max, "scoring": ins.scoring, "items": items,
            "dimensions": ins.dimensions, "bands": ins.bands, "indicator_code": ins.indicator_code}


def _round(r: SurveyRound, n: int | None = None, k: int = 0) -> dict[str, Any]:
    out = {k: getattr(r, k) for k in ("id", "organisation_id", "project_id", "label", "opens_on",
                                      "closes_on", "closes_at", "status", "closed_at", "units")}
    out["instrument_id"] = r.instrument_id
    if n is not None:
        # Even a response count below k is a figure about fewer than k people.
        shown = privacy.publishable_total(n, k)
        out["responses"] = n if shown else None
        out["responses_below_threshold"] = not shown
    return out


@router.get("/instruments", summary="Survey instruments")
async def list_instruments(session: SessionDep) -> dict:
    """Instrument structures (items, dimensions, scale, scoring, bands), without wording."""
    rows = (await session.scalars(select(Instrument).order_by(Instrument.code))).all()
    return {"items": [_instrument(i) for i in rows], "total": len(rows)}


@router.get("/instruments/{code}", summary="One instrument", responses=R)
async def read_instrument(code: IdPath, session: SessionDep, identity: Authenticated) -> dict:
    """With item wording when your organisation has loaded its licensed wording."""
    ins = await service.get_instrument(session, code)
    wording = None
    if identity.org:
        wording = await session.scalar(select(survey_wording.c["items"]).where(
            survey_wording.c.instrument_id == ins.id,
            survey_wording.c.organisation_id == identity.org))
    return _instrument(ins, wording)


@router.post("/instruments", summary="Add an instrument", status_code=201, responses=R)
async def create_instrument(body: InstrumentIn, session: SessionDep, identity: Authenticated) -> dict:
    """Coordinators add instruments as data."""
    if not identity.is_national:
        raise Forbidden("only coordinators and admins add instruments")
    if await session.scalar(select(Instrument.id).where(Instrument.code == body.code)):
        raise Conflict(f"instrument {body.code} exists")
    ins = Instrument(code=body.code, name=body.name.model_dump(exclude_none=True),
                     scale_min=body.scale_min, scale_max=body.scale_max, scoring=body.scoring,
                     items=[i.model_dump() for i in body.items],
                     dimensions=[d.model_dump(exclude_none=True) for d in body.dimensions],
                     bands=[b.model_dump() for b in body.bands], indicator_code=body.indicator_code)
    session.add(ins)
    await session.flush()
    return _instrument(ins)


@router.put("/instruments/{code}/wording", summary="Load your organisation's licensed wording",
            responses=R)
async def put_wording(code: IdPath, body: WordingIn, session: SessionDep, identity: Authenticated) -> dict:
    """Item wording is licensed: each organisation holding a licence loads its own copy."""
    if not identity.org:
        raise Forbidden("wording is loaded for an organisation; your identity has none")
    ins = await service.get_instrument(session, code)
    ids = {i["id"] for i in ins.items}
    bad = sorted(set(body.items) - ids)
    if bad:
        raise Unprocessable("unknown items", errors=[field_error("body/items", "unknown", f"{bad[:10]}")])
    t = survey_wording
    values = {"instrument_id": ins.id, "organisation_id": identity.org,
              "items": {k: v.model_dump(exclude_none=True) for k, v in body.items.items()},
              "updated_at": utcnow()}
    ins_stmt = (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(t)
    await session.execute(ins_stmt.values(**values).on_conflict_do_update(
        index_elements=[t.c.instrument_id, t.c.organisation_id],
        set_={"items": values["items"], "updated_at": values["updated_at"]}))
    return _instrument(ins, values["items"])


@router.post("/rounds", summary="Open a survey round", status_code=201, responses=R)
async def create_round(body: RoundIn, session: SessionDep, identity: Authenticated) -> dict:
    """Per organisation (and optionally project): T0 baseline, T1, T2 follow-ups. The round
    closes itself at `closes_at` (default: the end of `closes_on`, Helsinki time) with the
    same `survey_round.closed` event as a manual close; a round created after that instant
    (entering an earlier survey) is closed by hand."""
    ins = await service.get_instrument(session, body.instrument_code)
    if body.project_id:
        await service.get_project(session, body.project_id)
    await service.require_manage(session, identity, body.organisation_id, body.project_id)
    dup = await session.scalar(select(SurveyRound.id).where(
        SurveyRound.instrument_id == ins.id, SurveyRound.organisation_id == body.organisation_id,
        (SurveyRound.project_id.is_(None) if body.project_id is None
         else SurveyRound.project_id == body.project_id),
        SurveyRound.label == body.label))
    if dup:
        raise Conflict(f"round {body.label} exists for this organisation and instrument")
    r = SurveyRound(instrument_id=ins.id, organisation_id=body.organisation_id,
                    project_id=body.project_id, label=body.label, opens_on=body.opens_on,
                    closes_on=body.closes_on,
                    closes_at=body.closes_at or service.end_of_day(body.closes_on),
                    units=body.units, created_by=identity.sub, created_at=utcnow())
    session.add(r)
    await session.flush()
    return _round(r, 0)


@router.get("/rounds", summary="Survey rounds", response_model=None, responses=R)
async def list_rounds(request: Request, session: SessionDep, identity: Authenticated,
                      organisation_id: Annotated[str | None, Query(max_length=36)] = None,
                      project_id: Annotated[str | None, Query(max_length=36)] = None,
                      format: Annotated[str | None, Query(max_length=limits.CODE,
                                                          pattern="^(csv|xlsx|json)$")] = None):
    """Rounds you may see, with response counts (withheld while below the threshold)."""
    q = select(SurveyRound).order_by(SurveyRound.organisation_id, SurveyRound.label)
    if not identity.is_national:
        q = q.where(or_(SurveyRound.organisation_id == (identity.org or "-"),
                        SurveyRound.created_by == identity.sub))
    if organisation_id:
        q = q.where(SurveyRound.organisation_id == organisation_id)
    if project_id:
        q = q.where(SurveyRound.project_id == project_id)
    rounds = (await session.scalars(q)).all()
    counts = dict((await session.execute(select(survey_response.c.round_id, func.count())
                                         .group_by(survey_response.c.round_id))).all())
    items = [_round(r, counts.get(r.id, 0), _k(request)) for r in rounds]
    if format:
        keys = ["id", "organisation_id", "project_id", "label", "opens_on", "closes_on", "status",
                "responses"]
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in keys], format,
                               filename="survey-rounds")
    return {"items": items, "total": len(rounds)}


@router.post("/rounds/{round_id}/responses", summary="Add anonymous responses",
             status_code=status.HTTP_201_CREATED, responses=R)
async def add_responses(round_id: IdPath, body: ResponsesIn, session: SessionDep,
                        identity: Authenticated) -> dict:
    """Answers are scored here; only the scores are kept, with no respondent identity."""
    r, ins = await service.get_round(session, round_id)
    await service.require_manage(session, identity, r.organisation_id, r.project_id)
    service.check_open(r, identity)
    arr, units = service.answers_from_json(ins, body.responses)
    service._check_units(r, units, "body/responses")
    n = await service.store_scored(session, r, ins, arr, units)
    return {"stored": n}


@router.post("/rounds/{round_id}/upload", summary="Upload responses as CSV", status_code=201,
             responses=R)
async def upload_responses(round_id: IdPath, request: Request, session: SessionDep,
                           identity: Authenticated) -> dict:
    """Body: text/csv with a header of the instrument's item ids and optionally `unit`.
    All rows are checked first; one bad row rejects the upload."""
    r, ins = await service.get_round(session, round_id)
    await service.require_manage(session, identity, r.organisation_id, r.project_id)
    service.check_open(r, identity)
    arr, units = service.answers_from_csv(ins, await request.body())
    service._check_units(r, units, "body/unit")
    n = await service.store_scored(session, r, ins, arr, units)
    return {"stored": n}


@router.post("/rounds/{round_id}/close", summary="Close a round", responses=R)
async def close_round(round_id: IdPath, request: Request, session: SessionDep,
                      identity: Authenticated) -> dict:
    """Emits `survey_round.closed` (results_available is false below the privacy threshold);
    409 when the round is closed already (by hand or at its close time)."""
    r, _ = await service.get_round(session, round_id)
    r = await service.close(session, request.state.outbox, identity, r, _k(request))
    return _round(r)


@router.get("/rounds/{round_id}/results", summary="Results of a round", response_model=None,
            responses=R)
async def round_results(round_id: IdPath, request: Request, session: SessionDep,
                        identity: Authenticated, breakdown: bool = False,
                        format: Annotated[str | None, Query(max_length=limits.CODE,
                                                            pattern="^(csv|xlsx|json)$")] = None):
    """n, mean, SD, 95 % CI and bands, in total and per unit; figures about fewer than k
    respondents are withheld (also where they could be derived by subtraction)."""
    r, ins = await service.get_round(session, round_id)
    await service.require_results(session, identity, r)
    service.require_closed(r)
    units, total, dims = await service.load_scores(session, r.id, [d["code"] for d in ins.dimensions])
    res = service.results(units, total, dims, ins, _k(request), breakdown)
    res.update({"round": _round(r), "instrument": ins.code})
    if format:
        rows = [{"round_id": r.id, "label": r.label, "unit": "(total)", **res["total"]}]
        rows += [{"round_id": r.id, "label": r.label, **c} for c in res.get("breakdown", [])]
        return export_response(rows, RESULT_COLUMNS, format, filename=f"survey-{r.label}")
    return res


@router.get("/change", summary="Change between two rounds", responses=R)
async def change(request: Request, session: SessionDep, identity: Authenticated,
                 from_round: Annotated[str, Query(max_length=36)],
                 to_round: Annotated[str, Query(max_length=36)]) -> dict:
    """Mean difference and effect size (Cohen's d, pooled SD), total and per dimension; d is
    null where it is undefined (no variation in either round). Whole rounds only, each of at
    least k respondents: the same figures their results show."""
    a, ins_a = await service.get_round(session, from_round)
    b, ins_b = await service.get_round(session, to_round)
    if ins_a.id != ins_b.id:
        raise Unprocessable("the rounds use different instruments", errors=[
            field_error("query/to_round", "instrument", "compare rounds of one instrument")])
    await service.require_results(session, identity, a)
    await service.require_results(session, identity, b)
    service.require_closed(a)
    service.require_closed(b)
    return compare(await service.load_scores(session, a.id, [d["code"] for d in ins_a.dimensions]),
                   await service.load_scores(session, b.id, [d["code"] for d in ins_a.dimensions]),
                   [d["code"] for d in ins_a.dimensions], _k(request)) | {
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
