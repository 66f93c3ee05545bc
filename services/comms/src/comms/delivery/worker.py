"""The delivery worker: claims due deliveries in the database, sends them, marks them.

Claiming (status -> sending, with a lease) and marking (sent / retrying / failed) are
separate commits, and PostgreSQL claims use FOR UPDATE SKIP LOCKED, so several replicas
share the queue without taking the same row. A graceful stop finishes the messages in
flight, marks them, and puts the untried rest of the batch back, so a restart sends nothing
twice; after a crash a row whose lease ran out is sent again with the same Message-ID /
X-Teke-Delivery-Id, so the receiver can drop the copy (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from email.policy import SMTP as SMTP_POLICY
from email.utils import parseaddr
from typing import Any

import aiosmtplib
import httpx
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, aliased

from comms.config import Settings
from comms.delivery import mail
from comms.delivery.queue import NEWSLETTER_BATCH, WAKE
from comms.delivery.signing import signed_headers
from comms.delivery.ssrf import UnsafeTarget, check_target
from comms.models import ContentItem, Delivery, WebhookSubscription
from shared.db import utcnow
from shared.jsonutil import dumps
from shared.logging import get_logger

log = get_logger(__name__)
OPEN = ("queued", "retrying", "sending")


@sa_event.listens_for(Session, "after_commit")
def _wake_worker(session: Session) -> None:
    if session.info.pop("comms_wake", False):
        for wake in WAKE:
            wake()


@sa_event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("comms_wake", None)


class ItemGone(Exception):
    pass


class SmtpPool:
    """A few long-lived SMTP connections, reused across batches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.free: list[aiosmtplib.SMTP] = []

    async def get(self) -> aiosmtplib.SMTP:
        while self.free:
            conn = self.free.pop()
            if conn.is_connected:
                return conn
        s = self.settings
        conn = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_seconds,
                               start_tls=s.smtp_starttls, use_tls=False)
        await conn.connect()
        if s.smtp_username:
            await conn.login(s.smtp_username, s.smtp_password or "")
        return conn

    def put(self, conn: aiosmtplib.SMTP) -> None:
        self.free.append(conn)

    async def close(self) -> None:
        for conn in self.free:
            with contextlib.suppress(Exception):
                await conn.quit()
        self.free.clear()


