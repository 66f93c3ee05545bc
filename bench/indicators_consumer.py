"""indicators_consumer: CPU per registry project event applied by the indicators consumer.

In process, on a fresh SQLite database migrated by Alembic: the service's own EventApplier
and handler registry (inbox check and insert, the shared project projection, indicators'
project_extra, one commit per event, exactly as the consumer runs them) apply N
`project.created` events and then N `project.updated` events (a newer version of each).
CPU per event = process CPU time (main thread + aiosqlite's thread) / events; wall clock is
not used. No NATS: this isolates the handlers the event-lag benchmark's consumer runs.
Same-run baseline: the previous project handler (a second ProjectState validation, then a
SELECT and an INSERT or UPDATE of project_extra), copied below, on its own fresh database;
baseline and current alternate round by round, and the ratio is taken per round.
Several rounds, median [min-max]; other load recorded per round.
"""

from __future__ import annotations

import time
import uuid

from bench.common import LoadMeter, spread, table, workdir

N = 1000
ROUNDS = 5


def _baseline_handlers():
    """The handler registry with the project handler as it was before (for the ratio)."""
    from sqlalchemy import select, update

    from indicators.events import handlers as h
    from shared.contracts import registry as rc
    from shared.events.consumer import HandlerRegistry

    async def old_upsert(session, table, row_id, version, values):
        current = await session.scalar(select(table.c.version).where(table.c.id == row_id))
        if current is None:
            await session.execute(table.insert().values(id=row_id, version=version, **values))
        elif version > current:
            await session.execute(update(table).where(table.c.id == row_id)
                                  .values(version=version, **values))

    async def old_on_project_state(session, env):
        await h.handlers.chain(rc.PROJECT_CREATED)[0](session, env)   # the shared projection
        s = rc.ProjectState.model_validate(env["data"])
        await old_upsert(session, h.project_extra, s.id, s.version, {
            "theme_id": s.theme_id, "programme_id": s.programme_id,
            "specific_objective": s.specific_objective, "archived": s.archived})

    reg = HandlerRegistry()
    reg.handlers.update(h.handlers.handlers)
    reg.handlers[rc.PROJECT_CREATED] = old_on_project_state
    reg.handlers[rc.PROJECT_UPDATED] = old_on_project_state
    return reg


def _state(pid: str, version: int) -> dict:
    return {"id": pid, "version": version, "code": "C-" + pid[:8], "name": {"fi": "Hanke"},
            "status": "active", "start_date": "2024-01-01", "end_date": "2026-12-31",
            "organisation_id": str(uuid.uuid4()), "funder_id": str(uuid.uuid4()),
            "region_codes": ["06", "11"], "theme_id": str(uuid.uuid4()),
            "programme_id": str(uuid.uuid4()), "specific_objective": "ESO4.7",
            "partner_ids": [], "target_groups": [], "sub_themes": [], "published": True,
            "archived": False}


async def _round(url: str, handlers) -> tuple[float, float]:
    from indicators.models import dead_letter_table, inbox_table
    from shared.contracts import registry as rc
    from shared.db import create_engine, make_sessionmaker
    from shared.events.consumer import EventApplier
    from shared.events.envelope import make_envelope

    engine = create_engine(url)
    applier = EventApplier(make_sessionmaker(engine), inbox_table, dead_letter_table, handlers)
    ids = [str(uuid.uuid4()) for _ in range(N)]
    created = [make_envelope(source="/teke/registry", event_type=rc.PROJECT_CREATED, subject=p,
                             data=_state(p, 1)) for p in ids]
    updated = [make_envelope(source="/teke/registry", event_type=rc.PROJECT_UPDATED, subject=p,
                             data={**_state(p, 2), "changed_fields": ["name"]}) for p in ids]
    await applier.apply(make_envelope(source="/teke/registry", event_type=rc.PROJECT_CREATED,
                                      subject="warm", data=_state(str(uuid.uuid4()), 1)))
    out = []
    for envs in (created, updated):
        c0 = time.process_time()
        for env in envs:
            assert await applier.apply(env)
        out.append((time.process_time() - c0) / N * 1000)
    await engine.dispose()
    return out[0], out[1]


def main(dbs: list[str] | None = None) -> None:  # noqa: ARG001 - SQLite only
    from bench.common import run
    from deploy.embedded import Stack
    from indicators.events.handlers import handlers

    print(f"indicators_consumer: {N} project.created then {N} project.updated per round, SQLite")
    variants = {"baseline": _baseline_handlers(), "current": handlers}
    res: dict[str, list] = {"baseline": [], "current": []}
    for i in range(ROUNDS):
        order = ["baseline", "current"] if i % 2 == 0 else ["current", "baseline"]
        for name in order:
            with workdir("consumer") as tmp:
                stack = Stack(tmp, nats_url="nats://127.0.0.1:1")
                stack.run_cli("indicators", "migrate")
                meter = LoadMeter()
                c, u = run(_round(stack.db_urls["indicators"], variants[name]))
                load = meter.read()
                res[name].append((c, u, load["foreign"], load["steal"]))
    rows = []
    for k, event in ((0, "project.created"), (1, "project.updated")):
        for name in ("baseline", "current"):
            rows.append([event, name, spread([r[k] for r in res[name]], "{:.3f}"),
                         spread([r[2] for r in res[name]], "{:.0f}"),
                         spread([r[3] for r in res[name]], "{:.0f}")])
        ratios = [c[k] / b[k] for b, c in zip(res["baseline"], res["current"], strict=True)]
        rows.append([event, "current / baseline (paired)", spread(ratios, "{:.2f}"), "", ""])
    print(table(["event", "handler", "CPU ms/event", "other load %", "steal %"], rows))


if __name__ == "__main__":
    main()
