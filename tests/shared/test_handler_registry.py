"""Several handlers for one event type: each service adds to a shared projection's handler
instead of pulling it out and wrapping it by hand."""

from __future__ import annotations

from shared.events.consumer import HandlerRegistry


async def test_handlers_of_one_type_run_in_registration_order_with_one_session():
    reg = HandlerRegistry()
    seen = []

    @reg.on("fi.teke.x.v1")
    async def shared(session, env):
        seen.append(("shared", session, env["id"]))

    @reg.on("fi.teke.x.v1")
    async def own(session, env):
        seen.append(("own", session, env["id"]))

    @reg.on("fi.teke.y.v1")
    async def other(session, env):
        seen.append(("other", session, env["id"]))

    session = object()
    await reg.handlers["fi.teke.x.v1"](session, {"id": "e1"})
    await reg.handlers["fi.teke.y.v1"](session, {"id": "e2"})
    assert seen == [("shared", session, "e1"), ("own", session, "e1"), ("other", session, "e2")]
    # The decorator gives the function back unchanged, so it can be registered again.
    assert shared.__name__ == "shared" and reg.handlers["fi.teke.y.v1"] is other
