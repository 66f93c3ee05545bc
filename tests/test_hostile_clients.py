"""Hostile clients through the gateway, for every write operation the OpenAPI document lists.

Each write operation (POST, PUT, PATCH, DELETE under /api/v1) gets bodies a careless or hostile
client sends: the wrong JSON type for each field, unknown fields, deep nesting, duplicate keys,
lone surrogates and NUL characters, truncated or non-UTF-8 JSON, the wrong content type, a body
where none is expected, and made-up or overlong ids. For every one:

- no 5xx, and every answer a 4xx in application/problem+json;
- nothing written: every table of every database (the three services' and the gateway's) has
  the same number of rows before and after;
- the request is followed at once by a good one on the same path (a read of the same resource
  or its collection), which must succeed in under 2 s; where the test can build a valid body,
  the operation itself then succeeds, also in under 2 s.

A second test does the same with a stranger's ids: another organisation's implementer sends
valid bodies to the paths of resources it does not own. A third sends values far over any sane
size (oversize strings and lists); it passes once every request field is bounded.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile import (
    API,
    FAST,
    PUBLIC_WRITES,
    Doc,
    RowCounts,
    assert_problem,
    build_world,
    check_refused,
    diff,
    fill,
    follow_up,
    hostile_bodies,
    tag,
)

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
async def doc(gw) -> Doc:
    r = await gw.get("/openapi.json")
    assert r.status_code == 200
    return Doc(r.json())


@pytest.fixture
async def counts(stack):
    c = RowCounts(stack.db_urls)
    yield c
    await c.close()


async def test_hostile_bodies_on_every_write_operation(gw, stack, doc, counts):
    world = await build_world(gw)
    ops = doc.write_ops()
    assert len(ops) >= 50, [f"{m} {p}" for m, p, _ in ops]
    failures: list[str] = []
    sent = 0
    for method, template, op in ops:
        schema = doc.body_schema(op)
        base = world["good"](method, template)
        path = fill(template, world, real=schema is not None)
        before = await counts.settled()
        for label, body, ctype in hostile_bodies(doc, schema, base):
            what = f"{method.upper()} {template} [{label}]"
            sent += 1
            r = await gw.request(method.upper(), path, content=body,
                                 headers={"Content-Type": ctype})
            await check_refused(gw, doc, r, template, world, what, failures)
        if schema is None:  # and made-up or overlong ids, without a body
            for label, bad in (("made-up id", fill(template, world, real=False)),
                               ("overlong id", re.sub(r"\{[^}]+\}", "x" * 3000, template)),
                               ("odd id", re.sub(r"\{[^}]+\}", "%E2%80%AE..%2F", template))):
                if bad == template:
                    continue
                what = f"{method.upper()} {template} [{label}]"
                sent += 1
                try:
                    assert_problem(await gw.request(method.upper(), bad), what)
                    await follow_up(gw, doc, template, world, what)
                except AssertionError as exc:
                    failures.append(str(exc).split("\nassert")[0])
        changed = diff(before, await counts.snapshot())
        if changed:
            failures.append(f"{method.upper()} {template}: written {changed}")
        if base is not None:  # the operation itself still works, at once
            good_path = fill(template, world)
            started = time.monotonic()
            r = await gw.request(method.upper(), good_path, json=base)
            took = time.monotonic() - started
            if r.status_code >= 300 or took >= FAST:
                failures.append(f"{method.upper()} {template} [good body]: {r.status_code} "
                                f"in {took:.2f}s {r.text[:200]}")
    assert sent > 500
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures)


async def test_a_strangers_ids_change_nothing(gw, stack, doc, counts):
    """Another organisation's implementer, with valid bodies, on resources it does not own."""
    world = await build_world(gw)
    stranger_org = world["org2"]["id"]
    token = stack.dev_token("implementer", org=stranger_org, sub=f"stranger-{tag()}")
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=stack.gateway_url + API, timeout=15,
                                 headers={"Authorization": f"Bearer {token}"}) as stranger:
        # A stranger's id in the body: someone else's organisation as the lead.
        before = await counts.settled()
        r = await stranger.post("/projects", json={"code": f"S-{tag()}", "name": {"fi": "x"},
                                                   "organisation_id": world["org"]["id"]})
        try:
            assert_problem(r, "POST /projects as a stranger for another organisation")
        except AssertionError as exc:
            failures.append(str(exc))
        for method, template, op in doc.write_ops():
            if "{" not in template or (method, template) in PUBLIC_WRITES:
                continue
            body = world["good"](method, template)
            if body is None and doc.body_schema(op) is not None:
                body = {}
            path = fill(template, world)
            what = f"{method.upper()} {template} as a stranger"
            r = await stranger.request(method.upper(), path,
                                       **({"json": body} if body is not None else {}))
            await check_refused(gw, doc, r, template, world, what, failures)
        changed = diff(before, await counts.snapshot())
        if changed:
            failures.append(f"written by a stranger: {changed}")
    assert not failures, "\n".join(failures)


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                       st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
_json = st.recursive(_json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)


