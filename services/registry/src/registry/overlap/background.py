"""Keeps the national overlap report fresh: every REFRESH_SECONDS, a rebuild if any project or
workplace changed since the last one (the CLI `overlaps` does the same at once). POST
/overlaps/rebuild asks for a build here, behind the request: a full build at national size takes
minutes, far past any request's time. The first tick only loads the similarity index (so the
first GET /projects/{id}/similar does not pay for it); the first rebuild waits one period."""

from __future__ import annotations

from typing import Any

from registry.overlap import build
from shared.background import PeriodicTask
from shared.uow import UnitOfWork

REFRESH_SECONDS = 300.0

# Asked-for builds in this process: None, "incremental" or "full" (a full one covers both).
_asked: dict[str, str | None] = {"build": None}
_tasks: list[PeriodicTask] = []


def ask(incremental: bool) -> bool:
    """Asks this process's refresher for a build now; False if none runs here."""
    if _asked["build"] != "full":
        _asked["build"] = "incremental" if incremental else "full"
    for task in _tasks:
        task.wake()
    return bool(_tasks)


def refresher(state: dict[str, Any]) -> PeriodicTask:
    started = False

    async def tick() -> float | None:
        nonlocal started
        if not started:
            started = True
            await build.warm(state["sessionmaker"])
            if _asked["build"] is None:
                return REFRESH_SECONDS
        asked, _asked["build"] = _asked["build"], None
        if asked is None:
            await build.rebuild_if_stale(state["sessionmaker"], state["outbox"])
        else:
            async with state["sessionmaker"]() as session:
                try:
                    await build.rebuild(UnitOfWork(session, state["outbox"]),
                                        incremental=asked == "incremental", release=True)
                except build.Superseded:  # another replica's build landed first: it stands
                    await session.rollback()
                    return None
                await session.commit()
        return None

    task = PeriodicTask("registry.overlap_refresh", tick, REFRESH_SECONDS)
    _tasks.append(task)
    return task


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
