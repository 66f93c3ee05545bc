"""W3C trace context: one trace followed from the gateway through every service and event.

HTTP carries it in `traceparent`; events carry it as the CloudEvents distributed-tracing
extension attribute `traceparent` and as a NATS header. Each hop makes a child span id.
"""

from __future__ import annotations

import contextvars
import re
import secrets

import structlog

TRACEPARENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent",
                                                                         default=None)
_VALID = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def parse(value: str | None) -> tuple[str, str] | None:
    """(trace id, flags) from a valid version-00 traceparent, else None."""
    if not value:
        return None
    m = _VALID.match(value.strip().lower())
    if not m or m.group(1) == "0" * 32 or m.group(2) == "0" * 16:
        return None
    return m.group(1), m.group(3)


def child_of(value: str | None) -> str:
    """A traceparent for this hop: same trace as `value` (or a new one), a new span id."""
    parsed = parse(value)
    trace_id, flags = parsed if parsed else (secrets.token_hex(16), "01")
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def bind(traceparent: str) -> contextvars.Token:
    structlog.contextvars.bind_contextvars(trace_id=traceparent[3:35])
    return TRACEPARENT.set(traceparent)


class TraceMiddleware:
    """Takes the caller's traceparent (or starts a trace) and passes a child span onward."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = None
        for k, v in scope["headers"]:
            if k == b"traceparent":
                incoming = v.decode("latin-1")
                break
        current = child_of(incoming)
        scope["headers"] = [h for h in scope["headers"] if h[0] != b"traceparent"]
        scope["headers"].append((b"traceparent", current.encode()))
        token = bind(current)
        try:
            await self.app(scope, receive, send)
        finally:
            TRACEPARENT.reset(token)
            structlog.contextvars.unbind_contextvars("trace_id")
