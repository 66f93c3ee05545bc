"""One OpenAPI document for /api/v1 and a docs page that loads nothing from the internet."""

from __future__ import annotations

import re

import httpx


async def test_merged_openapi_has_every_service_and_no_internal_paths(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    paths = set(doc["paths"])
    assert {"/api/v1/projects", "/api/v1/projects/{project_id}", "/api/v1/admin/api-keys",
            "/api/v1/indicators/projects/{project_id}", "/api/v1/comms/projects/{project_id}",
            "/api/v1/admin/registry/dead-letters"} <= paths
    assert all(p.startswith("/api/v1/") for p in paths), paths
    assert not any(p.endswith(("/healthz", "/readyz", "/openapi.json")) for p in paths)
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    # One id per operation: generated clients (openapi-typescript, openapi-python-client) name
    # their functions and types after it; programmes, themes and calls once shared five.
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, repeated
    assert {"list_themes", "create_call", "update_programme", "list_registry_dead_letters",
            "replay_comms_dead_letter"} <= set(ids)
    # Every $ref points at a schema the merged document has.
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(doc).replace("'", '"')))
    assert refs and refs <= set(doc["components"]["schemas"])


async def test_docs_page_serves_its_own_assets(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        page = await client.get("/api/v1/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
        assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
        for url in urls:
            r = await client.get(url)
            assert r.status_code == 200 and len(r.content) > 100, url


# ---- the contract generates cleanly (issue 15) ----

METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _untyped(schema: dict) -> bool:
    """An empty schema, or a bare object that says nothing of its members."""
    if not schema:
        return True
    return schema.get("type") == "object" and not {
        "properties", "additionalProperties", "$ref", "anyOf", "oneOf", "allOf"} & set(schema)


def contract_findings(doc: dict) -> list[tuple[str, str]]:
    """(path, finding) for every 2xx JSON response without a type and every list (a GET whose
    body has `items`) without `next_cursor`. Exports (a GET with a `format` parameter) answer
    the whole selection as a file: their `items` is not a page."""
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            export = any(p.get("name") == "format" and p.get("in") == "query"
                         for p in op.get("parameters", []))
            for status in ("200", "201", "202"):
                media = (op.get("responses", {}).get(status, {}).get("content") or {})
                if "application/json" not in media:
                    continue
                schema = media["application/json"].get("schema") or {}
                if _untyped(schema):
                    found.append((path, f"{where} -> {status} untyped"))
                    continue
                body = _resolve(doc, schema)
                members = body.get("properties", {})
                if method == "get" and "items" in members and "next_cursor" not in members \
                        and not export:
                    found.append((path, f"{where} -> {status} a list without next_cursor"))
    return found


async def test_contract_is_typed_and_lists_page(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
    ids = [op["operationId"] for item in doc["paths"].values()
           for method, op in item.items() if method in METHODS]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})

    findings = contract_findings(doc)
    assert not findings, "\n".join(f for _, f in findings)
    # A file-only operation lists its files and no JSON body (nothing untyped to generate).
    ops = doc["paths"]["/api/v1/operations/export"]["get"]["responses"]["200"]["content"]
    assert set(ops) == {"text/csv; charset=utf-8",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    # The check itself finds what it should: an untyped body and a list without a cursor.
    probe = {"components": {"schemas": {}}, "paths": {"/x": {
        "get": {"responses": {"200": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"items": {"type": "array"}}}}}}}},
        "post": {"responses": {"201": {"content": {"application/json": {"schema": {
            "type": "object"}}}}}}}}}
    assert [f for _, f in contract_findings(probe)] == [
        "GET /x -> 200 a list without next_cursor", "POST /x -> 201 untyped"]
    # Exports declare their real media types, JSON (typed) first.
    export = doc["paths"]["/api/v1/organisations/export"]["get"]["responses"]["200"]["content"]
    assert list(export)[0] == "application/json"
    assert {"text/csv; charset=utf-8",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(export)
    assert "items" in _resolve(doc, export["application/json"]["schema"])["properties"]
