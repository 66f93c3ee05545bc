"""Small things several comms domains share."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, field_validator

from shared import limits
from shared.types import StrictInput

LANGUAGES = ("fi", "sv", "en")
REGION_CODES = {f"{i:02d}" for i in range(1, 22)} - {"03", "20"}
HELSINKI = ZoneInfo("Europe/Helsinki")


def local(ts: dt.datetime | None) -> str | None:
    """A UTC instant as Helsinki wall-clock time (what people are shown)."""
    return ts.astimezone(HELSINKI).isoformat() if ts else None


def token() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_regions(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return None
    unknown = [c for c in codes if c not in REGION_CODES]
    if unknown:
        raise ValueError(f"unknown region code(s) {unknown}; use maakunta codes 01-21")
    return sorted(set(codes))


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-05-04T09:00:00+03:00 or ...Z)")
    return value


class Markdown(StrictInput):
    """Markdown per language; Finnish required."""

    model_config = ConfigDict(extra="forbid")
    fi: str = Field(min_length=1, max_length=limits.MARKDOWN)
    sv: str | None = Field(None, max_length=limits.MARKDOWN)
    en: str | None = Field(None, max_length=limits.MARKDOWN)


class Text(StrictInput):
    model_config = ConfigDict(extra="forbid")
    fi: str = Field(min_length=1, max_length=300)
    sv: str | None = Field(None, max_length=300)
    en: str | None = Field(None, max_length=300)


Tags = list[str]


def tag_list(max_items: int = 50):
    return Field(default_factory=list, max_length=max_items)


def strip_tags(values: list[str]) -> list[str]:
    out = sorted({v.strip() for v in values if v.strip()})
    if any(len(v) > 100 for v in out):
        raise ValueError("each entry must be at most 100 characters")
    return out


regions_validator = field_validator("regions", "region_codes", check_fields=False)(check_regions)
