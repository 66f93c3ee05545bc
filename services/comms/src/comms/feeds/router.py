"""Public feeds: RSS 2.0 and Atom of published items per language (and theme); iCalendar of events."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from comms.feeds import queries
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses

router = APIRouter(prefix="/feeds", tags=["feeds"])
TITLES = {"fi": "TEKE – työelämän kehittäminen", "sv": "TEKE – utveckling av arbetslivet",
          "en": "TEKE – development of working life"}


# response_class=Response: the documents are XML or iCalendar text, never JSON, so the
# contract names only their own media types.
@router.get("/events.ics", summary="Calendar of events", response_class=Response,
            responses={200: {"description": "iCalendar (RFC 5545)",
                             "content": {"text/calendar": {"schema": {"type": "string"}}}},
                       **problem_responses(422)})
async def events_ics(request: Request, session: SessionDep,
                     language: Annotated[str | None, Query(
                         max_length=limits.CODE, pattern="^(fi|sv|en)$",
                         description="The older name of `lang`; wins when both are given.")] = None,
                     lang: Annotated[str, Query(max_length=limits.CODE,
                                                pattern="^(fi|sv|en)$")] = "fi") -> Response:
    """All open events as iCalendar (times in UTC), titles in `lang` (or Accept-Language)."""
    language = language or lang
    # Imported here, not at start: the feeds are rarely read, and feedgen (lxml, dateutil) and
    # icalendar held ~7 MB of every comms process's idle memory (bench/RESULTS-idle-rss.md).
    from icalendar import Calendar
    from icalendar import Event as IcsEvent

    base = request.state.settings.public_base_url
    cal = Calendar()
    cal.add("prodid", "-//TEKE//comms//FI")
    cal.add("version", "2.0")
    cal.add("x-wr-timezone", "Europe/Helsinki")
    for ev in await queries.open_events(session):
        e = IcsEvent()
        e.add("uid", f"{ev.id}@teke.fi")
        e.add("summary", ev.title.get(language) or ev.title["fi"])
        e.add("dtstart", ev.starts_at)
        e.add("dtend", ev.ends_at)
        e.add("dtstamp", ev.created_at)
        if ev.place:
            e.add("location", ev.place)
        e.add("url", ev.online_url or f"{base}/api/v1/events/{ev.id}")
        desc = (ev.description or {}).get(language) or (ev.description or {}).get("fi")
        if desc:
            e.add("description", desc)
        cal.add_component(e)
    return Response(cal.to_ical(), media_type="text/calendar; charset=utf-8",
                    headers={"Content-Language": language})


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml(text: str) -> str:
    """Feeds are XML: control characters cannot appear in it, so they are dropped."""
    return _CONTROL.sub("", text)


@router.get("/{language}.{fmt}", summary="Feed of published items", response_class=Response,
            responses={200: {"description": "RSS 2.0 (`rss`) or Atom (`atom`); as text/xml when the "
                                             "request accepts only that",
                             "content": {"application/rss+xml": {"schema": {"type": "string"}},
                                         "application/atom+xml": {"schema": {"type": "string"}},
                                         "text/xml": {"schema": {"type": "string"}}}},
                       **problem_responses(422)})
async def item_feed(
    request: Request, session: SessionDep,
    language: Annotated[str, Path(max_length=limits.CODE, pattern="^(fi|sv|en)$")],
    fmt: Annotated[str, Path(max_length=limits.CODE, pattern="^(rss|atom)$")],
    theme: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")] = None,
) -> Response:
    """Newest 50 published items that have a title in the language."""
    base = request.state.settings.public_base_url
    rows = await queries.newest_published(session)
    rows = [r for r in rows if r.title.get(language) and (not theme or theme in r.themes)][:50]
    from feedgen.feed import FeedGenerator  # on demand, as icalendar above

    fg = FeedGenerator()
    fg.id(f"{base}/api/v1/feeds/{language}.{fmt}" + (f"?theme={theme}" if theme else ""))
    fg.title(TITLES[language] + (f" – {theme}" if theme else ""))
    fg.link(href=f"{base}/api/v1/feeds/{language}.{fmt}", rel="self")
    fg.link(href=f"{base}/", rel="alternate")
    fg.description(TITLES[language])
    fg.language(language)
    for r in reversed(rows):
        fe = fg.add_entry()
        url = f"{base}/api/v1/content/{r.id}"
        fe.id(url)
        fe.guid(url, permalink=True)
        fe.title(_xml(r.title[language]))
        fe.link(href=url)
        fe.published(r.published_at)
        fe.updated(r.published_at)
        fe.content(_xml(r.body_html.get(language) or ""), type="CDATA" if fmt == "rss" else "html")
        fe.summary(_xml(r.title[language]))
        fe.category([{"term": _xml(k)} for k in [r.kind, *r.themes]])
    body = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    # Some readers (and clients generated from the contract) ask for plain XML.
    if _wants_plain_xml(request.headers.get("accept", "")):
        return Response(body, media_type="text/xml; charset=utf-8")
    return Response(body, media_type=f"application/{fmt}+xml; charset=utf-8")


def _wants_plain_xml(accept: str) -> bool:
    types = {part.split(";")[0].strip().lower() for part in accept[:1000].split(",")}
    return bool(types) and types <= {"text/xml", "application/xml"}
