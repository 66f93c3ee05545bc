"""Event contracts: one module per producing service, each event a versioned Pydantic model.

`CATALOGUE` maps every event type to its payload model; `json_schemas()` gives the JSON
Schema of each (published in the AsyncAPI document).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.contracts import comms, indicators, registry

CATALOGUE: dict[str, type[BaseModel]] = {**registry.EVENTS, **indicators.EVENTS, **comms.EVENTS}

STREAMS = {"registry": registry.STREAM, "indicators": indicators.STREAM, "comms": comms.STREAM}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {event_type: model.model_json_schema() for event_type, model in CATALOGUE.items()}


def parse(event_type: str, data: dict[str, Any]) -> BaseModel:
    return CATALOGUE[event_type].model_validate(data)
