"""An import body to rows: JSON (a list, or {"projects": [...]}) or CSV with a header row."""

from __future__ import annotations

import csv
import io
from typing import Any

from registry.projects.imports.schemas import Unsupported
from shared import limits
from shared.errors import Unprocessable
from shared.jsonutil import loads

MAX_ROWS = limits.IMPORT_ROWS


LIST_SPLIT = (";", "|")


def _split_list(value: str) -> list[str]:
    for sep in LIST_SPLIT:
        if sep in value:
            return [v.strip() for v in value.split(sep) if v.strip()]
    return [value.strip()] if value.strip() else []


def _records(reader: csv.DictReader):
    """The reader's records, at most MAX_ROWS; past that, or when the csv module refuses a field
    (over limits.CSV_FIELD characters) or a line, 422 naming the row (numbered from 0, as the
    import report numbers them)."""
    n = 0
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise Unprocessable(f"unreadable CSV at row {n} (line {reader.line_num}): {exc}",
                                errors=[{"field": f"body/row/{n}", "message": f"{exc}; at most "
                                         f"{limits.CSV_FIELD} characters a field",
                                         "type": "string_too_long" if "field limit" in str(exc)
                                         else "csv"}]) from None
        n += 1
        if n > MAX_ROWS:
            raise Unprocessable(f"at most {MAX_ROWS} projects a request", errors=[
                {"field": "body", "type": "too_long", "message": f"at most {MAX_ROWS} rows"}])
        yield raw


def csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV with a header row: name_fi/name_sv/name_en, goals_fi..., budget_<source>, lists by ';'."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    out = []
    for raw in _records(reader):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None or value is None or value == "":
                continue
            key = key.strip()
            base, _, lang = key.rpartition("_")
            if base in ("name", "goals", "starting_points", "further_info") and lang in ("fi", "sv", "en"):
                row.setdefault(base, {})[lang] = value
            elif key.startswith("budget_"):
                row.setdefault("budget", []).append({"source": key[7:], "amount": value})
            elif key in ("region_codes", "target_groups", "sub_themes", "case_numbers"):
                row[key] = _split_list(value)
            elif key == "published":
                row[key] = value.strip().lower() in ("1", "true", "yes", "kyllä")
            else:
                row[key] = value
        out.append(row)
    return out


def parse_body(body: bytes, ctype: str) -> list[dict[str, Any]]:
    if ctype in ("text/csv", "application/csv"):
        try:
            rows = csv_rows(body.decode("utf-8"))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise Unprocessable(f"unreadable CSV: {exc}") from None
    elif ctype in ("application/json", ""):
        try:
            data = loads(body)
        except Exception:
            raise Unprocessable("body is not valid JSON") from None
        rows = data.get("projects") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Unprocessable("expected a list of projects or {\"projects\": [...]}", errors=[
                {"field": "body", "type": "type_error", "message": "a list of objects"}])
    else:
        raise Unsupported("send application/json or text/csv")
    if len(rows) > MAX_ROWS:
        raise Unprocessable(f"at most {MAX_ROWS} projects a request (got {len(rows)})", errors=[
            {"field": "body", "type": "too_long", "message": f"at most {MAX_ROWS} rows"}])
    if not rows:
        raise Unprocessable("no projects to import", errors=[
            {"field": "body", "type": "too_short", "message": "at least one row"}])
    return rows
