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
