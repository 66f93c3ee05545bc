"""The event kit: CloudEvents envelopes, transactional outbox + relay, exactly-once consumers."""

from shared.events import _nats_without_websockets  # noqa: F401, I001  (first: see there)
from shared.events.consumer import (
    Consumer,
    EventApplier,
    HandlerRegistry,
    StreamSpec,
    rebuild_projections,
)
from shared.events.envelope import make_envelope, type_to_subject
from shared.events.nats_conn import NatsConnection, ensure_stream
from shared.events.outbox import Outbox, Relay
from shared.events.tables import make_event_tables

__all__ = [
    "Consumer", "EventApplier", "HandlerRegistry", "NatsConnection", "Outbox", "Relay",
    "StreamSpec", "ensure_stream", "make_envelope", "make_event_tables", "rebuild_projections",
    "type_to_subject",
]
