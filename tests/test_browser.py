"""Browser-ready: CORS for configured origins (the `make run` default: local dev servers), the
request's language from `lang` or Accept-Language, a docs page that calls no outside
validator, and feed ids from the configured public address. Everything through a running stack."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import httpx
import pytest
from icalendar import Calendar

from deploy.embedded import DEV_CORS_ORIGINS, ROOT, Stack, free_port
from tests.comms.test_events_and_feeds import EVENT

SENT_HEADERS = ["authorization", "content-type", "idempotency-key", "if-match",
                "accept-language", "prefer"]
EXPOSED = {"content-disposition", "etag", "location", "retry-after", "x-request-id"}


@pytest.fixture(scope="module")
def dev_gateway(stack):
    """A second gateway on the same services, with the CORS origins `make run` configures."""
    port = free_port()
    env = stack.env("gateway")
    env["GATEWAY_CORS_ORIGINS"] = json.dumps(DEV_CORS_ORIGINS)
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
    yield url
    proc.terminate()
    proc.wait(10)


def _exposed(r: httpx.Response) -> set[str]:
    return {h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")}


def _code() -> str:
    return f"BR-{uuid.uuid4().hex[:8].upper()}"


def test_make_run_allows_local_dev_servers_only():
    assert {"http://localhost:5173", "http://127.0.0.1:5173", "http://localhost:4173",
            "http://localhost:3000", "http://127.0.0.1:8080"} <= set(DEV_CORS_ORIGINS)
    assert all(o.startswith(("http://localhost:", "http://127.0.0.1:")) for o in DEV_CORS_ORIGINS)
    from gateway.config import Settings
    assert Settings(_env_file=None).cors_origins == []  # production opens only what it names


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:3000"])
async def test_preflight_from_a_dev_server_allows_what_clients_send(dev_gateway, origin):
    async with httpx.AsyncClient(base_url=dev_gateway) as client:
        for path in ("/api/v1/projects", "/api/v1/organisations", "/api/v1/admin/api-keys"):
            r = await client.options(path, headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": ", ".join(SENT_HEADERS)})
            assert r.status_code in (200, 204), (path, r.status_code, r.text)
            assert r.headers["access-control-allow-origin"] == origin
            allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
            assert set(SENT_HEADERS) <= allowed, allowed
            assert "POST" in r.headers["access-control-allow-methods"]
            assert "origin" in r.headers.get("vary", "").lower()


async def test_another_origin_gets_no_cors_headers(dev_gateway):
    async with httpx.AsyncClient(base_url=dev_gateway) as client:
        pre = await client.options("/api/v1/projects", headers={
            "Origin": "http://localhost:5174", "Access-Control-Request-Method": "GET"})
        assert pre.status_code == 400
        get = await client.get("/api/v1/projects", params={"limit": 1},
                               headers={"Origin": "https://evil.example"})
        assert get.status_code == 200
        # (Starlette lists Access-Control-Expose-Headers on every answer; without an allowed
        # origin the browser reads nothing.)
        assert not [h for h in get.headers if h.lower().startswith("access-control-allow-")], \
            get.headers


async def test_a_browser_reads_location_etag_and_content_disposition(dev_gateway, admin_token):
    origin = "http://localhost:5173"
    headers = {"Origin": origin, "Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=dev_gateway + "/api/v1", headers=headers,
                                 timeout=15) as client:
        created = await client.post("/projects", json={
            "code": _code(), "name": {"fi": "Selainhanke"}, "region_codes": ["06"]})
        assert created.status_code == 201, created.text
        assert created.headers["access-control-allow-origin"] == origin
        assert created.headers["location"] == f"/api/v1/projects/{created.json()['id']}"
        assert EXPOSED <= _exposed(created)
        read = await client.get(created.headers["location"].removeprefix("/api/v1"))
        assert read.status_code == 200 and read.headers["etag"]
        assert EXPOSED <= _exposed(read) and read.headers["access-control-allow-origin"] == origin
        export = await client.get("/projects/export", params={"format": "csv"})
        assert export.status_code == 200
        assert export.headers["content-disposition"].startswith("attachment;")
        assert EXPOSED <= _exposed(export)


# --- the request's language ------------------------------------------------------------------

def _headings(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return next(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


@pytest.mark.parametrize(("accept", "query", "expected", "first"), [
    (None, {}, "fi", "Hankenumero"),                                # no header: Finnish
    ("sv-FI, sv;q=0.9, en;q=0.8", {}, "sv", "Projektnummer"),      # the header chooses
    ("en;q=0.2, sv;q=0.8, fi;q=0.5", {}, "sv", "Projektnummer"),   # by q, not by order
    ("en-GB,en;q=0.9", {}, "en", "Project code"),
    ("de-DE, fr;q=0.9", {}, "fi", "Hankenumero"),                   # unsupported: Finnish
    ("sv", {"lang": "en"}, "en", "Project code"),                   # `lang` wins
    ("sv;q=0, en", {}, "en", "Project code"),                       # q=0: not acceptable
])
async def test_export_headings_follow_lang_then_accept_language(gw, accept, query, expected, first):
    headers = {"Accept-Language": accept} if accept else {}
    r = await gw.get("/projects/export", params={"format": "csv", **query}, headers=headers)
    assert _headings(r)[0] == first
    assert r.headers["content-language"] == expected
    assert "accept-language" in r.headers["vary"].lower()


async def test_labels_follow_accept_language(gw):
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "Nylandhanke"},
                                         "region_codes": ["01"]})
    assert r.status_code == 201, r.text

    async def region_label(accept: str, **params) -> str:
        page = await gw.get("/projects", params={"facets": "true", "limit": 1, **params},
                            headers={"Accept-Language": accept})
        assert page.status_code == 200, page.text
        facet = page.json()["facets"]["region"]
        return next(v["label"] for v in facet if v["value"] == "01"), page.headers

    label, headers = await region_label("sv-SE,sv;q=0.9")
    assert label == "Nyland" and headers["content-language"] == "sv"
    assert (await region_label("fi"))[0] == "Uusimaa"
    assert (await region_label("sv", lang="fi"))[0] == "Uusimaa"


async def test_feeds_say_their_language(gw, stack):
    title = {"fi": f"Päivä {uuid.uuid4().hex[:6]}", "sv": "Dag", "en": "Day"}
    ev = (await gw.post("/events", json={**EVENT, "title": title})).json()
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1") as anon:

        async def summary(accept: str | None, **params) -> tuple[str, httpx.Response]:
            r = await anon.get("/feeds/events.ics", params=params,
                               headers={"Accept-Language": accept} if accept else {})
            assert r.status_code == 200, r.text
            mine = [c for c in Calendar.from_ical(r.content).walk("VEVENT")
                    if str(c["uid"]) == f"{ev['id']}@teke.fi"]
            return str(mine[0]["summary"]), r

        text, r = await summary("sv")
        assert text == "Dag" and r.headers["content-language"] == "sv"
        assert "accept-language" in r.headers["vary"].lower()
        assert (await summary("en-US"))[0] == "Day"
        assert (await summary("xx"))[0] == title["fi"]
        assert (await summary("sv", language="en"))[0] == "Day"   # the older name still wins
        assert (await summary("en", lang="sv"))[0] == "Dag"
        atom = await anon.get("/feeds/sv.atom", headers={"Accept-Language": "en"})
        assert atom.status_code == 200 and atom.headers["content-language"] == "sv"


@pytest.mark.parametrize("accept", ["*", "", ";;;q=abc,,", "fi;q=2", "x" * 5000,
                                    "en;q=0.5, " * 299 + "sv", "ä-ö;q=1"])
async def test_no_endpoint_rejects_an_odd_accept_language(gw, accept):
    # httpx refuses non-latin-1 header values; send them as bytes the way a client could.
    headers = {"Accept-Language": accept.encode("utf-8")}
    for path, params in (("/projects", {"limit": 1}), ("/indicators/definitions", {}),
                         ("/feeds/events.ics", {}), ("/projects/export", {"format": "csv"})):
        r = await gw.get(path, params=params, headers=headers)
        assert r.status_code == 200, (path, accept[:30], r.status_code, r.text[:300])
        assert r.headers["content-language"] in ("fi", "sv", "en")
    organisation = await gw.get("/organisations", params={"limit": 1}, headers=headers)
    assert organisation.status_code == 200
    assert "content-language" not in organisation.headers  # it does not depend on language


# --- docs page and feed ids -------------------------------------------------------------------

async def test_docs_page_turns_the_outside_validator_off(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    assert '"validatorUrl": null' in page.text
    assert "validator.swagger.io" not in page.text


async def test_atom_ids_use_the_public_base_url(gw, stack):
    tag = uuid.uuid4().hex[:8]
    item = (await gw.post("/content", json={"kind": "news", "title": {"fi": f"Osoite {tag}"},
                                            "body": {"fi": "x"}, "themes": [tag]})).json()
    r = await gw.post(f"/content/{item['id']}/transitions", json={"to": "published"})
    assert r.status_code == 200, r.text
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1") as anon:
        atom = await anon.get("/feeds/fi.atom", params={"theme": tag})
    assert atom.status_code == 200
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(atom.content)
    ids = [root.find("a:id", ns).text] + [e.find("a:id", ns).text for e in root.findall("a:entry", ns)]
    # The suite's comms is configured with https://teke.test as its public address.
    assert ids[0] == f"https://teke.test/api/v1/feeds/fi.atom?theme={tag}"
    assert ids[1:] == [f"https://teke.test/api/v1/content/{item['id']}"]
    assert "localhost:8000" not in atom.text


def test_make_run_gives_comms_its_own_address(tmp_path):
    stack = Stack(tmp_path, nats_url="nats://127.0.0.1:1", gateway_port=8123)
    assert stack.env("comms")["COMMS_PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    public = Stack(tmp_path, nats_url="nats://127.0.0.1:1", gateway_port=8123,
                   extra_env={"COMMS_PUBLIC_BASE_URL": "https://teke.example.fi"})
    assert public.env("comms")["COMMS_PUBLIC_BASE_URL"] == "https://teke.example.fi"