async def test_generated_hostile_json_on_project_and_organisation_writes(gw, stack, doc, counts):
    """Hypothesis: arbitrary JSON mixed into otherwise valid bodies (a field replaced by any
    JSON value, or an object of arbitrary members) is answered 2xx or 4xx problem+json, never
    5xx; and what is refused writes nothing."""
    world = await build_world(gw)
    targets = [("post", "/organisations"), ("patch", "/projects/{project_id}"),
               ("post", "/practices"), ("post", "/projects/{project_id}/status")]
    failures: list[str] = []

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(target=st.sampled_from(targets), data=st.data())
    def run(target, data):
        method, template = target
        base = world["good"](method, template) or {"status": "active"}
        field = data.draw(st.sampled_from(sorted(base) + ["zz"]))
        body = data.draw(st.one_of(
            st.builds(lambda v: {**base, field: v}, _json),
            st.dictionaries(st.text(max_size=12), _json, max_size=5)))
        cases.append((method, template, body))

    cases: list[tuple[str, str, Any]] = []
    run()
    for method, template, body in cases:
        path = fill(template, world)
        before = await counts.settled(timeout=5)
        r = await gw.request(method.upper(), path, json=body)
        what = f"{method.upper()} {template} {json.dumps(body)[:200]}"
        if r.status_code >= 500:
            failures.append(f"{what}: {r.status_code} {r.text[:300]}")
        elif r.status_code >= 400:
            await check_refused(gw, doc, r, template, world, what, failures)
            changed = diff(before, await counts.snapshot())
            if changed:
                failures.append(f"{what}: refused but written {changed}")
    assert len(cases) >= 30
    assert not failures, "\n".join(failures)


async def test_oversize_values_are_refused_and_write_nothing(gw, stack, doc, counts):
    """Strings of 100,000 characters and lists of 10,000 items in every field of every write
    body (one field at a time, inside the 1 MB body limit): refused 4xx problem+json, nothing
    written, and the next request is fast."""
    world = await build_world(gw)
    failures: list[str] = []
    for method, template, op in doc.write_ops():
        schema = doc.body_schema(op)
        if schema is None or template.endswith("/import"):
            continue
        base = world["good"](method, template) or {}
        if not isinstance(base, dict):
            continue
        path = fill(template, world)
        before = await counts.settled()
        for name, prop in schema.get("properties", {}).items():
            allowed = doc.types(prop)
            for kind, value in (("string", "x" * 100_000), ("array", ["01"] * 10_000)):
                if kind not in allowed:
                    continue
                what = f"{method.upper()} {template} [oversize {kind}: {name}]"
                r = await gw.request(method.upper(), path, json={**base, name: value})
                await check_refused(gw, doc, r, template, world, what, failures)
        changed = diff(before, await counts.snapshot())
        if changed:
            failures.append(f"{method.upper()} {template}: written {changed}")
    assert not failures, f"{len(failures)}:\n" + "\n".join(failures)
