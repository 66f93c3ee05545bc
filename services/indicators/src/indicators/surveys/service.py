"""Survey rules: who runs rounds, taking responses (API and CSV), scoring, and results with
the privacy rule applied to every figure that leaves."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.common import field_error, get_project, is_funder_of, is_implementer_of
from indicators.models import Instrument, SurveyRound, survey_response
from indicators.surveys import privacy, stats
from shared import limits
from shared.contracts import indicators as contracts
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, Unprocessable
from shared.events.outbox import Outbox
from shared.identity import Identity

UNSPECIFIED = "(unspecified)"
HELSINKI = ZoneInfo("Europe/Helsinki")


def end_of_day(day: dt.date) -> dt.datetime:
    """The instant a Helsinki calendar day ends (midnight starting the next), in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), HELSINKI).astimezone(dt.UTC)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), HELSINKI).astimezone(dt.UTC)


async def get_instrument(session: AsyncSession, code: str) -> Instrument:
    ins = await session.scalar(select(Instrument).where(Instrument.code == code))
    if ins is None:
        raise NotFound(f"no survey instrument {code}")
    return ins


async def get_round(session: AsyncSession, round_id: str) -> tuple[SurveyRound, Instrument]:
    r = await session.get(SurveyRound, round_id)
    if r is None:
        raise NotFound(f"no survey round {round_id}")
    return r, await session.get(Instrument, r.instrument_id)


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


def _check_units(r: SurveyRound, units: list[str | None], field: str) -> None:
    if r.units:
        bad = sorted({u for u in units if u is not None and u not in r.units})
        if bad:
            raise Unprocessable("unknown units", errors=[field_error(
                field, "unknown", f"units {bad[:5]} are not among the round's {r.units[:20]}")])


def answers_from_json(ins: Instrument, responses: list[Any]) -> tuple[np.ndarray, list]:
    sc = stats.Scoring.of(ins)
    ids = sc.item_ids
    errors = []
    arr = np.full((len(responses), len(ids)), np.nan)
    for i, resp in enumerate(responses):
        extra = set(resp.answers) - set(ids)
        if extra:
            errors.append(field_error(f"body/responses/{i}/answers", "unknown",
                                      f"unknown items {sorted(extra)}"))
        for j, item in enumerate(ids):
            if item in resp.answers:
                arr[i, j] = resp.answers[item]
    bad = np.nonzero(sc.invalid_rows(arr))[0]
    for i in bad[:20]:
        errors.append(field_error(f"body/responses/{int(i)}/answers", "invalid",
                                  f"every item {ids[0]}..{ids[-1]} needs a whole-number answer "
                                  f"within [{ins.scale_min}, {ins.scale_max}]"))
    if errors:
        raise Unprocessable("invalid responses", errors=errors[:50])
    return arr, [x.unit for x in responses]


UNIT_CHARS = 80                 # as ResponseIn.unit


