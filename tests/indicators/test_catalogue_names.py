"""The ESF+ indicator catalogue in Finnish and Swedish: names where a translation is known, a
`translated: false` flag where it is not (in the shipped data and in the API), and a data
migration that rewrites the English placeholders of an existing database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from indicators import seed
from indicators.cli import MIGRATIONS
from shared.migrate import upgrade
from tests.support import databases

SHIPPED = json.loads((Path(seed.__file__).parent / "indicators.json").read_text(encoding="utf-8"))
BEFORE = "60c341592e48"  # the head before `translated`


def test_shipped_names_are_finnish_and_swedish_or_flagged():
    assert all(isinstance(d["translated"], bool) for d in SHIPPED)
    for d in SHIPPED:
        name = d["name"]
        if d["translated"]:
            assert name["fi"] and name["sv"] and name["en"], d["code"]
            assert name["fi"] != name["en"] and name["sv"] != name["en"], d["code"]
        else:  # no known translation: said so, never silently
            assert name["fi"] == name["en"] or not name.get("sv"), d["code"]
    esf = [d for d in SHIPPED if d["family"] in ("esf_output", "esf_result")]
    assert sum(d["translated"] for d in esf) == len(esf) - 1  # all but EECO16


async def test_definitions_say_fi_sv_and_translated(gw):
    one = await gw.get("/indicators/definitions/EECO01")
    assert one.status_code == 200, one.text
    current = one.json()["current"]
    assert current["name"] == {"fi": "osallistujien kokonaismäärä",
                               "sv": "totalt antal deltagare",
                               "en": "total number of participants"}
    assert current["translated"] is True
    listed = (await gw.get("/indicators/definitions")).json()["items"]
    by_code = {d["code"]: d for d in listed}
    assert by_code["EECR04"]["name"]["sv"].startswith("deltagare som har ett arbete")
    assert by_code["EECO16"]["translated"] is False
    assert by_code["EECO16"]["name"]["fi"] == "homeless or affected by housing exclusion"
    assert by_code["UWES_TOTAL"]["translated"] is False  # Finnish, no Swedish yet
    assert all(isinstance(d["translated"], bool) for d in listed)
    # A definition a coordinator adds is as translated as what they wrote.
    made = await gw.post("/indicators/definitions", json={
        "code": "CUSTOM_NAMES_1", "name": {"fi": "Oma mittari", "sv": "Egen mätare"}})
    assert made.status_code in (201, 409), made.text
    if made.status_code == 201:
        assert made.json()["translated"] is True


def test_the_migration_rewrites_english_placeholders_only(tmp_path):
    url = databases.database_urls(["names"], tmp_path)["names"]

    async def sql(*statements: str, fetch: str | None = None):
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for s in statements:
                    await conn.execute(text(s))
                if fetch:
                    return (await conn.execute(text(fetch))).all()
        finally:
            await engine.dispose()

    run = databases.run_async
    databases.run_async(asyncio.to_thread(upgrade, MIGRATIONS, url, BEFORE))
    # A database from before: English under fi for EECO01, a name someone changed for EECO03.
    run(sql("UPDATE indicator_definition SET name = "
            "'{\"fi\": \"total number of participants\", \"en\": \"total number of participants\"}' "
            "WHERE code = 'EECO01'",
            "UPDATE indicator_definition SET name = "
            "'{\"fi\": \"pitkäaikaistyöttömät (oma)\", \"en\": \"long-term unemployed\"}' "
            "WHERE code = 'EECO03'"))
    databases.run_async(asyncio.to_thread(upgrade, MIGRATIONS, url))
    rows = {code: (json.loads(name) if isinstance(name, str) else name, bool(flag))
            for code, name, flag in run(sql(fetch="SELECT code, name, translated FROM "
                                                  "indicator_definition"))}
    assert rows["EECO01"] == ({"fi": "osallistujien kokonaismäärä", "sv": "totalt antal deltagare",
                               "en": "total number of participants"}, True)
    assert rows["EECO03"][0]["fi"] == "pitkäaikaistyöttömät (oma)"  # edited: left alone
    assert rows["EECO16"][1] is False and rows["UWES_TOTAL"][1] is False
