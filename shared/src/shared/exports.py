"""Exports of any list: CSV, XLSX or JSON, streamed, with labels in the language asked for.

Services build rows (dicts) and column definitions; this module turns them into a response.
Personal data is the caller's job to leave out before rows reach here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.responses import Response, StreamingResponse

from shared.jsonutil import dumps

ExportFormat = Literal["csv", "xlsx", "json"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


# An export's files, for a route decorator: the CSV and XLSX a `format` parameter asks for. A
# JSON body, where an export has one, is typed by its service (registry.exports).
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The rows as CSV or XLSX (the `format` parameter).",
          "content": {MEDIA_TYPES["csv"]: {"schema": {"type": "string"}},
                      MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}},
}


class CsvResponse(Response):
    """The response class of an operation that answers files only (`response_class=`, beside
    FILE_RESPONSES): its 200 then lists CSV and XLSX and no JSON body."""

    media_type = MEDIA_TYPES["csv"]


@dataclass(frozen=True)
class Column:
    """One exported column: the row key and its heading per language."""

    key: str
    label: dict[str, str]

    def heading(self, lang: str) -> str:
        return self.label.get(lang) or self.label.get("fi") or self.key


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return value.get("fi") or dumps(value).decode()
    return value


_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(value: Any) -> Any:
    # XLSX is XML: control characters cannot be stored, so they are dropped.
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("", value)
    # Excel has no time zones (openpyxl refuses aware datetimes): an instant is written as
    # ISO 8601 text with its offset, as in the CSV and JSON exports, so it stays unambiguous.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.isoformat()
    return value


def _csv_safe(value: Any) -> Any:
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[Column], lang: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.heading(lang) for c in columns])
    for row in rows:
        writer.writerow([_csv_safe(_cell(row.get(c.key))) for c in columns])
    return ("\ufeff" + buf.getvalue()).encode()  # BOM: Excel opens UTF-8 (ä, ö, å) correctly


def xlsx_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[Column], lang: str,
               sheet: str = "TEKE") -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet[:31])
    ws.append([_xlsx_safe(c.heading(lang)) for c in columns])
    for row in rows:
        ws.append([_xlsx_safe(_csv_safe(_cell(row.get(c.key)))) for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def json_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[Column] | None = None) -> bytes:
    if columns is None:
        return dumps({"items": list(rows)})
    keys = [c.key for c in columns]
    return dumps({"items": [{k: row.get(k) for k in keys} for row in rows]})


def export_response(rows: Iterable[dict[str, Any]], columns: Sequence[Column], fmt: ExportFormat,
                    *, lang: str = "fi", filename: str = "export") -> StreamingResponse:
    if fmt == "csv":
        body = csv_bytes(rows, columns, lang)
    elif fmt == "xlsx":
        body = xlsx_bytes(rows, columns, lang)
    else:
        body = json_bytes(rows, columns)

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    return StreamingResponse(
        stream(), media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
                 "Content-Length": str(len(body))})
