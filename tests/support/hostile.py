"""The hostile client's kit: the gateway's OpenAPI document as a list of write operations,
bodies a careless or hostile client sends, row counts of every database (to prove nothing was
written), and a small world of real records to aim at. Used by tests/test_hostile_clients.py."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

API = "/api/v1"
WRITE_METHODS = ("post", "put", "patch", "delete")
FAST = 2.0  # seconds a good request may take right after a hostile one
# Operations a stranger may use by design (public sign-ups and their links).
PUBLIC_WRITES = {("post", "/events/{event_id}/registrations"), ("post", "/subscriptions"),
                 ("post", "/subscriptions/confirm"), ("post", "/subscriptions/unsubscribe"),
                 ("post", "/subscriptions/erasure"), ("post", "/events/registrations/cancel")}



# --- the document -------------------------------------------------------------------------

class Doc:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.schemas = doc["components"]["schemas"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def write_ops(self) -> list[tuple[str, str, dict]]:
        return [(m, path[len(API):], op) for path, item in self.doc["paths"].items()
                for m, op in item.items() if m in WRITE_METHODS]

    def body_schema(self, op: dict) -> dict | None:
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        return self.resolve(content["application/json"]["schema"])

    def types(self, schema: dict) -> set[str]:
        schema = self.resolve(schema)
        if "anyOf" in schema or "oneOf" in schema:
            return set().union(*(self.types(s) for s in schema.get("anyOf", schema.get("oneOf"))))
        t = schema.get("type")
        if t is None:
            return {"any"}
        found = set(t) if isinstance(t, list) else {t}
        return found | ({"number"} if "integer" in found else set())

    def has_get(self, path: str) -> bool:
        return "get" in self.doc["paths"].get(API + path, {})


_WRONG = [12345, "x", True, [], {}, 1.5]
_JSON_TYPE = {int: "integer", str: "string", bool: "boolean", list: "array", dict: "object",
              float: "number"}


def wrong_value(allowed: set[str]) -> Any:
    """A value of a JSON type the field does not allow (None if it allows any)."""
    if "any" in allowed:
        return None
    for v in _WRONG:
        t = _JSON_TYPE[type(v)]
        if t not in allowed and not (t == "integer" and "number" in allowed):
            return v
    return None


def deep(depth: int = 5000) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the databases ------------------------------------------------------------------------

# Written only by background work that an earlier test's good request may have asked for (the
# overlap report's build, which lands whenever its scoring ends, and its events): no request
# writes these itself, so they are not counted.
BACKGROUND_TABLES = {"overlap_pair"}
BACKGROUND_EVENTS = " WHERE type NOT LIKE 'fi.teke.registry.overlap%'"


class RowCounts:
    """Rows in every table of every database (background work's aside), one query a database."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.engines = {name: create_async_engine(url) for name, url in urls.items()}
        self.queries: dict[str, Any] = {}

    async def snapshot(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, engine in self.engines.items():
            async with engine.connect() as conn:
                if name not in self.queries:
                    tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
                    tables = [t for t in tables if not t.startswith(("alembic", "sqlite_"))
                              and "_fts" not in t and t not in BACKGROUND_TABLES]
                    self.queries[name] = (tables, text("SELECT " + ", ".join(
                        f'(SELECT count(*) FROM "{t}"{BACKGROUND_EVENTS if t in ("outbox", "inbox") else ""})'
                        for t in tables)))
                tables, query = self.queries[name]
                row = (await conn.execute(query)).one()
                out.update({f"{name}.{t}": n for t, n in zip(tables, row, strict=True)})
        return out

    async def settled(self, timeout: float = 15.0) -> dict[str, int]:
        """A snapshot that holds still: events of earlier good writes have been handled."""
        import asyncio

        last = await self.snapshot()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.4)
            now = await self.snapshot()
            if now == last:
                return now
            last = now
        return last

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Tables whose row count changed. An outbox that shrank is the relay's retention purge
    of published events (background work), not a write; one that grew is an event written."""
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v
            and not (k.endswith(".outbox") and v < (before.get(k) or 0))}


# --- a world to write into ----------------------------------------------------------------

def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


async def _made(r: httpx.Response) -> dict:
    assert r.status_code in (200, 201), (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


async def build_world(gw: httpx.AsyncClient) -> dict[str, Any]:
    """Real resources for path parameters, and valid bodies for the operations that take them."""
    t = tag()
    org = await _made(await gw.post("/organisations", json={"name": {"fi": f"Org {t}"},
                                                           "kind": "company"}))
    org2 = await _made(await gw.post("/organisations", json={"name": {"fi": f"Org2 {t}"},
                                                            "kind": "company"}))
    programme = await _made(await gw.post("/programmes", json={"code": f"P-{t}",
                                                              "name": {"fi": "Ohjelma"}}))
    theme = await _made(await gw.post("/themes", json={"code": f"T-{t}", "name": {"fi": "Teema"}}))
    call = await _made(await gw.post("/calls", json={"code": f"C-{t}", "name": {"fi": "Haku"}}))
    project = await _made(await gw.post("/projects", json={
        "code": f"H-{t}", "name": {"fi": "Hanke"}, "organisation_id": org["id"],
        "region_codes": ["01"]}))
    practice = await _made(await gw.post("/practices", json={
        "name": {"fi": "Käytäntö"}, "organisation_id": org["id"]}))
    plan = await _made(await gw.post("/plans", json={
        "title": {"fi": "Suunnitelma"}, "period_start": "2026-01-01",
        "period_end": "2026-12-31", "scope": "theme"}))
    item = await _made(await gw.post("/content", json={
        "kind": "news", "title": {"fi": "Uutinen"}, "body": {"fi": "Teksti"}}))
    event = await _made(await gw.post("/events", json={
        "kind": "regional_workshop", "title": {"fi": "Työpaja"},
        "starts_at": "2027-03-01T09:00:00Z", "ends_at": "2027-03-01T12:00:00Z",
        "capacity": 10, "place": "Tampere"}))
    key = await _made(await gw.post("/admin/api-keys", json={"name": f"k {t}",
                                                            "scopes": ["registry:read"]}))
    ids = {"project_id": project["id"], "org_id": org["id"], "practice_id": practice["id"],
           "plan_id": plan["id"], "item_id": item["id"], "event_id": event["id"],
           "key_id": key.get("id") or key.get("key_id")}
    by_path = {"/programmes/{obj_id}": programme["id"], "/themes/{obj_id}": theme["id"],
               "/calls/{obj_id}": call["id"]}

    def good(method: str, path: str) -> dict | None:
        n = tag()
        bodies = {
            ("post", "/organisations"): {"name": {"fi": f"Org {n}"}, "kind": "company"},
            ("patch", "/organisations/{org_id}"): {"name": {"fi": f"Org {n}"}},
            ("post", "/programmes"): {"code": f"P-{n}", "name": {"fi": "Ohjelma"}},
            ("patch", "/programmes/{obj_id}"): {"name": {"fi": f"Ohjelma {n}"}},
            ("post", "/themes"): {"code": f"T-{n}", "name": {"fi": "Teema"}},
            ("patch", "/themes/{obj_id}"): {"name": {"fi": f"Teema {n}"}},
            ("post", "/calls"): {"code": f"C-{n}", "name": {"fi": "Haku"}},
            ("patch", "/calls/{obj_id}"): {"name": {"fi": f"Haku {n}"}},
            ("post", "/projects"): {"code": f"H-{n}", "name": {"fi": "Hanke"},
                                    "region_codes": ["01"]},
            ("patch", "/projects/{project_id}"): {"name": {"fi": f"Hanke {n}"}},
            ("post", "/practices"): {"name": {"fi": f"Käytäntö {n}"}},
            ("patch", "/practices/{practice_id}"): {"name": {"fi": f"Käytäntö {n}"}},
            ("post", "/plans"): {"title": {"fi": f"Suunnitelma {n}"},
                                 "period_start": "2026-01-01", "period_end": "2026-12-31",
                                 "scope": "theme"},
            ("post", "/content"): {"kind": "news", "title": {"fi": f"Uutinen {n}"},
                                   "body": {"fi": "Teksti"}},
            ("patch", "/content/{item_id}"): {"title": {"fi": f"Uutinen {n}"}},
            ("post", "/events"): {"kind": "regional_workshop", "title": {"fi": f"Työpaja {n}"},
                                  "starts_at": "2027-03-01T09:00:00Z",
                                  "ends_at": "2027-03-01T12:00:00Z", "capacity": 10,
                                  "place": "Tampere"},
            ("post", "/admin/api-keys"): {"name": f"k {n}", "scopes": ["registry:read"]},
            ("post", "/projects/import"): [{"code": f"I-{n}", "name": {"fi": "Tuonti"}}],
        }
        return bodies.get((method, path))

    return {"ids": ids, "by_path": by_path, "good": good, "org": org, "org2": org2,
            "project": project}


def fill(path: str, world: dict, *, real: bool = True) -> str:
    """The path with its parameters: the world's real ids, else made-up ones."""
    for template, value in world["by_path"].items():
        if real and path.startswith(template):
            path = path.replace(template, template.replace("{obj_id}", value))
    return re.sub(r"\{([^}]+)\}", lambda m: (world["ids"].get(m.group(1)) if real else None)
                  or str(uuid.uuid4()), path)


def safe_read(doc: Doc, path: str, world: dict) -> str:
    """A read on the same path that must answer 200: the same resource if the world has it,
    else the nearest collection above it that needs no query parameter."""
    parts = path.split("/")
    while len(parts) > 1:
        candidate = "/".join(parts)
        op = doc.doc["paths"].get(API + candidate, {}).get("get")
        params = re.findall(r"\{([^}]+)\}", candidate)
        known = all(p in world["ids"] or any(candidate.startswith(t) for t in world["by_path"])
                    for p in params)
        required = [q for q in (op or {}).get("parameters", [])
                    if q.get("in") == "query" and q.get("required")]
        if op and known and not required and not candidate.endswith(("/export", "/feed")):
            return fill(candidate, world)
        parts.pop()
    return "/projects"


# --- the hostile bodies -------------------------------------------------------------------

JSON = "application/json"


def hostile_bodies(doc: Doc, schema: dict | None, base: Any) -> list[tuple[str, bytes, str]]:
    """(label, body, content type) for one operation."""
    base = base if isinstance(base, dict) else {}
    out: list[tuple[str, bytes, str]] = []
    if schema is None:  # an operation without a body gets one anyway
        return [("unexpected body", b'{"a": 1, "a": 2}', JSON),
                ("unexpected non-JSON", b"\xff\xfe<x/>", JSON),
                ("deep nesting", deep(), JSON)]
    for value in ([], "x", 42, None, True):
        out.append((f"body is {json.dumps(value)}", json.dumps(value).encode(), JSON))
    raw = json.dumps(base or {"a": 1}).encode()
    out += [
        ("unknown field", json.dumps({**base, "zz_unknown": 1}).encode(), JSON),
        ("truncated JSON", raw[: max(1, len(raw) // 2)], JSON),
        ("not UTF-8", b'{"name": "\xff\xfe\xfd"}', JSON),
        ("deep nesting, whole body", deep(), JSON),
        ("duplicate keys", _duplicated(base), JSON),
        ("text/plain", raw, "text/plain"),
        ("application/xml", b"<project><code>x</code></project>", "application/xml"),
        ("form", b"code=x&name=y", "application/x-www-form-urlencoded"),
        ("multipart", b"--b\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\nx\r\n--b--\r\n",
         "multipart/form-data; boundary=b"),
    ]
    props = schema.get("properties", {})
    strings = [k for k, s in props.items() if "string" in doc.types(s)]
    for name, prop in props.items():
        wrong = wrong_value(doc.types(prop))
        if wrong is not None:
            out.append((f"wrong type: {name}", json.dumps({**base, name: wrong}).encode(), JSON))
    if props:
        first = next(iter(props))
        nested: Any = 1
        for _ in range(3000):
            nested = {"a": nested}
        out.append((f"deep nesting: {first}", b'{"' + first.encode() + b'": '
                    + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}", JSON))
    for name in strings[:3]:
        out.append((f"lone surrogate: {name}",
                    json.dumps({**base, name: "ok\ud800"}).encode(), JSON))
        out.append((f"NUL: {name}", json.dumps({**base, name: "a\u0000b"}).encode(), JSON))
    return out


def _duplicated(base: dict) -> bytes:
    if not base:
        return b'{"a": 1, "a": 2}'
    key, value = next(iter(base.items()))
    rest = json.dumps(base)[1:]
    return b"{" + json.dumps(key).encode() + b": " + json.dumps(value).encode() + b", " \
        + rest.encode()


def assert_problem(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:500]}"
    assert 400 <= r.status_code < 500, f"{what}: accepted ({r.status_code}) {r.text[:300]}"
    ctype = r.headers.get("content-type", "")
    assert ctype.startswith("application/problem+json"), f"{what}: {r.status_code} {ctype}"
    body = r.json()
    assert body.get("status") == r.status_code and body.get("type") and body.get("title"), \
        f"{what}: {body}"


async def follow_up(gw: httpx.AsyncClient, doc: Doc, path: str, world: dict, what: str) -> None:
    read = safe_read(doc, path, world)
    started = time.monotonic()
    r = await gw.get(read)
    took = time.monotonic() - started
    assert r.status_code == 200, f"after {what}: GET {read} -> {r.status_code} {r.text[:300]}"
    assert took < FAST, f"after {what}: GET {read} took {took:.2f}s"


# --- the tests ----------------------------------------------------------------------------


async def check_refused(gw: httpx.AsyncClient, doc: Doc, r: httpx.Response, template: str,
                        world: dict, what: str, failures: list[str]) -> None:
    """A 4xx problem+json, then a good request on the same path at once; failures collected."""
    try:
        assert_problem(r, what)
        await follow_up(gw, doc, template, world, what)
    except AssertionError as exc:
        failures.append(str(exc).split("\nassert")[0])

