"""Keeps the national overlap report fresh: every REFRESH_SECONDS, a rebuild if any project or
workplace changed since the last one (the CLI `overlaps` and POST /overlaps/rebuild do the same
at once). The first tick only loads the similarity index (so the first GET /projects/{id}/similar
does not pay for it); the first rebuild waits one period."""

from __future__ import annotations

from typing import Any

from registry.overlap import build
from shared.background import PeriodicTask

REFRESH_SECONDS = 300.0


def refresher(state: dict[str, Any]) -> PeriodicTask:
    started = False

    async def tick() -> float | None:
        nonlocal started
        if not started:
            started = True
            await build.warm(state["sessionmaker"])
            return REFRESH_SECONDS
        await build.rebuild_if_stale(state["sessionmaker"], state["outbox"])
        return None

    return PeriodicTask("registry.overlap_refresh", tick, REFRESH_SECONDS)


async def cli_rebuild(args: Any = None) -> None:  # noqa: ARG001
    """`python -m registry.cli overlaps`: rebuild the report now (if anything changed)."""
    from registry.config import Settings
    from registry.main import spec
    from shared.db import create_engine, make_sessionmaker

    engine = create_engine(Settings().database_url)
    try:
        await build.rebuild_if_stale(make_sessionmaker(engine), spec.outbox())
    finally:
        await engine.dispose()
    print("overlap report rebuilt")  # noqa: T201
