"""Payloads of programme.*, theme.* and call.* events, from a record's response view."""

from __future__ import annotations

from typing import Any

from shared.contracts import registry as contracts

EVENT_TYPES = {"programme": (contracts.PROGRAMME_CREATED, contracts.PROGRAMME_UPDATED),
               "theme": (contracts.THEME_CREATED, contracts.THEME_UPDATED),
               "call": (contracts.CALL_CREATED, contracts.CALL_UPDATED)}
PRIVATE = ("priorities", "created_at", "updated_at")  # kept out of event payloads (size)


def changed(kind: str, view: dict[str, Any], before: dict[str, Any] | None
            ) -> tuple[str, dict[str, Any]]:
    """`<kind>.created` when there is no `before`, else `<kind>.updated` with the changed fields."""
    created_type, updated_type = EVENT_TYPES[kind]
    state = {k: v for k, v in view.items() if k not in PRIVATE}
    if before is None:
        return created_type, state
    fields = [k for k in state if k != "version" and state[k] != before.get(k)]
    return updated_type, {**state, "changed_fields": fields}
