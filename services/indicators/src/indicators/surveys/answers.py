"""Responses as they arrive (JSON or CSV): checked against the instrument before anything is
stored. Answers are whole numbers on the instrument's scale; units must be the round's."""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

from indicators.common import field_error
from indicators.models import Instrument, SurveyRound
from indicators.surveys import stats
from shared import limits
from shared.errors import PayloadTooLarge, Unprocessable

if TYPE_CHECKING:  # numpy is imported where the maths runs: ~13 MB of an idle process
    import numpy as np

UNIT_CHARS = 80                 # as ResponseIn.unit
_WHOLE = re.compile(r"[+-]?\d{1,6}")


def check_units(r: SurveyRound, units: list[str | None], field: str) -> None:
    if r.units:
        bad = sorted({u for u in units if u is not None and u not in r.units})
        if bad:
            raise Unprocessable("unknown units", errors=[field_error(
                field, "unknown", f"units {bad[:5]} are not among the round's {r.units[:20]}")])


def answers_from_json(ins: Instrument, responses: list[Any]) -> tuple[np.ndarray, list]:
    import numpy as np
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


def answers_from_csv(ins: Instrument, body: bytes) -> tuple[np.ndarray, list]:
    """CSV with a header: the instrument's item ids and optionally `unit`. Answers are whole
    numbers on the scale; every row is checked before anything is stored."""
    import numpy as np
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
