"""Background work in the service's lifespan: publish due items, hand over due posts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from comms.config import Settings
from comms.content.service import publish_due
from comms.social.service import hand_over_due
from shared.events.outbox import Outbox
from shared.logging import get_logger
from shared.uow import UnitOfWork

log = get_logger(__name__)


class Scheduler:
    """Reads due work from the database, so nothing is lost across restarts.

    One pass a tick; run by a shared.background.PeriodicTask every `scheduler_poll_seconds`.
    """

    def __init__(self, maker: async_sessionmaker[AsyncSession], outbox: Outbox, settings: Settings) -> None:
        self.maker = maker
        self.outbox = outbox
        self.settings = settings

    async def tick(self) -> None:
        async with self.maker() as s, s.begin():
            items = await publish_due(UnitOfWork(s, self.outbox), self.settings.public_base_url,
                                      self.settings.ministry_addresses)
        async with self.maker() as s, s.begin():
            posts = await hand_over_due(s)
        if items or posts:
            log.info("scheduler.due", items=items, posts=posts)
