"""CloudEvents 1.0 structured-mode JSON envelopes.

Built as plain dicts and serialised with orjson: the relay and consumers handle thousands a
second, and the envelope is small and fixed. Conformance is tested with the CloudEvents SDK.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.db import new_id, utcnow

TYPE_PREFIX = "fi.teke."
SUBJECT_PREFIX = "teke."
SCHEMA_BASE = "https://teke.fi/schemas/events/"


def type_to_subject(event_type: str) -> str:
    """`fi.teke.registry.project.created.v1` -> `teke.registry.project.created`."""
    if not event_type.startswith(TYPE_PREFIX):
        raise ValueError(f"event type must start with {TYPE_PREFIX}: {event_type}")
    parts = event_type[len(TYPE_PREFIX):].split(".")
    if parts and parts[-1].startswith("v") and parts[-1][1:].isdigit():
        parts = parts[:-1]
    return SUBJECT_PREFIX + ".".join(parts)


def event_time(at: dt.datetime) -> str:
    """An envelope's `time`: RFC 3339 in UTC with a Z."""
    return at.isoformat().replace("+00:00", "Z")


def make_envelope(*, source: str, event_type: str, subject: str, data: dict[str, Any],
                  traceparent: str | None = None, event_id: str | None = None,
                  time: str | None = None) -> dict[str, Any]:
    """`event_id` and `time` (see event_time) default to a new id and now; bulk writers pass
    ids made in bulk and one time for the batch."""
    env: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or new_id(),
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": time or event_time(utcnow()),
        "datacontenttype": "application/json",
        "dataschema": SCHEMA_BASE + event_type + ".json",
        "data": data,
    }
    if traceparent:
        env["traceparent"] = traceparent
    return env
