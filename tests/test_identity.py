"""Identity comes only through the gateway: bad tokens and keys get 401, missing scope 403."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.identity import Identity, InternalTokenSigner, generate_keypair

NEW_PROJECT = {"code": "ID-1", "name": {"fi": "Identiteetti"}}


@pytest.fixture
async def anon(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", timeout=10) as client:
        yield client


def _assert_401(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 401 and r.json()["detail"]
    assert r.headers.get("www-authenticate", "").startswith("Bearer")


async def test_no_token_cannot_write(anon):
    _assert_401(await anon.post("/projects", json=NEW_PROJECT))


async def test_anonymous_may_read_public_list(anon):
    r = await anon.get("/projects")
    assert r.status_code == 200 and "items" in r.json()


@pytest.mark.parametrize("case", ["forged", "expired", "wrong_audience", "wrong_issuer",
                                  "alg_none", "garbage", "unknown_kid"])
async def test_bad_bearer_tokens_get_401(anon, oidc, case):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = {
        "forged": lambda: oidc.token(roles=["admin"], key=other_key),
        "expired": lambda: oidc.token(roles=["admin"], exp_in=-120),
        "wrong_audience": lambda: oidc.token(roles=["admin"], aud="someone-else"),
        "wrong_issuer": lambda: oidc.token(roles=["admin"], iss="https://evil.example"),
        "alg_none": lambda: jwt.encode({"sub": "x", "roles": ["admin"], "aud": "teke-api",
                                        "iss": "https://login.teke.local",
                                        "exp": int(time.time()) + 600}, None, algorithm="none"),
        "garbage": lambda: "not.a.jwt",
        "unknown_kid": lambda: oidc.token(roles=["admin"], key=other_key, kid="other"),
    }[case]()
    r = await anon.post("/projects", json=NEW_PROJECT, headers={"Authorization": f"Bearer {token}"})
    _assert_401(r)


async def test_valid_oidc_token_is_accepted_with_its_roles(anon, oidc):
    token = oidc.token(sub="oidc-coordinator", roles=["coordinator"])
    r = await anon.post("/projects", json={"code": "OIDC-OK-1", "name": {"fi": "OIDC"}},
                        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    viewer = oidc.token(sub="oidc-viewer", roles=["viewer"])
    r = await anon.post("/projects", json={"code": "OIDC-NO-1", "name": {"fi": "OIDC"}},
                        headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403


async def test_api_key_lifecycle_scope_and_revocation(gw, anon):
    r = await gw.post("/admin/api-keys", json={"name": "Pirkanmaa sync", "roles": ["coordinator"],
                                               "scopes": ["registry:read"]})
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert key.startswith("teke_") and created["prefix"] in key
    listed, cursor = [], None
    while True:  # the list envelope, a page at a time
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await gw.get("/admin/api-keys", params=params)).json()
        listed += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert len(listed) == page["total"]
    assert any(k["id"] == created["id"] for k in listed)
    assert all("key" not in k and "key_hash" not in k for k in listed)

    # Read scope: reads pass, writes are forbidden (403, not 401: the key is valid).
    assert (await anon.get("/projects", headers={"X-API-Key": key})).status_code == 200
    r = await anon.post("/projects", json=NEW_PROJECT, headers={"X-API-Key": key})
    assert r.status_code == 403 and "registry:write" in r.json()["detail"]
    r = await anon.get("/indicators/projects/x", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403

    assert (await gw.delete(f"/admin/api-keys/{created['id']}")).json()["revoked_at"]
    _assert_401(await anon.get("/projects", headers={"X-API-Key": key}))


async def test_tampered_and_unknown_api_keys_get_401(gw, anon):
    created = (await gw.post("/admin/api-keys", json={"name": "t", "scopes": ["registry:read"]})).json()
    key = created["key"]
    _assert_401(await anon.get("/projects", headers={"X-API-Key": key[:-2] + "xx"}))
    _assert_401(await anon.get("/projects", headers={"X-API-Key": "teke_000000000000_nope"}))
    _assert_401(await anon.get("/projects", headers={"X-API-Key": "nonsense"}))


async def test_expired_api_key_is_refused(gw, anon):
    r = await gw.post("/admin/api-keys", json={"name": "old", "scopes": ["registry:read"],
                                               "expires_at": "2020-01-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body/expires_at"


async def test_api_key_admin_needs_admin(stack, anon):
    token = stack.dev_token("coordinator")
    r = await anon.post("/admin/api-keys", json={"name": "x", "scopes": ["registry:read"]},
                        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    _assert_401(await anon.get("/admin/api-keys"))


async def test_client_cannot_smuggle_an_internal_identity(stack, anon):
    priv, _ = generate_keypair()
    forged = InternalTokenSigner(priv).sign(Identity(sub="x", kind="user", roles=("admin",)))
    # Through the gateway the header is dropped: the caller stays anonymous.
    _assert_401(await anon.post("/projects", json=NEW_PROJECT, headers={"X-Teke-Identity": forged}))


async def test_direct_service_calls_need_a_valid_internal_token(stack):
    priv, _ = generate_keypair()
    forged = InternalTokenSigner(priv).sign(Identity(sub="x", kind="user", roles=("admin",)))
    real = InternalTokenSigner(stack.secrets["internal_private_key"])
    async with httpx.AsyncClient(timeout=10) as client:
        for svc, path in (("registry", "/projects"), ("indicators", "/indicators/projects/x"),
                          ("comms", "/comms/projects/x"), ("registry", "/admin/registry/dead-letters")):
            _assert_401(await client.get(stack.url(svc) + path))
            _assert_401(await client.get(stack.url(svc) + path, headers={"X-Teke-Identity": forged}))
        # Health probes stay open for ops.
        assert (await client.get(stack.url("registry") + "/healthz")).status_code == 200
        # A properly signed token works (proves the 401s above are about the token).
        ok = real.sign(Identity(sub="svc-test", kind="user", roles=("admin",)))
        r = await client.get(stack.url("registry") + "/projects", headers={"X-Teke-Identity": ok})
        assert r.status_code == 200


def test_production_refuses_default_secrets(monkeypatch):
    from gateway.config import Settings as GatewaySettings
    from registry.config import Settings as RegistrySettings

    for var in ("GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY", "GATEWAY_API_KEY_PEPPER",
                "GATEWAY_DEV_JWT_SECRET", "REGISTRY_INTERNAL_TOKEN_PUBLIC_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="internal_token_private_key"):
        GatewaySettings(environment="production")
    with pytest.raises(ValueError, match="dev_jwt_secret"):
        GatewaySettings(environment="production", dev_jwt_secret="x",
                        internal_token_private_key="k", api_key_pepper="p")
    with pytest.raises(ValueError, match="internal_token_public_key"):
        RegistrySettings(environment="production")