def answers_from_csv(ins: Instrument, body: bytes) -> tuple[np.ndarray, list]:
    """CSV with a header: the instrument's item ids and optionally `unit`. Answers are whole
    numbers on the scale; every row is checked before anything is stored."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable("the CSV is not UTF-8", errors=[
            field_error("body", "encoding", "send UTF-8")]) from None
    sc = stats.Scoring.of(ins)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if not header:
            raise Unprocessable("empty CSV", errors=[field_error("body", "empty", "no header row")])
        header = [h.strip() for h in header]
        unknown = [h[:40] for h in header if h not in sc.item_ids and h != "unit"]
        missing = [i for i in sc.item_ids if i not in header]
        if unknown or missing or len(set(header)) != len(header):
            raise Unprocessable("the CSV header does not match the instrument", errors=[field_error(
                "body/header", "columns",
                f"unknown {unknown[:10]}, missing {missing[:10]}; expected unit? and {sc.item_ids}")])
        rows = []
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if len(rows) == limits.SURVEY_CSV_ROWS:
                raise PayloadTooLarge(f"at most {limits.SURVEY_CSV_ROWS} responses in one upload",
                                      errors=[field_error("body", "rows", f"split the file into "
                                                          f"uploads of {limits.SURVEY_CSV_ROWS} rows")])
            rows.append(row)
    except csv.Error as exc:   # e.g. a field over the csv module's 131,072 characters
        raise Unprocessable(f"unreadable CSV at line {reader.line_num}", errors=[field_error(
            "body", "string_too_long" if "field limit" in str(exc) else "csv",
            f"{str(exc)[:200]}; a field may have at most {limits.CSV_FIELD} characters")]) from None
    if not rows:
        raise Unprocessable("no responses in the CSV", errors=[field_error("body", "empty", "no rows")])
    unit_col = header.index("unit") if "unit" in header else None
    order = [header.index(i) for i in sc.item_ids]
    width = len(header)
    errors = []
    for n, row in enumerate(rows, start=2):
        if len(row) != width:
            errors.append(field_error(f"body/line/{n}", "columns", f"{len(row)} cells, expected {width}"))
        elif unit_col is not None and len(row[unit_col].strip()) > UNIT_CHARS:
            errors.append(field_error(f"body/line/{n}/unit", "string_too_long",
                                      f"at most {UNIT_CHARS} characters"))
        elif not all(_WHOLE.fullmatch(row[j].strip()) for j in order):
            errors.append(field_error(f"body/line/{n}", "integer",
                                      "every answer must be a whole number on the scale"))
        if len(errors) >= 20:
            break
    if errors:
        raise Unprocessable("malformed CSV rows", errors=errors)
    arr = np.array([[int(row[j]) for j in order] for row in rows], dtype=float)
    bad = np.nonzero(sc.invalid_rows(arr))[0]
    if len(bad):
        raise Unprocessable(f"{len(bad)} rows have answers outside [{ins.scale_min}, {ins.scale_max}]",
                            errors=[field_error(f"body/line/{int(i) + 2}", "out_of_range",
                                                "answer outside the scale") for i in bad[:20]])
    units = [(row[unit_col].strip() or None) if unit_col is not None else None for row in rows]
    return arr, units


_WHOLE = re.compile(r"[+-]?\d{1,6}")


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


async def _record_closed(session: AsyncSession, outbox: Outbox, r: SurveyRound, k: int) -> None:
    ins = await session.get(Instrument, r.instrument_id)
    n = await session.scalar(select(func.count()).select_from(survey_response)
                             .where(survey_response.c.round_id == r.id))
    await outbox.record(session, contracts.SURVEY_ROUND_CLOSED, r.id, {
        "id": r.id, "project_id": r.project_id, "organisation_id": r.organisation_id,
        "instrument": ins.code, "label": r.label,
        "closed_at": r.closed_at.isoformat().replace("+00:00", "Z"),
        "results_available": int(n or 0) >= k})


async def close(session: AsyncSession, outbox: Outbox, identity: Identity, r: SurveyRound,
                k: int) -> SurveyRound:
    await require_manage(session, identity, r.organisation_id, r.project_id)
    if r.status == "closed" or not await _claim_close(session, r, utcnow()):
        raise Conflict("the round is already closed")
    await _record_closed(session, outbox, r, k)
    return r


async def close_due(session: AsyncSession, outbox: Outbox, k: int, limit: int = 100) -> list[str]:
    """Close the open rounds whose close time has come (each at its close time), with the
    same event as a manual close. Rounds created after their close time are left to a person."""
    now = utcnow()
    due = (await session.scalars(select(SurveyRound).where(
        SurveyRound.status == "open", SurveyRound.closes_at <= now,
        SurveyRound.closes_at > SurveyRound.created_at)
        .order_by(SurveyRound.closes_at).limit(limit))).all()
    closed = []
    for r in due:
        if await _claim_close(session, r, r.closes_at):
            await _record_closed(session, outbox, r, k)
            closed.append(r.id)
    return closed


async def next_close(session: AsyncSession) -> dt.datetime | None:
    return await session.scalar(select(func.min(SurveyRound.closes_at)).where(
        SurveyRound.status == "open", SurveyRound.closes_at > SurveyRound.created_at))


async def load_scores(session: AsyncSession, round_id: str, dim_codes: list[str]):
    rows = (await session.execute(select(survey_response.c.unit, survey_response.c.total,
                                         survey_response.c.dimension_scores)
                                  .where(survey_response.c.round_id == round_id))).all()
    units = np.array([u if u is not None else UNSPECIFIED for u, _, _ in rows], dtype=object)
    total = np.array([t for _, t, _ in rows], dtype=float)
    dims = np.array([[d.get(c, np.nan) for c in dim_codes] for _, _, d in rows], dtype=float) \
        if rows else np.empty((0, len(dim_codes)))
    return units, total, dims


def _from_sums(n: int, s: float, ss: float) -> dict[str, Any]:
    """describe() from a count, sum and sum of squares (grouped figures in one pass)."""
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
