"""Subscribers: double opt-in, one-click unsubscribe, erasure; personal data, never public."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from comms.common import digest, token
from comms.config import Settings
from comms.delivery import queue
from comms.models import Delivery, ErasureCount, RateMark, Registration, Subscriber
from shared.db import utcnow
from shared.errors import NotFound, Unprocessable

CONFIRM_TEXT = {
    "fi": ("Vahvista tilauksesi", "Vahvista TEKE-uutiskirjeen tilaus avaamalla linkki:\n{url}\n\n"
           "Jos et tilannut, voit jättää viestin huomiotta."),
    "sv": ("Bekräfta din prenumeration", "Bekräfta prenumerationen genom att öppna länken:\n{url}\n"),
    "en": ("Confirm your subscription", "Confirm your TEKE subscription by opening this link:\n{url}\n\n"
           "If you did not subscribe, ignore this message."),
}


class TooMany(Exception):
    pass


async def _limit(session: AsyncSession, key: str, per_hour: int) -> None:
    since = utcnow() - dt.timedelta(hours=1)
    n = await session.scalar(select(func.count()).select_from(RateMark).where(
        RateMark.key == key, RateMark.at >= since))
    if (n or 0) >= per_hour:
        raise TooMany(key)
    session.add(RateMark(key=key))


async def subscribe(session: AsyncSession, settings: Settings, email: str, language: str,
                    themes: list[str], regions: list[str], target_groups: list[str],
                    client: str) -> None:
    """Record the wish and mail a confirmation link; the same answer whether or not known."""
    email = email.strip().lower()
    await _limit(session, "client:" + digest(client)[:40], settings.confirm_mails_per_client_hour)
    await _limit(session, "addr:" + digest(email)[:40], settings.confirm_mails_per_address_hour)
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == email))
    confirm = token()
    if sub is None:
        sub = Subscriber(email=email, language=language, themes=themes, regions=regions,
                         target_groups=target_groups, status="pending", unsubscribe_token=token())
        session.add(sub)
    else:
        # Changes take effect only when confirmed from the mailbox (nobody edits another's wishes).
        sub.language = language
        if sub.status != "confirmed":
            sub.status = "pending"
            sub.themes, sub.regions, sub.target_groups = themes, regions, target_groups
    sub.confirm_token_hash = digest(confirm)
    await session.flush()
    url = f"{settings.public_base_url}/api/v1/subscriptions/confirm?token={confirm}"
    subject, text = CONFIRM_TEXT[language]
    await queue.mail(session, "confirm", email, subject, text.format(url=url), subscriber_id=sub.id)


async def confirm(session: AsyncSession, confirm_token: str) -> Subscriber:
    sub = await session.scalar(select(Subscriber).where(
        Subscriber.confirm_token_hash == digest(confirm_token)))
    if sub is None:
        raise NotFound("this confirmation link is not valid (used already, or replaced by a newer one)")
    sub.status = "confirmed"
    sub.consent_at = utcnow()
    sub.confirm_token_hash = None
    sub.unsubscribed_at = None
    await session.flush()
    return sub


async def unsubscribe(session: AsyncSession, unsubscribe_token: str) -> Subscriber:
    sub = await session.scalar(select(Subscriber).where(Subscriber.unsubscribe_token == unsubscribe_token))
    if sub is None:
        raise NotFound("this unsubscribe link is not valid")
    sub.status = "unsubscribed"
    sub.unsubscribed_at = utcnow()
    # Nothing more goes out to them, even mails already queued.
    await session.execute(update(Delivery).where(
        Delivery.subscriber_id == sub.id, Delivery.status.in_(("queued", "retrying")))
        .values(status="failed", last_error="unsubscribed"))
    await session.flush()
    return sub


async def erase(session: AsyncSession, email: str) -> dict[str, int]:
    """Remove the person everywhere in comms; keep only anonymous counts."""
    email = email.strip().lower()
    if "@" not in email:
        raise Unprocessable("give an e-mail address", errors=[
            {"field": "body/email", "type": "value_error", "message": "not an e-mail address"}])
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == email))
    counts = {"subscribers": 0, "confirmed_subscribers": 0, "registrations": 0, "deliveries": 0}
    ids = []
    if sub is not None:
        ids.append(sub.id)
        counts["subscribers"] = 1
        counts["confirmed_subscribers"] = int(sub.status == "confirmed")
    # Registrations stay as anonymous rows so participant counts do not change.
    regs = await session.execute(update(Registration).where(Registration.email == email)
                                 .values(email=None, name=None))
    counts["registrations"] = regs.rowcount or 0
    cond = Delivery.recipient == email
    if ids:
        cond = cond | Delivery.subscriber_id.in_(ids)
    res = await session.execute(update(Delivery).where(cond).values(
        recipient="erased", subscriber_id=None, payload={"erased": True}))
    counts["deliveries"] = res.rowcount or 0
    # Queued mail to an erased person is dropped.
    await session.execute(update(Delivery).where(
        Delivery.recipient == "erased", Delivery.status.in_(("queued", "retrying")))
        .values(status="failed", last_error="erased"))
    if sub is not None:
        await session.delete(sub)
    await session.execute(delete(RateMark).where(RateMark.key == "addr:" + digest(email)[:40]))
    session.add(ErasureCount(**counts))
    await session.flush()
    return counts


async def stats(session: AsyncSession) -> dict[str, object]:
    """Counts only: subscribers by status, and how many were erased."""
    rows = (await session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status))).all()
    erased = await session.scalar(select(func.coalesce(func.sum(ErasureCount.subscribers), 0)))
    return {"by_status": dict(rows), "erased": int(erased or 0)}
