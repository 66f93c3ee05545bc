"""Input types shared by every API: dates only as ISO 8601 strings.

Pydantic's lax mode would read `0` or `1700000000` as a date (a Unix timestamp); a client
sending a number where the schema says `format: date` has made a mistake we should report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from itertools import repeat
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
from pydantic_core import PydanticCustomError, core_schema

from shared import limits

_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    # Numbers (and numeric strings, as query parameters arrive) would be read as timestamps.
    if isinstance(value, (bool, int, float)) or (
            isinstance(value, str) and not _ISO_START.match(value)):
        raise ValueError("give an ISO 8601 string, e.g. 2025-06-30 or 2025-06-30T12:00:00Z")
    return value


class MaxChars:
    """Annotated metadata for a type parsed from a string (a date, a decimal): a string longer
    than `max_chars` is refused before parsing, and `maxLength` is documented on the string
    form in the JSON schema (string fields use max_length instead)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def _check(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) > self.max_chars:
            raise PydanticCustomError("string_too_long",
                                      "String should have at most {max_length} characters",
                                      {"max_length": self.max_chars})
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        out = handler(schema)
        for part in [out, *out.get("anyOf", ())]:
            if part.get("type") == "string":
                part["maxLength"] = self.max_chars
        return out


IsoDate = Annotated[dt.date, BeforeValidator(_iso_only), MaxChars(limits.DATE)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_only), MaxChars(limits.DATETIME)]
DecimalIn = Annotated[Decimal, MaxChars(limits.DECIMAL)]
"""An exact decimal, as a JSON number or a string of at most 40 characters."""


# --- Input models that do not coerce -------------------------------------------------------

_NUMBERS = (int, float, Decimal)


def _always(_value: Any) -> bool:
    return True


def _scalar_types(annotation: Any) -> tuple[type, ...] | None:
    """The Python types a JSON value of a plain declared type arrives as, when an isinstance
    check says it all (None: the rule needs more, or there is none)."""
    if annotation is bool:
        return (bool,)
    if annotation is str:
        return (str,)
    if annotation in (dt.date, dt.datetime, dt.time):
        # A JSON string, or already the declared type (a model built inside the service).
        return (str, annotation)
    return None


def _scalar_rule(annotation: Any) -> Callable[[Any], bool]:
    """What a JSON value must be for a plain declared type (None is handled by the caller)."""
    types = _scalar_types(annotation)
    if types is not None:
        return lambda v: isinstance(v, types)
    if annotation is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if annotation is float:
        return lambda v: isinstance(v, _NUMBERS) and not isinstance(v, bool)
    if annotation is Decimal:
        # Exact decimals may come as strings ("27700000.00"); numbers are numbers.
        return lambda v: isinstance(v, (*_NUMBERS, str)) and not isinstance(v, bool)
    return _always  # models, enums, bare dict and the rest validate themselves


def _compile(annotation: Any) -> Callable[[Any], bool]:
    """A checker for the JSON types `annotation`'s schema allows; built once per field, since
    walking the annotation for every value was a quarter of a 10,000-project import's CPU.
    Every checker lets None through (pydantic itself refuses None where it is not allowed)."""
    if annotation is Any:
        return _always
    if annotation is type(None):
        return lambda v: v is None
    origin = get_origin(annotation)
    if origin is Annotated:
        return _compile(get_args(annotation)[0])
    if origin in (Union, UnionType):
        parts = [_compile(a) for a in get_args(annotation) if a is not type(None)]
        if _always in parts:
            return _always
        if len(parts) == 1:  # X | None: X's checker (it lets None through)
            return parts[0]
        return lambda v: any(p(v) for p in parts)
    if origin is Literal:
        return _always  # pydantic checks the value itself, strictly
    if origin in (list, set, frozenset, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        item = _compile(args[0]) if args else _always
        if item is _always:
            return lambda v: v is None or isinstance(v, list)
        types = _scalar_types(get_args(args[0])[0] if get_origin(args[0]) is Annotated
                              else args[0])
        if types is not None:  # isinstance over the items in C, no Python call per item
            types = (*types, type(None))  # a None item is pydantic's to refuse, as above
            return lambda v: v is None or (isinstance(v, list)
                                           and all(map(isinstance, v, repeat(types))))
        return lambda v: v is None or (isinstance(v, list) and all(map(item, v)))
    if origin is dict:
        return lambda v: v is None or isinstance(v, dict)
    types = _scalar_types(annotation)
    if types is not None:
        types = (*types, type(None))
        return lambda v: isinstance(v, types)
    rule = _scalar_rule(annotation)
    if rule is _always:
        return _always
    return lambda v: v is None or rule(v)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        for v in value:
            if _has_nul(v):
                return True
    elif isinstance(value, dict):
        for k, v in value.items():
            if _has_nul(k) or _has_nul(v):
                return True
    return False


_CHECKS: dict[tuple[type, str | None], Callable[[Any], bool]] = {}


class StrictInput(BaseModel):
    """Base of every request body: unknown fields refused, and no lax coercion.

    Pydantic's lax mode would read 0 as false or as 1970-01-01 and "5" as 5; a client that
    sends the wrong JSON type has made a mistake the API should name, not guess around.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _json_type_as_declared(cls, value: Any, info: ValidationInfo) -> Any:
        check = _CHECKS.get((cls, info.field_name))
        if check is None:
            field = cls.model_fields.get(info.field_name or "")
            check = _compile(field.annotation) if field is not None else _always
            _CHECKS[(cls, info.field_name)] = check
        if not check(value):
            raise PydanticCustomError(
                "json_type", "wrong JSON type for this field (see the schema): {got}",
                {"got": type(value).__name__})
        if _has_nul(value):
            # PostgreSQL cannot store NUL in text; no TEKE text needs it.
            raise PydanticCustomError("nul_character", "text may not contain NUL (\\u0000)")
        return value


# An id or a code-list value in a query: letters, digits and a few separators, starting with a
# letter or digit. Anything else (JSON, negative numbers, spaces) is a client mistake to name.
Code = Annotated[str, StringConstraints(max_length=limits.CODE,
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
