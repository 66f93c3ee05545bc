"""Every input has a bound (issue 12): each string a request may carry has a documented
maxLength and each list a maxItems, in the merged OpenAPI document; values over a bound are
refused with 422 problem+json naming the field, and nothing is written."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from shared import limits
from tests.conftest import scalar

METHODS = ("get", "post", "put", "patch", "delete")


# --- The OpenAPI walk ----------------------------------------------------------------------

def unbounded(doc: dict[str, Any]) -> list[str]:
    """Each string without maxLength, array without maxItems and map without maxProperties or
    bounded keys, in every parameter and request body (every media type) of `doc`, named by
    where it was found. A `pattern` alone is no bound; only enum and const values are."""
    schemas = doc.get("components", {}).get("schemas", {})
    found: set[str] = set()

    def deref(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = schemas[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node: Any, where: str, seen: frozenset[str]) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], f"{where} ({name})", seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                walk(sub, where, seen)
        types = node.get("type")
        types = set(types) if isinstance(types, list) else {types}
        if "string" in types and "maxLength" not in node and "enum" not in node \
                and "const" not in node:
            found.add(f"{where}: string without maxLength")
        if "array" in types and "maxItems" not in node:
            found.add(f"{where}: array without maxItems")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in node:
                found.add(f"{where}: map without maxProperties")
            if "maxLength" not in node.get("propertyNames", {}):
                found.add(f"{where}: map keys without maxLength")
            walk(extra, f"{where}.*", seen)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{where}.{name}", seen)
        if "items" in node:
            walk(node["items"], f"{where}[]", seen)
        for sub in node.get("prefixItems", ()):
            walk(sub, f"{where}[]", seen)

    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for param in [*item.get("parameters", ()), *op.get("parameters", ())]:
                param = deref(param)
                walk(param.get("schema", {}),
                     f"{method.upper()} {path} {param['in']} {param['name']}", frozenset())
            body = deref(op.get("requestBody")) or {}
            for media, content in body.get("content", {}).items():
                walk(content.get("schema", {}), f"{method.upper()} {path} body {media}",
                     frozenset())
    return sorted(found)


def test_the_walk_finds_what_is_unbounded():
    doc = {"paths": {"/x/{id}": {"post": {
        "parameters": [{"in": "path", "name": "id", "schema": {"type": "string", "pattern": "^a$"}},
                       {"in": "query", "name": "ok", "schema": {"type": "string", "maxLength": 9}}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}},
    }}}, "components": {"schemas": {"B": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "when": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        "map": {"type": "object", "additionalProperties": {"type": "number"}, "maxProperties": 3},
        "self": {"$ref": "#/components/schemas/B"},
    }}}}}
    assert unbounded(doc) == [
        "POST /x/{id} body application/json (B).map: map keys without maxLength",
        "POST /x/{id} body application/json (B).tags: array without maxItems",
        "POST /x/{id} body application/json (B).when: string without maxLength",
        "POST /x/{id} path id: string without maxLength",
    ]


async def test_every_request_string_and_list_in_the_merged_openapi_has_a_bound(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
    assert len(doc["paths"]) > 100  # every service is in it
    missing = unbounded(doc)
    assert not missing, "\n".join(missing)


# --- Over-long values are refused, naming the field, and nothing is written ----------------

def tag() -> str:
    return "BND" + uuid.uuid4().hex[:10].upper()


def too_long(marker: str, n: int) -> str:
    """A string of n + 1 characters that starts with a marker we can look for afterwards."""
    return marker + "x" * (n + 1 - len(marker))


def instrument(code: str, name: str) -> dict:
    return {"code": code, "name": {"fi": name}, "scale_min": 1, "scale_max": 5,
            "items": [{"id": "a", "dimension": "d"}], "dimensions": [{"code": "d"}]}


# (service, table, what the refused request sends, the field the problem must name)
CASES = {
    "project": ("registry", "project", lambda t: ("post", "/projects", {
        "code": t, "name": {"fi": too_long(t, limits.NAME)}}), "body/name/fi"),
    "project-description": ("registry", "project", lambda t: ("post", "/projects", {
        "code": t, "name": {"fi": t}, "goals": {"fi": "ok", "sv": too_long(t, limits.TEXT)}}),
        "body/goals/sv"),
    "project-date": ("registry", "project", lambda t: ("post", "/projects", {
        "code": t, "name": {"fi": t}, "start_date": "2025-01-01" + "0" * limits.DATE}),
        "body/start_date"),
    "project-list-item": ("registry", "project", lambda t: ("post", "/projects", {
        "code": t, "name": {"fi": t}, "case_numbers": [too_long(t, limits.SHORT_TEXT)]}),
        "body/case_numbers/0"),
    "organisation": ("registry", "organisation", lambda t: ("post", "/organisations", {
        "name": {"fi": too_long(t, limits.NAME)}, "kind": "company"}), "body/name/fi"),
    "programme": ("registry", "programme", lambda t: ("post", "/programmes", {
        "code": t, "name": {"fi": too_long(t, limits.NAME)}}), "body/name/fi"),
    "theme": ("registry", "theme", lambda t: ("post", "/themes", {
        "code": t, "name": {"en": too_long(t, limits.NAME), "fi": t}}), "body/name/en"),
    "call": ("registry", "call", lambda t: ("post", "/calls", {
        "code": t, "name": {"fi": t}, "priorities": [{"fi": too_long(t, limits.TEXT)}]}),
        "body/priorities/0/fi"),
    "practice": ("registry", "practice", lambda t: ("post", "/practices", {
        "name": {"fi": t}, "problem": {"fi": too_long(t, limits.TEXT)}}), "body/problem/fi"),
    "indicator-definition": ("indicators", "indicator_definition", lambda t: (
        "post", "/indicators/definitions", {"code": t, "name": {"fi": too_long(t, limits.NAME)}}),
        "body/name/fi"),
    "survey-instrument": ("indicators", "survey_instrument", lambda t: (
        "post", "/surveys/instruments", instrument(t, too_long(t, limits.NAME))), "body/name/fi"),
    "content": ("comms", "content_item", lambda t: ("post", "/content", {
        "kind": "news", "title": {"fi": t}, "body": {"fi": too_long(t, limits.MARKDOWN)}}),
        "body/body/fi"),
}


def _problem(r: httpx.Response, status: int = 422) -> dict:
    assert r.status_code == status, r.text[:2000]
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


async def _count(stack, service: str, table: str, marker: str) -> int:
    return await scalar(stack.db_urls[service],
                        f"SELECT count(*) FROM {table} WHERE CAST(name AS TEXT) LIKE :m"
                        if table != "content_item" else
                        "SELECT count(*) FROM content_item WHERE CAST(title AS TEXT) LIKE :m",
                        m=f"%{marker}%")


@pytest.mark.parametrize("case", list(CASES))
async def test_an_over_long_value_is_refused_naming_the_field(gw, stack, case):
    service, table, build, field = CASES[case]
    t = tag()
    method, path, body = build(t)
    err = _problem(await gw.request(method, path, json=body))
    fields = {e["field"]: e for e in err["errors"]}
    assert field in fields, err["errors"]
    assert fields[field]["type"] == "string_too_long", fields[field]
    assert await _count(stack, service, table, t) == 0


async def test_a_value_at_the_limit_is_accepted(gw):
    t = tag()
    name = t + "ä" * (limits.NAME - len(t))  # characters, not bytes
    r = await gw.post("/projects", json={"code": t, "name": {"fi": name, "sv": name},
                                         "goals": {"fi": "g" * limits.TEXT}})
    assert r.status_code == 201, r.text[:500]
    assert r.json()["name"]["fi"] == name


async def test_an_update_with_an_over_long_value_changes_nothing(gw):
    t = tag()
    p = (await gw.post("/projects", json={"code": t, "name": {"fi": t}})).json()
    err = _problem(await gw.patch(f"/projects/{p['id']}", json={
        "further_info": {"fi": too_long(t, limits.TEXT)}}))
    assert [e["field"] for e in err["errors"]] == ["body/further_info/fi"]
    after = (await gw.get(f"/projects/{p['id']}")).json()
    assert after["version"] == p["version"] and after["further_info"] is None


async def test_paths_queries_and_headers_are_bounded(gw):
    err = _problem(await gw.get("/projects/" + "a" * (limits.CODE + 1)))
    assert [e["field"] for e in err["errors"]] == ["path/project_id"]
    err = _problem(await gw.get("/projects", params=[("region", "01")] * (limits.FILTER_VALUES + 1)))
    assert [e["field"] for e in err["errors"]] == ["query/region"]
    err = _problem(await gw.get("/projects", params={"budget_min": "1" * (limits.DECIMAL + 1)}))
    assert [e["field"] for e in err["errors"]] == ["query/budget_min"]
    err = _problem(await gw.get("/organisations", params={"region": "0" * (limits.CODE + 1)}))
    assert [e["field"] for e in err["errors"]] == ["query/region"]
    p = (await gw.post("/projects", json={"code": tag(), "name": {"fi": "h"}})).json()
    err = _problem(await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "uusi"}},
                                  headers={"If-Match": '"' + "1" * limits.ETAG + '"'}))
    assert [e["field"] for e in err["errors"]] == ["header/if-match"]


async def test_import_rows_are_held_to_the_same_bounds(gw, stack):
    t = tag()
    rows = [{"code": t + "-1", "name": {"fi": t}},
            {"code": t + "-2", "name": {"fi": too_long(t, limits.NAME)}}]
    r = await gw.post("/projects/import", params={"mode": "all_or_nothing"}, json=rows)
    assert r.status_code == 422 and r.json()["written"] is False, r.text[:2000]
    rejected = [x for x in r.json()["rows"] if x["result"] == "rejected"]
    assert [(x["row"], [e["field"] for e in x["errors"]]) for x in rejected] == [(1, ["name/fi"])]
    assert await scalar(stack.db_urls["registry"], "SELECT count(*) FROM project WHERE code LIKE :c",
                        c=t + "%") == 0
    # CSV: a row whose field is within the csv module's limit is validated like JSON ...
    csv_body = f"code,name_fi\n{t}-3,{too_long(t, limits.NAME)}\n"
    r = await gw.post("/projects/import", content=csv_body.encode(),
                      params={"mode": "all_or_nothing"}, headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text[:2000]
    assert r.json()["rows"][0]["errors"][0]["field"] == "name/fi"
    # ... and a field over it is refused naming the row, not answered with a 500.
    csv_body = f"code,name_fi\n{t}-4,ok\n{t}-5,{'y' * (limits.CSV_FIELD + 1)}\n"
    err = _problem(await gw.post("/projects/import", content=csv_body.encode(),
                                 headers={"Content-Type": "text/csv"}))
    assert [e["field"] for e in err["errors"]] == ["body/row/1"], err  # numbered from 0
    assert err["errors"][0]["type"] == "string_too_long"
    assert await scalar(stack.db_urls["registry"], "SELECT count(*) FROM project WHERE code LIKE :c",
                        c=t + "%") == 0


async def test_survey_csv_fields_are_bounded(stack):
    org = str(uuid.uuid4())
    token = stack.dev_token("implementer", org=org, sub=f"implementer-{org}")
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as impl:
        today = dt.date.today()
        r = await impl.post("/surveys/rounds", json={
            "instrument_code": "UWES-9", "organisation_id": org, "label": "T0",
            "opens_on": (today - dt.timedelta(days=1)).isoformat(),
            "closes_on": (today + dt.timedelta(days=1)).isoformat()})
        assert r.status_code == 201, r.text
        round_id = r.json()["id"]
        upload = f"/surveys/rounds/{round_id}/upload"
        header = "unit," + ",".join(f"q{i}" for i in range(1, 10)) + "\n"
        answers = ",".join(["3"] * 9) + "\n"
        for unit, field in (("u" * 81, "body/line/2/unit"),
                            ("u" * (limits.CSV_FIELD + 1), "body")):
            err = _problem(await impl.post(upload, content=(header + unit + "," + answers).encode(),
                                           headers={"Content-Type": "text/csv"}))
            assert [e["field"] for e in err["errors"]] == [field], err
            assert err["errors"][0]["type"] == "string_too_long"
    assert await scalar(stack.db_urls["indicators"],
                        "SELECT count(*) FROM survey_response WHERE round_id = :r", r=round_id) == 0
