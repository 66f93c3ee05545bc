"""CloudEvents 1.0 structured-mode JSON envelopes.

Built as plain dicts and serialised with orjson: the relay and consumers handle thousands a
second, and the envelope is small and fixed. Conformance is tested with the CloudEvents SDK.
"""

from __future__ import annotations

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


def make_envelope(*, source: str, event_type: str, subject: str, data: dict[str, Any],
                  traceparent: str | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "specversion": "1.0",
        "id": new_id(),
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": utcnow().isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataschema": SCHEMA_BASE + event_type + ".json",
        "data": data,
    }
    if traceparent:
        env["traceparent"] = traceparent
    return env
