"""Input types shared by every API: dates only as ISO 8601 strings.

Pydantic's lax mode would read `0` or `1700000000` as a date (a Unix timestamp); a client
sending a number where the schema says `format: date` has made a mistake we should report.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BeforeValidator


def _iso_only(value: Any) -> Any:
    if isinstance(value, (bool, int, float)):
        raise ValueError("give an ISO 8601 string, e.g. 2025-06-30 or 2025-06-30T12:00:00Z")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_only)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_only)]
