"""Background task: survey rounds close themselves at their close time.

The due rounds are read from the database on every pass, so a restart loses nothing, and
each is closed by a compare-and-set UPDATE, so several replicas running this close each
round (and emit its event) exactly once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from indicators.surveys import queries, service
from shared.db import utcnow
from shared.events.outbox import Outbox
from shared.logging import get_logger
from shared.uow import UnitOfWork

log = get_logger(__name__)


class RoundCloser:
    """One pass a tick; run by a shared.background.PeriodicTask in the service's lifespan."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], outbox: Outbox, k: int,
                 poll_seconds: float) -> None:
        self.maker, self.outbox, self.k, self.poll = maker, outbox, k, poll_seconds

    async def tick(self) -> float:
        """Close what is due; return how long to sleep (until the next close, at most poll)."""
        async with self.maker() as s, s.begin():
            closed = await service.close_due(UnitOfWork(s, self.outbox), self.k)
        if closed:
            log.info("survey_rounds.closed", rounds=closed)
            return 0.0  # there may be more than one batch due
        async with self.maker() as s:
            nxt = await queries.next_close(s)
        if nxt is None:
            return self.poll
        return min(self.poll, max(0.01, (nxt - utcnow()).total_seconds()))
