"""Event envelopes are CloudEvents 1.0; every event type has a payload model and JSON Schema."""

from __future__ import annotations

import pytest
from cloudevents.v1.http import from_json

from shared.contracts import CATALOGUE, json_schemas, parse
from shared.contracts import registry as contracts
from shared.events.envelope import make_envelope, type_to_subject
from shared.jsonutil import dumps

STATE = {"id": "p1", "version": 3, "code": "S30001", "name": {"fi": "Hanke"}, "status": "active",
         "region_codes": ["01"]}


def test_envelope_is_a_valid_cloudevent():
    env = make_envelope(source="/teke/registry", event_type=contracts.PROJECT_CREATED,
                        subject="p1", data=STATE)
    event = from_json(dumps(env))
    assert event["specversion"] == "1.0"
    assert event["type"] == "fi.teke.registry.project.created.v1"
    assert event["subject"] == "p1" and event["source"] == "/teke/registry"
    assert event.data == STATE
    assert env["time"].endswith("Z")


@pytest.mark.parametrize(("event_type", "subject"), [
    ("fi.teke.registry.project.created.v1", "teke.registry.project.created"),
    ("fi.teke.indicators.report.approved.v2", "teke.indicators.report.approved"),
])
def test_type_maps_to_nats_subject(event_type, subject):
    assert type_to_subject(event_type) == subject


def test_type_without_prefix_is_refused():
    with pytest.raises(ValueError, match="fi.teke."):
        type_to_subject("com.example.thing.v1")


def test_every_event_type_has_a_schema_and_validates():
    schemas = json_schemas()
    assert set(schemas) == set(CATALOGUE) and schemas
    for event_type, schema in schemas.items():
        assert schema["type"] == "object", event_type
        assert "id" in schema["required"], event_type
    assert parse(contracts.PROJECT_UPDATED, {**STATE, "changed_fields": ["status"]}).version == 3
    with pytest.raises(ValueError):
        parse(contracts.PROJECT_CREATED, {**STATE, "version": 0})