class DeliveryWorker:
    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: Settings,
                 is_postgres: bool) -> None:
        self.maker = maker
        self.settings = settings
        self.is_postgres = is_postgres
        self.smtp = SmtpPool(settings)
        self.http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds,
                                      follow_redirects=False)
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task] = []
        self._items: dict[str, dict[str, Any]] = {}
        self._templates: dict[str, bytes] = {}
        self.sender = parseaddr(settings.smtp_sender)[1]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._waker: Callable[[], None] = lambda: loop.call_soon_threadsafe(self._wake.set)
        WAKE.append(self._waker)
        NEWSLETTER_BATCH[0] = self.settings.newsletter_batch_size
        self._tasks = [asyncio.create_task(self._loop(("email",), self._send_mail_batch)),
                       asyncio.create_task(self._loop(("webhook", "social"), self._send_hook_batch))]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(ValueError):
            WAKE.remove(self._waker)
        # Let the batch in hand finish and be marked: that is what keeps a restart duplicate-free.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 20)
        await self.smtp.close()
        await self.http.aclose()

    async def _loop(self, channels: tuple[str, ...], send: Callable) -> None:
        while not self._stopping:
            try:
                rows = await self.claim(channels)
                if rows:
                    await send(rows)
                    continue
            except Exception as exc:  # keep the worker alive through DB or network trouble
                log.warning("delivery.loop_error", error=repr(exc), channels=channels)
                await asyncio.sleep(1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.delivery_poll_seconds)

    async def claim(self, channels: tuple[str, ...]) -> list[Delivery]:
        now = utcnow()
        due = or_(and_(Delivery.status.in_(("queued", "retrying")), Delivery.next_attempt_at <= now),
                  and_(Delivery.status == "sending", Delivery.claimed_until < now))
        q = select(Delivery).where(Delivery.channel.in_(channels), due)
        if "webhook" in channels:
            # In order per entity: only the oldest open delivery of a (target, entity) goes out.
            earlier = aliased(Delivery)
            q = q.where(~exists().where(
                earlier.webhook_id == Delivery.webhook_id, earlier.entity_key == Delivery.entity_key,
                earlier.seq < Delivery.seq, earlier.status.in_(OPEN)))
        q = q.order_by(Delivery.seq).limit(self.settings.delivery_batch_size)
        if self.is_postgres:
            q = q.with_for_update(skip_locked=True, of=Delivery)
        async with self.maker() as s, s.begin():
            rows = list((await s.scalars(q)).all())
            if rows:
                until = now + dt.timedelta(seconds=self.settings.delivery_lease_seconds)
                await s.execute(update(Delivery).where(Delivery.id.in_([r.id for r in rows]))
                                .values(status="sending", claimed_until=until,
                                        attempts=Delivery.attempts + 1)
                                .execution_options(synchronize_session=False))
        return rows

    async def _mark(self, sent: list[str], failed: list[tuple[Delivery, str, bool]],
                    backoff: list[float], released: list[Delivery] = ()) -> None:
        now = utcnow()
        async with self.maker() as s, s.begin():
            for row in released:
                # Not tried before a stop: back to the queue as it was, for the next run.
                await s.execute(update(Delivery).where(Delivery.id == row.id).values(
                    status="retrying" if row.status == "retrying" else "queued",
                    attempts=row.attempts, claimed_until=None))
            if sent:
                await s.execute(update(Delivery).where(Delivery.id.in_(sent))
                                .values(status="sent", sent_at=now, claimed_until=None))
            for row, error, permanent in failed:
                attempts = row.attempts + 1  # the row was read before the claim counted it
                final = permanent or attempts > len(backoff)
                delay = backoff[min(attempts - 1, len(backoff) - 1)] if backoff else 0
                await s.execute(update(Delivery).where(Delivery.id == row.id).values(
                    status="failed" if final else "retrying", last_error=error[:2000],
                    claimed_until=None, next_attempt_at=now + dt.timedelta(seconds=delay)))

    # --- e-mail -------------------------------------------------------------------------

    async def _item(self, item_id: str) -> dict[str, Any] | None:
        if item_id not in self._items:
            async with self.maker() as s:
                it = await s.get(ContentItem, item_id)
            if it is None:
                return None
            if len(self._items) > 100:
                self._items.clear()
                self._templates.clear()
            self._items[item_id] = {"title": it.title, "body": it.body, "body_html": it.body_html}
        return self._items[item_id]

    async def _message(self, row: Delivery) -> bytes:
        p = row.payload
        if row.purpose == "newsletter":
            # Rendered once per item and language; each copy only fills in the recipient.
            key = f"{p['item_id']}:{p['language']}"
            tpl = self._templates.get(key)
            if tpl is None:
                item = await self._item(p["item_id"])
                if item is None:
                    raise ItemGone("the item is gone")
                subject, text, html = mail.newsletter_parts(item, p["language"])
                tpl = self._templates[key] = mail.template(self.settings.smtp_sender, subject, text, html)
            return mail.fill(tpl, row.recipient, row.id, p["unsubscribe_url"])
        msg = mail.build(self.settings.smtp_sender, row.id, row.recipient, p["subject"], p["text"],
                         p.get("html"), p.get("unsubscribe_url"))
        return msg.as_bytes(policy=SMTP_POLICY)

    async def _send_mail_batch(self, rows: list[Delivery]) -> None:
        n = self.settings.delivery_concurrency
        chunks = [rows[i::n] for i in range(n) if rows[i::n]]
        backoff = self.settings.email_backoff_seconds
        pending: list[str] = []  # accepted by the SMTP server, not yet marked sent
        failed: list[tuple[Delivery, str, bool]] = []
        released: list[Delivery] = []
        flusher: list[asyncio.Task] = []

        async def flush() -> None:
            # Group commit: whatever was sent while the previous mark committed goes in the next.
            while pending:
                taken = pending[:]
                pending.clear()
                try:
                    await self._mark(taken, [], backoff)
                except BaseException:
                    pending[:0] = taken  # the final mark below tries them again
                    raise

        def marking() -> asyncio.Task:
            if not flusher or flusher[0].done():
                flusher[:] = [asyncio.create_task(flush())]
            return flusher[0]

        async def run(chunk: list[Delivery]) -> None:
            conn = None
            for row in chunk:
                if self._stopping:
                    released.append(row)
                    continue
                try:
                    msg = await self._message(row)
                    if conn is None:
                        conn = await self.smtp.get()
                    opts = [] if msg.isascii() else ["BODY=8BITMIME"]
                    await conn.sendmail(self.sender, [row.recipient], msg, mail_options=opts)
                    # Marked as it goes, not at the end of the batch: after a crash (SIGKILL)
                    # only mails sent since the last mark commit go out again (same
                    # Message-ID). A commit per connection's worth of mails (fewer commits),
                    # and senders wait when the backlog reaches 2 per connection.
                    pending.append(row.id)
                    if len(pending) >= n:
                        task = marking()
                        if len(pending) >= 2 * n:
                            await asyncio.wait({task})
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    failed.append((row, f"refused: {exc}", True))
                except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPException, OSError) as exc:
                    code = getattr(exc, "code", 0) or 0
                    failed.append((row, f"{type(exc).__name__}: {exc}", 500 <= code < 600))
                    if conn is not None and not conn.is_connected:
                        conn = None
                except ItemGone as exc:
                    failed.append((row, str(exc), True))
            if conn is not None:
                self.smtp.put(conn)

        try:
            await asyncio.gather(*(run(c) for c in chunks))
        finally:
            if flusher:
                await asyncio.wait(flusher)
                if not flusher[0].cancelled() and flusher[0].exception() is not None:
                    log.warning("delivery.mark_error", error=repr(flusher[0].exception()))
            await self._mark(pending, failed, backoff, released)

    # --- webhooks (regional systems, publishing tools) ----------------------------------

    async def _send_hook_batch(self, rows: list[Delivery]) -> None:
        hooks: dict[str, WebhookSubscription | None] = {}
        async with self.maker() as s:
            for wid in {r.webhook_id for r in rows if r.webhook_id}:
                hooks[wid] = await s.get(WebhookSubscription, wid)
        sem = asyncio.Semaphore(self.settings.delivery_concurrency * 4)
        sent: list[str] = []
        failed: list[tuple[Delivery, str, bool]] = []
        released: list[Delivery] = []

        async def one(row: Delivery) -> None:
            hook = hooks.get(row.webhook_id or "")
            if hook is None:
                failed.append((row, "the webhook subscription is gone", True))
                return
            body = dumps({"delivery_id": row.id, "purpose": row.purpose, **row.payload})
            event_type = (row.payload.get("event") or {}).get("type", row.purpose)
            async with sem:
                if self._stopping:
                    released.append(row)
                    return
                try:
                    await check_target(hook.url, self.settings.webhook_allow_networks)
                    r = await self.http.post(hook.url, content=body,
                                             headers=signed_headers(hook.secret, body, row.id, event_type))
                    if 200 <= r.status_code < 300:
                        sent.append(row.id)
                    else:
                        failed.append((row, f"HTTP {r.status_code}: {r.text[:300]}", False))
                except UnsafeTarget as exc:
                    failed.append((row, f"refused target: {exc}", True))
                except httpx.HTTPError as exc:
                    failed.append((row, f"{type(exc).__name__}: {exc}", False))

        await asyncio.gather(*(one(r) for r in rows))
        await self._mark(sent, failed, self.settings.webhook_backoff_seconds, released)
