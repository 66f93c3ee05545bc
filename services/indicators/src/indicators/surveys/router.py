"""Survey endpoints: instruments, wording per organisation, rounds, responses, results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from indicators.common import EXPORTABLE, ExportFormat
from indicators.models import Instrument, SurveyRound
from indicators.surveys import answers, privacy, queries
from indicators.surveys import service as survey_service
from indicators.surveys.schemas import (
    InstrumentIn,
    ResponsesIn,
    RoundIn,
    RoundOut,
    RoundResults,
    Stored,
    WordingIn,
)
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.exports import Column, export_response
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, Page, page_of
from shared.uow import UnitOfWorkDep

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
    rows = await queries.instruments(session)
    return {"items": [_instrument(i) for i in rows], "total": len(rows)}


@router.get("/instruments/{code}", summary="One instrument", responses=R)
async def read_instrument(code: IdPath, session: SessionDep, identity: Authenticated) -> dict:
    """With item wording when your organisation has loaded its licensed wording."""
    ins = await queries.get_instrument(session, code)
    wording = await queries.wording(session, ins.id, identity.org) if identity.org else None
    return _instrument(ins, wording)


@router.post("/instruments", summary="Add an instrument", status_code=201, responses=R)
async def create_instrument(body: InstrumentIn, session: SessionDep, identity: Authenticated) -> dict:
    """Coordinators add instruments as data."""
    ins = await survey_service.create_instrument(session, identity, body)
    return _instrument(ins)


@router.put("/instruments/{code}/wording", summary="Load your organisation's licensed wording",
            responses=R)
async def put_wording(code: IdPath, body: WordingIn, session: SessionDep, identity: Authenticated) -> dict:
    """Item wording is licensed: each organisation holding a licence loads its own copy."""
    ins, wording = await survey_service.set_wording(session, identity, code, body)
    return _instrument(ins, wording)


@router.post("/rounds", summary="Open a survey round", status_code=201, responses=R)
async def create_round(body: RoundIn, session: SessionDep, identity: Authenticated) -> dict:
    """Per organisation (and optionally project): T0 baseline, T1, T2 follow-ups. The round
    closes itself at `closes_at` (default: the end of `closes_on`, Helsinki time) with the
    same `survey_round.closed` event as a manual close; a round created after that instant
    (entering an earlier survey) is closed by hand."""
    r = await survey_service.create_round(session, identity, body)
    return _round(r, 0)


@router.get("/rounds", summary="Survey rounds", response_model=Page[RoundOut],
            responses={**EXPORTABLE, **R})
async def list_rounds(request: Request, session: SessionDep, identity: Authenticated,
                      organisation_id: Annotated[str | None, Query(max_length=36)] = None,
                      project_id: Annotated[str | None, Query(max_length=36)] = None,
                      format: ExportFormat = None,
                      limit: Limit = 50, cursor: Cursor = None):
    """Rounds you may see, with response counts (withheld while below the threshold); an
    export holds them all."""
    rounds = await queries.visible_rounds(session, identity, organisation_id, project_id)
    counts = await queries.response_counts(session)
    items = [_round(r, counts.get(r.id, 0), _k(request)) for r in rounds]
    if format:
        keys = ["id", "organisation_id", "project_id", "label", "opens_on", "closes_on", "status",
                "responses"]
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in keys], format,
                               filename="survey-rounds")
    page, nxt = page_of(items, limit, cursor)
    return Page[RoundOut](items=page, total=len(items), next_cursor=nxt)


@router.post("/rounds/{round_id}/responses", summary="Add anonymous responses",
             status_code=status.HTTP_201_CREATED, responses=R)
async def add_responses(round_id: IdPath, body: ResponsesIn, session: SessionDep,
                        identity: Authenticated) -> Stored:
    """Answers are scored here; only the scores are kept, with no respondent identity."""
    r, ins = await survey_service.open_round(session, identity, round_id)
    arr, units = answers.answers_from_json(ins, body.responses)
    n = await survey_service.add_responses(session, r, ins, arr, units, "body/responses")
    return Stored(stored=n)


UPLOAD_BYTES = limits.BULK_BODY_BYTES
# The handler reads the raw body whatever its type, so the contract declares both ways of
# sending the CSV: as text, and as bytes (what a generated client sends; it has no text/csv).
CSV_BODY = {"requestBody": {"required": True, "description": "UTF-8 CSV: a header row of the "
                            "instrument's item ids (and optionally `unit`), then one row a respondent.",
                            "content": {"text/csv": {"schema": {"type": "string", "format": "binary",
                                                                "maxLength": UPLOAD_BYTES}},
                                        "application/octet-stream": {
                                            "schema": {"type": "string", "format": "binary",
                                                       "maxLength": UPLOAD_BYTES}}}}}


@router.post("/rounds/{round_id}/upload", summary="Upload responses as CSV", status_code=201,
             responses=R, openapi_extra=CSV_BODY)
async def upload_responses(round_id: IdPath, request: Request, session: SessionDep,
                           identity: Authenticated) -> Stored:
    """Body: text/csv with a header of the instrument's item ids and optionally `unit`.
    All rows are checked first; one bad row rejects the upload."""
    r, ins = await survey_service.open_round(session, identity, round_id)
    arr, units = answers.answers_from_csv(ins, await request.body())
    n = await survey_service.add_responses(session, r, ins, arr, units, "body/unit")
    return Stored(stored=n)


@router.post("/rounds/{round_id}/close", summary="Close a round", responses=R)
async def close_round(round_id: IdPath, request: Request, uow: UnitOfWorkDep,
                      identity: Authenticated) -> dict:
    """Emits `survey_round.closed` (results_available is false below the privacy threshold);
    409 when the round is closed already (by hand or at its close time)."""
    r, _ = await queries.get_round(uow.session, round_id)
    r = await survey_service.close(uow, identity, r, _k(request))
    return _round(r)


@router.get("/rounds/{round_id}/results", summary="Results of a round", response_model=RoundResults,
            response_model_exclude_unset=True, responses={**EXPORTABLE, **R})
async def round_results(round_id: IdPath, request: Request, session: SessionDep,
                        identity: Authenticated, breakdown: bool = False,
                        format: ExportFormat = None):
    """n, mean, SD, 95 % CI and bands, in total and per unit; figures about fewer than k
    respondents are withheld (also where they could be derived by subtraction)."""
    r, ins, res = await survey_service.round_results(session, identity, round_id, _k(request), breakdown)
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
    return await survey_service.change(session, identity, from_round, to_round, _k(request))
