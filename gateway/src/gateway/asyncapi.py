"""The AsyncAPI 3.0 document of every event TEKE publishes, built from the contracts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import CATALOGUE, STREAMS
from shared.events.envelope import SCHEMA_BASE, type_to_subject


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type, model in sorted(CATALOGUE.items()):
        subject = type_to_subject(event_type)
        key = event_type.removeprefix("fi.teke.").replace(".", "_")
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[key] = schema
        messages[key] = {
            "name": event_type,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "The event id (deduplication)."},
                "traceparent": {"type": "string", "description": "W3C trace context."}}},
            "payload": {
                "type": "object",
                "description": "CloudEvents 1.0 structured-mode envelope; `data` is the payload.",
                "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
                "properties": {
                    "specversion": {"const": "1.0"},
                    "id": {"type": "string", "format": "uuid"},
                    "source": {"type": "string"},
                    "type": {"const": event_type},
                    "subject": {"type": "string", "description": "The entity id."},
                    "time": {"type": "string", "format": "date-time"},
                    "dataschema": {"const": SCHEMA_BASE + event_type + ".json"},
                    "traceparent": {"type": "string"},
                    "data": {"$ref": f"#/components/schemas/{key}"},
                },
            },
        }
        channels[key] = {"address": subject, "messages": {key: {"$ref": f"#/components/messages/{key}"}}}
        operations[f"receive_{key}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Consume {event_type} (durable pull consumer on its stream)."}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "TEKE events", "version": "1.0.0",
                 "description": "Facts TEKE's services publish on NATS JetStream. Delivered at "
                                "least once: deduplicate by the CloudEvents `id`. Streams: "
                                + ", ".join(f"{s.name} ({', '.join(s.subjects)})"
                                            for s in STREAMS.values())},
        "defaultContentType": "application/cloudevents+json",
        "servers": {"nats": {"host": "nats:4222", "protocol": "nats",
                             "description": "JetStream; one stream per producing service."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


class AsyncAPIInfo(BaseModel):
    title: str
    version: str
    description: str | None = None


class AsyncAPIDocument(BaseModel):
    """The AsyncAPI 3.0 document's top level, for a generated client; each part is the
    specification's own (https://www.asyncapi.com/docs/reference/specification/v3.0.0)."""

    model_config = ConfigDict(populate_by_name=True)
    asyncapi: str = Field(description="The AsyncAPI version, 3.0.0.")
    info: AsyncAPIInfo
    default_content_type: str = Field(alias="defaultContentType")
    servers: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    operations: dict[str, dict[str, Any]]
    components: dict[str, dict[str, Any]]
