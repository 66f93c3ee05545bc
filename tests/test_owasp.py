"""The OWASP API Security Top 10 (2023), walked through at the gateway: one test (or a pointer
to the test) for each item that applies. Items other suites already prove are named there."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest

from deploy.embedded import ROOT, free_port
from tests.conftest import scalar


def _code() -> str:
    return "OW-" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
async def client(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", timeout=15) as c:
        yield c


# API1 Broken object level authorisation: another organisation's project, by id.
async def test_api1_object_level_authorisation(stack, gw, client):
    # The lead implementer must be a registered organisation.
    org_a = (await gw.post("/organisations", json={"name": {"fi": "A"}, "kind": "company"})).json()["id"]
    p = (await gw.post("/projects", json={"code": _code(), "name": {"fi": "a"},
                                          "organisation_id": org_a})).json()
    stranger = stack.dev_token("implementer", org="org-owasp-b", sub="owasp-b")
    r = await client.patch(f"/projects/{p['id']}", json={"name": {"fi": "taken"}},
                           headers={"Authorization": f"Bearer {stranger}"})
    assert r.status_code == 403
    funder_elsewhere = stack.dev_token("funder", org="org-owasp-c", sub="owasp-c")
    r = await client.patch(f"/projects/{p['id']}", json={"status": "active"},
                           headers={"Authorization": f"Bearer {funder_elsewhere}"})
    assert r.status_code == 403
    assert (await gw.get(f"/projects/{p['id']}")).json()["version"] == 1


# API2 Broken authentication: tests/test_identity.py (forged, expired, wrong audience or
# issuer, alg=none, unknown key id, revoked / tampered / expired API keys, smuggled identity).
async def test_api2_credentials_only_in_headers(client, admin_token):
    # A token in the query string is not a credential: it would leak into logs and referers.
    r = await client.post("/projects", params={"access_token": admin_token},
                          json={"code": _code(), "name": {"fi": "x"}})
    assert r.status_code == 401


# API3 Broken object property level authorisation: read-only and unknown fields refused,
# internal fields never returned.
@pytest.mark.parametrize("body", [{"version": 99}, {"id": "x"}, {"created_by": "me"},
                                  {"code": "CHANGED"}])
async def test_api3_read_only_fields_are_refused(gw, body):
    p = (await gw.post("/projects", json={"code": _code(), "name": {"fi": "a"}})).json()
    r = await gw.patch(f"/projects/{p['id']}", json=body)
    assert r.status_code == 422, r.text
    field = next(iter(body))
    assert any(e["field"] == f"body/{field}" for e in r.json()["errors"])
    after = (await gw.get(f"/projects/{p['id']}")).json()
    assert after["version"] == 1 and after["code"] == p["code"]
    assert "created_by" not in after


async def test_api3_implementer_cannot_hand_its_project_to_another_organisation(stack, gw, client):
    mine = stack.dev_token("implementer", org="org-owasp-own", sub="owasp-own")
    headers = {"Authorization": f"Bearer {mine}"}
    r = await client.post("/projects", json={"code": _code(), "name": {"fi": "oma"},
                                             "organisation_id": "org-owasp-own"}, headers=headers)
    assert r.status_code == 201, r.text
    p = r.json()
    r = await client.patch(f"/projects/{p['id']}", json={"organisation_id": "org-owasp-other"},
                           headers=headers)
    assert r.status_code in (403, 422), r.text
    assert (await gw.get(f"/projects/{p['id']}")).json()["organisation_id"] == "org-owasp-own"


# API4 Unrestricted resource consumption: body size, page size, rate limits
# (tests/gateway/test_protection.py has the 429s).
async def test_api4_resource_limits(gw):
    assert (await gw.post("/projects", content=b"{" + b" " * 2_000_000 + b"}",
                          headers={"content-type": "application/json"})).status_code == 413
    r = await gw.get("/projects", params={"limit": 10_000})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query/limit"


# API5 Broken function level authorisation: admin functions for admins only, and an API key
# needs the admin scope even when its roles would allow it.
async def test_api5_admin_functions(stack, gw, client):
    for role in ("coordinator", "funder", "implementer", "viewer"):
        token = stack.dev_token(role, org="org-x")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/admin/api-keys", headers=headers)).status_code == 403
        for svc in ("registry", "indicators", "comms"):
            r = await client.get(f"/admin/{svc}/dead-letters", headers=headers)
            assert r.status_code == 403, (role, svc)
    key = (await gw.post("/admin/api-keys", json={"name": "admin-role-no-admin-scope",
                                                  "roles": ["admin"],
                                                  "scopes": ["registry:read"]})).json()["key"]
    r = await client.get("/admin/registry/dead-letters", headers={"X-API-Key": key})
    assert r.status_code == 403 and "admin" in r.json()["detail"]


# API6 Unrestricted access to sensitive business flows: writes need a write scope; rate
# limits bound scripted use (bulk export and subscription flows are tested with them).
async def test_api6_read_key_cannot_drive_write_flows(gw, client):
    key = (await gw.post("/admin/api-keys", json={"name": "reader",
                                                  "scopes": ["registry:read"]})).json()["key"]
    r = await client.post("/projects", json={"code": _code(), "name": {"fi": "x"}},
                          headers={"X-API-Key": key})
    assert r.status_code == 403


@pytest.fixture(scope="module")
def quota_gateway(stack):
    """A second gateway on the same services with small quotas for the sensitive flows."""
    port = free_port()
    env = stack.env("gateway")
    env.update({"GATEWAY_EXPORT_LIMIT_COUNT": "2", "GATEWAY_EXPORT_LIMIT_WINDOW_SECONDS": "60",
                "GATEWAY_SIGNUP_LIMIT_COUNT": "2", "GATEWAY_SIGNUP_LIMIT_WINDOW_SECONDS": "600"})
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "gateway.main:create_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url + "/api/v1"
    proc.terminate()
    proc.wait(10)


def _assert_quota_problem(r: httpx.Response, flow: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["status"] == 429 and flow in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]


# API6: bulk export has its own quota per identity, whatever the export route.
async def test_api6_export_quota_per_identity(stack, quota_gateway):
    # Coordinators: an administrator's exports are not throttled (checked at the end).
    def bearer(sub: str, role: str = "coordinator") -> dict[str, str]:
        return {"Authorization": f"Bearer {stack.dev_token(role, sub=sub)}"}

    me, other = bearer(f"exporter-{uuid.uuid4().hex[:6]}"), bearer(f"other-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(base_url=quota_gateway, timeout=15) as c:
        first = await c.get("/projects/export", params={"format": "csv"}, headers=me)
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/csv")
        assert (await c.get("/projects/export", params={"format": "json"},
                            headers=me)).status_code == 200
        _assert_quota_problem(await c.get("/projects/export", params={"format": "csv"},
                                          headers=me), "export")
        # A file asked for with format= on another service counts against the same quota,
        # and is refused before it reaches that service.
        _assert_quota_problem(await c.get("/reports/anything", params={"format": "xlsx"},
                                          headers=me), "export")
        # Ordinary reads by the same identity, and exports by anyone else, go on.
        r = await c.get("/projects", params={"limit": 1}, headers=me)
        assert r.status_code == 200 and "items" in r.json()
        r = await c.get("/projects/export", params={"format": "csv"}, headers=other)
        assert r.status_code == 200 and r.text.splitlines()[0]
        admin = bearer(f"admin-{uuid.uuid4().hex[:6]}", "admin")
        for _ in range(3):
            r = await c.get("/projects/export", params={"format": "csv"}, headers=admin)
            assert r.status_code == 200, r.text


# API6: public sign-ups are bounded per client address; refused ones change nothing.
async def test_api6_signup_quota_per_address(stack, quota_gateway):
    tag = uuid.uuid4().hex[:8]
    emails = [f"quota-{i}-{tag}@example.fi" for i in range(3)]
    async with httpx.AsyncClient(base_url=quota_gateway, timeout=15) as anon:
        for email in emails[:2]:
            r = await anon.post("/subscriptions", json={"email": email, "consent": True})
            assert r.status_code == 202, r.text
        r = await anon.post("/subscriptions", json={"email": emails[2], "consent": True})
        _assert_quota_problem(r, "sign-up")
        # Other public flows from the same address are not affected.
        r = await anon.get("/subscriptions/confirm", params={"token": "no-such-token"})
        assert r.status_code in (404, 422)
    db = stack.db_urls["comms"]
    for email, expected in zip(emails, (1, 1, 0), strict=True):
        assert await scalar(db, "SELECT count(*) FROM subscriber WHERE email = :e",
                            e=email) == expected


# API7 Server-side request forgery: the gateway calls only its configured upstreams; a client
# cannot steer it anywhere else.
@pytest.mark.parametrize("path", ["//evil.example/x", "/..%2f..%2fadmin", "/http://127.0.0.1:22/"])
async def test_api7_no_client_chosen_upstream(stack, path):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as c:
        r = await c.get("/api/v1" + path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


# API8 Security misconfiguration: no stack traces, no server banner, no internal headers out.
async def test_api8_no_leaks_in_errors_or_headers(gw):
    for r in (await gw.get("/projects/nope"), await gw.post("/projects", content=b"\xff\xfe"),
              await gw.delete("/projects")):
        assert r.status_code in (404, 405, 422)
        assert "Traceback" not in r.text and "File \"" not in r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "server" not in r.headers
        assert "x-teke-identity" not in r.headers


# API9 Improper inventory management: everything a service serves is in the one document.
async def test_api9_every_served_route_is_documented(stack):
    from shared.identity import Identity, InternalTokenSigner

    token = InternalTokenSigner(stack.secrets["internal_private_key"]).sign(
        Identity(sub="inventory", kind="user", roles=("viewer",)))
    async with httpx.AsyncClient() as c:
        merged = (await c.get(stack.gateway_url + "/api/v1/openapi.json")).json()["paths"]
        for svc in ("registry", "indicators", "comms"):
            own = (await c.get(stack.url(svc) + "/openapi.json",
                               headers={"x-teke-identity": token})).json()["paths"]
            for path, item in own.items():
                if path in ("/healthz", "/readyz"):
                    continue
                assert "/api/v1" + path in merged, f"{svc} serves undocumented {path}"
                assert set(item) <= set(merged["/api/v1" + path]), (svc, path)


# API10 Unsafe consumption of APIs: upstream answers are passed on without their hop-by-hop
# or internal headers, and never as redirects the gateway follows.
async def test_api10_upstream_headers_are_filtered(gw):
    r = await gw.get("/projects", params={"limit": 1})
    assert r.status_code == 200
    for header in ("server", "x-teke-identity", "transfer-encoding", "connection"):
        assert header not in r.headers or header == "connection" and r.headers[header] == "keep-alive"


async def test_nul_in_query_or_body_is_a_clear_422(gw):
    r = await gw.get("/projects", params={"q": "a\x00b"})
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    r = await gw.post("/projects", json={"code": "NUL-1", "name": {"fi": "a\x00b"}})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "nul_character"
