"""Input limits: the most any request may send, defined once.

Every string a request carries has a maximum length and every list a maximum size; they show
in the OpenAPI document (`maxLength`, `maxItems`, `maxProperties`) and a value over them is
refused with 422 problem+json naming the field. Bodies over the byte limit get 413 first
(`max_body_bytes`: 1 MiB, 64 MiB for imports and uploads). Lengths count characters (code
points), as JSON Schema does. Fields with a tighter rule of their own (a business ID, a
maakunta code, a person's name) keep it; these are the defaults and the ceilings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query
from pydantic import StringConstraints

# --- Strings (characters) ------------------------------------------------------------------
CODE = 64  # a code, key or id: project codes, reference codes, UUIDs, indicator codes
NAME = 500  # a name, title or label, per language
SHORT_TEXT = 200  # a short free-text value: a case number, an appointing body
NOTE = 2_000  # a reason or note (status and reopen reasons, workflow notes)
TEXT = 20_000  # a description or other free text, per language
MARKDOWN = 100_000  # a Markdown body, per language
DATE = 32  # an ISO 8601 date (2025-06-30; a zero time, 2025-06-30T00:00:00Z, is accepted too)
DATETIME = 64  # an ISO 8601 date-time with offset and fractions
DECIMAL = 40  # a decimal number sent as a string ("27700000.00")
ETAG = 200  # an If-Match / If-None-Match header value

# --- Lists and maps (items) ----------------------------------------------------------------
CODES = 100  # a list of codes or ids (regions, target groups, themes, projects, channels)
FILTER_VALUES = 100  # repeated values of one query filter (?region=01&region=02...)
MAP_KEYS = 100  # keys of a mapping (disaggregations, rule conditions, answers)

# --- Bulk input ----------------------------------------------------------------------------
IMPORT_ROWS = 10_000  # projects in one import request (JSON or CSV)
BODY_BYTES = 1_048_576  # any request body (413 above it)
BULK_BODY_BYTES = 64 * 1_048_576  # an import or upload body (413 above it)
CSV_FIELD = 131_072  # characters in one CSV field (Python's csv default; over it: 422)
SURVEY_CSV_ROWS = 100_000  # responses in one survey CSV upload

# --- Reusable declarations -----------------------------------------------------------------
CodeStr = Annotated[str, StringConstraints(max_length=CODE)]
NameStr = Annotated[str, StringConstraints(max_length=NAME)]
ShortStr = Annotated[str, StringConstraints(max_length=SHORT_TEXT)]

IdPath = Annotated[str, Path(max_length=CODE)]
"""An id or code in a path (`/projects/{project_id}`)."""
CodeQuery = Annotated[str | None, Query(max_length=CODE)]
"""An optional id, code or status in the query string (`?practice_id=...`)."""
IfMatch = Annotated[str | None, Header(max_length=ETAG)]
IfNoneMatch = Annotated[str | None, Header(max_length=ETAG)]
