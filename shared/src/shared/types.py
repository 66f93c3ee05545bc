"""Input types shared by every API: dates only as ISO 8601 strings.

Pydantic's lax mode would read `0` or `1700000000` as a date (a Unix timestamp); a client
sending a number where the schema says `format: date` has made a mistake we should report.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    # Numbers (and numeric strings, as query parameters arrive) would be read as timestamps.
    if isinstance(value, (bool, int, float)) or (
            isinstance(value, str) and not _ISO_START.match(value)):
        raise ValueError("give an ISO 8601 string, e.g. 2025-06-30 or 2025-06-30T12:00:00Z")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_only)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_only)]


# --- Input models that do not coerce -------------------------------------------------------

_NUMBERS = (int, float, Decimal)


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether `value`, as decoded from JSON, has a type the annotation's schema allows."""
    if value is None or annotation is Any:
        return True
    if annotation is type(None):
        return False
    if isinstance(annotation, type) and isinstance(value, annotation) and not (
            isinstance(value, bool) and annotation is not bool):
        return True  # already the declared type (a model built inside the service)
    origin = get_origin(annotation)
    if origin is Annotated:
        return _accepts(get_args(annotation)[0], value)
    if origin in (Union, UnionType):
        return any(_accepts(a, value) for a in get_args(annotation))
    if origin is Literal:
        return True  # pydantic checks the value itself, strictly
    if origin in (list, set, frozenset, tuple):
        if not isinstance(value, list):
            return False
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return not args or all(_accepts(args[0], v) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (float, Decimal):
        # Exact decimals may come as strings ("27700000.00"); numbers are numbers.
        ok = isinstance(value, _NUMBERS) or (annotation is Decimal and isinstance(value, str))
        return ok and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (dt.date, dt.datetime, dt.time):
        return isinstance(value, str)
    return True  # models, enums and the rest validate themselves


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class StrictInput(BaseModel):
    """Base of every request body: unknown fields refused, and no lax coercion.

    Pydantic's lax mode would read 0 as false or as 1970-01-01 and "5" as 5; a client that
    sends the wrong JSON type has made a mistake the API should name, not guess around.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _json_type_as_declared(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and not _accepts(field.annotation, value):
            raise PydanticCustomError(
                "json_type", "wrong JSON type for this field (see the schema): {got}",
                {"got": type(value).__name__})
        if _has_nul(value):
            # PostgreSQL cannot store NUL in text; no TEKE text needs it.
            raise PydanticCustomError("nul_character", "text may not contain NUL (\\u0000)")
        return value


# An id or a code-list value in a query: letters, digits and a few separators, starting with a
# letter or digit. Anything else (JSON, negative numbers, spaces) is a client mistake to name.
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
