"""The request's language rule (shared.middleware): Accept-Language parsed by q-value, `lang`
first, Finnish otherwise; arbitrary header strings never break it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.middleware import LANGUAGES, LanguageMiddleware, negotiate_language


@pytest.mark.parametrize(("header", "expected"), [
    (None, "fi"), ("", "fi"), ("sv", "sv"), ("sv-FI", "sv"), ("EN-gb", "en"),
    ("en;q=0.2, sv;q=0.8", "sv"), ("en, sv", "en"), ("de, fr;q=0.9", "fi"),
    ("de, sv;q=0.1", "sv"), ("*", "fi"), ("sv;q=0, en;q=0.1", "en"), ("sv;q=0", "fi"),
    ("sv;q=1.5, en;q=0.5", "en"), ("sv;q=abc, en;q=0.3", "en"), ("se, sv;q=0.2", "sv"),
    ("fi;q=0.5, sv;q=0.5", "fi"), ("en; q=0.9 , sv ; q=0.95", "sv"),
])
def test_accept_language_by_q_value(header, expected):
    assert negotiate_language(header) == expected


@given(st.text(max_size=2000))
def test_any_header_gives_a_supported_language(header):
    assert negotiate_language(header) in LANGUAGES


@given(st.lists(st.tuples(st.sampled_from(["fi", "sv", "en", "de", "fr", "sv-FI", "en-US"]),
                          st.integers(min_value=0, max_value=1000)), min_size=1, max_size=8))
def test_the_highest_q_wins_and_the_first_on_a_tie(ranges):
    header = ", ".join(f"{tag};q={q / 1000:.3f}" for tag, q in ranges)
    supported = [(tag.split("-")[0], q) for tag, q in ranges
                 if tag.split("-")[0] in LANGUAGES and q > 0]
    expected = "fi"
    if supported:
        best = max(q for _, q in supported)
        expected = next(tag for tag, q in supported if q == best)
    assert negotiate_language(header) == expected


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/labels")
    async def labels(lang: str = "fi") -> dict:
        if lang not in LANGUAGES:
            raise ValueError(lang)  # would be a 500: the rule must never pass anything else
        return {"lang": lang}

    app.add_middleware(LanguageMiddleware)
    return app


APP = _app()


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00")))
async def test_any_header_bytes_never_give_a_500(raw):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP),
                                 base_url="http://t") as client:
        r = await client.get("/labels", headers=[(b"accept-language", raw)])
    assert r.status_code == 200
    assert r.json()["lang"] == r.headers["content-language"]
    assert "accept-language" in r.headers["vary"].lower()
