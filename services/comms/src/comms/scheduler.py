"""Background work in the service's lifespan: publish due items, hand over due posts, deliver."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from comms.config import Settings
from comms.content.service import publish_due
from comms.social.router import hand_over_due
from shared.events.outbox import Outbox
from shared.logging import get_logger

log = get_logger(__name__)


class Scheduler:
    """Reads due work from the database, so nothing is lost across restarts."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], outbox: Outbox, settings: Settings) -> None:
        self.maker = maker
        self.outbox = outbox
        self.settings = settings
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)

    async def tick(self) -> tuple[int, int]:
        async with self.maker() as s, s.begin():
            items = await publish_due(s, self.outbox, self.settings.public_base_url)
        async with self.maker() as s, s.begin():
            posts = await hand_over_due(s)
        return items, posts

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                items, posts = await self.tick()
                if items or posts:
                    log.info("scheduler.due", items=items, posts=posts)
            except Exception as exc:
                log.warning("scheduler.error", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.scheduler_poll_seconds)
