"""Events and registrations: capacity, a waiting list that moves up, confirmation mails."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.common import digest, local, token
from comms.config import Settings
from comms.delivery import queue
from comms.gatherings.schemas import EventCreate, RegisterIn
from comms.models import Event, Registration
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.pagination import count, paginate

MAILS = {
    "confirmed": {"fi": "Ilmoittautuminen vahvistettu: {t}", "sv": "Anmälan bekräftad: {t}",
                  "en": "Registration confirmed: {t}"},
    "waitlisted": {"fi": "Olet jonossa: {t}", "sv": "Du står på väntelistan: {t}",
                   "en": "You are on the waiting list: {t}"},
    "promoted": {"fi": "Pääsit mukaan: {t}", "sv": "Du fick en plats: {t}", "en": "You got a place: {t}"},
}


async def counts(session: AsyncSession, event_id: str) -> dict[str, int]:
    rows = (await session.execute(select(Registration.status, func.count()).where(
        Registration.event_id == event_id).group_by(Registration.status))).all()
    return dict(rows)


async def get(session: AsyncSession, event_id: str, *, lock: bool = False) -> Event:
    q = select(Event).where(Event.id == event_id)
    if lock and session.bind.dialect.name == "postgresql":
        q = q.with_for_update()
    ev = await session.scalar(q)
    if ev is None:
        raise NotFound(f"no event {event_id}")
    return ev


async def create(session: AsyncSession, actor: str, data: EventCreate) -> Event:
    values = data.model_dump(exclude={"title", "description", "online_url"})
    ev = Event(**values, title=data.title.model_dump(exclude_none=True),
               description=data.description.model_dump(exclude_none=True) if data.description else {},
               online_url=str(data.online_url) if data.online_url else None, created_by=actor)
    session.add(ev)
    await session.flush()
    return ev


async def _mail(session: AsyncSession, settings: Settings, ev: Event, reg: Registration,
                what: str, cancel: str | None) -> None:
    lang = reg.language
    title = ev.title.get(lang) or ev.title["fi"]
    where = ev.place or ev.online_url
    text = f"{title}\n{local(ev.starts_at)} (Europe/Helsinki)\n{where}\n"
    if cancel:
        base = settings.public_base_url
        text += f"\nCancel / Peru: {base}/api/v1/events/registrations/cancel?token={cancel}\n"
    await queue.mail(session, f"registration_{what}", reg.email or "", MAILS[what][lang].format(t=title),
                     text)


async def register(session: AsyncSession, settings: Settings, event_id: str,
                   data: RegisterIn) -> tuple[Registration, str, int | None]:
    ev = await get(session, event_id, lock=True)
    if ev.status != "open" or ev.starts_at <= utcnow():
        raise Conflict("registration to this event is closed")
    email = data.email.strip().lower()
    dup = await session.scalar(select(Registration.id).where(
        Registration.event_id == ev.id, Registration.email == email,
        Registration.status != "cancelled"))
    if dup:
        raise Conflict("this address is already registered to the event")
    c = await counts(session, ev.id)
    status = "confirmed" if c.get("confirmed", 0) < ev.capacity else "waitlisted"
    seq = (await session.scalar(select(func.max(Registration.seq)).where(
        Registration.event_id == ev.id)) or 0) + 1
    cancel = token()
    reg = Registration(event_id=ev.id, name=data.name, email=email, language=data.language,
                       status=status, seq=seq, cancel_token_hash=digest(cancel))
    session.add(reg)
    await session.flush()
    await _mail(session, settings, ev, reg, status, cancel)
    position = c.get("waitlisted", 0) + 1 if status == "waitlisted" else None
    return reg, cancel, position


async def cancel(session: AsyncSession, settings: Settings, cancel_token: str) -> Registration:
    reg = await session.scalar(select(Registration).where(
        Registration.cancel_token_hash == digest(cancel_token)))
    if reg is None:
        raise NotFound("this cancellation link is not valid")
    if reg.status == "cancelled":
        raise Unprocessable("this registration is already cancelled")
    ev = await get(session, reg.event_id, lock=True)
    was = reg.status
    reg.status = "cancelled"
    reg.updated_at = utcnow()
    await session.flush()
    if was == "confirmed":
        # The first on the waiting list moves up and is told so.
        nxt = await session.scalar(select(Registration).where(
            Registration.event_id == ev.id, Registration.status == "waitlisted")
            .order_by(Registration.seq).limit(1))
        if nxt is not None:
            nxt.status = "confirmed"
            nxt.updated_at = utcnow()
            await session.flush()
            if nxt.email:
                await _mail(session, settings, ev, nxt, "promoted", None)
    return reg


async def list_events(session: AsyncSession, region: str | None, limit: int,
                      cursor: str | None) -> tuple[list[Event], int, str | None]:
    """Events by start time, optionally in one region, a page at a time."""
    q = select(Event)
    if region:
        q = q.where(Event.region_code == region)
    rows, nxt = await paginate(session, q, [Event.starts_at, Event.id], cursor, limit)
    return rows, await count(session, q), nxt
