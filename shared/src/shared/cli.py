"""The command line every service shares: migrate, make a revision, check, rebuild, republish."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

from alembic import command

from shared.events.consumer import EventApplier, rebuild_projections
from shared.events.nats_conn import NatsConnection
from shared.events.outbox import Relay
from shared.logging import configure_logging
from shared.migrate import alembic_config, upgrade
from shared.service import ServiceSpec

Command = Callable[[argparse.Namespace], Awaitable[None] | None]
# name -> (help, command[, a function adding the command's own arguments to its parser])
Extra = dict[str, tuple[str, Command] | tuple[str, Command, Callable[[argparse.ArgumentParser], None]]]


def run_cli(spec: ServiceSpec, migrations_dir: Path, argv: list[str] | None = None,
            extra: Extra | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {spec.name}.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest revision")
    rev = sub.add_parser("revision", help="autogenerate a migration from the models")
    rev.add_argument("-m", "--message", required=True)
    sub.add_parser("check", help="fail if the models and the migrations disagree")
    sub.add_parser("rebuild-projections", help="wipe projections and replay the stream")
    rep = sub.add_parser("republish", help="publish outbox rows again (after a NATS crash)")
    rep.add_argument("--since-minutes", type=float, default=10.0)
    for name, (help_text, _, *add_arguments) in (extra or {}).items():
        command_parser = sub.add_parser(name, help=help_text)
        for add in add_arguments:
            add(command_parser)
    args = parser.parse_args(argv)
    settings = spec.settings_factory()
    configure_logging(f"{spec.name}-cli", settings.log_level, settings.log_json)
    cfg = alembic_config(migrations_dir, settings.database_url)

    if args.cmd == "migrate":
        upgrade(migrations_dir, settings.database_url)
    elif args.cmd == "revision":
        command.revision(cfg, message=args.message, autogenerate=True)
    elif args.cmd == "check":
        command.check(cfg)
    elif args.cmd == "rebuild-projections":
        n = asyncio.run(_rebuild(spec, settings))
        print(f"replayed {n} events into {spec.name}'s projections")
    elif args.cmd == "republish":
        n = asyncio.run(_republish(spec, settings, args.since_minutes))
        print(f"{n} events marked for re-publishing")
    else:
        result = extra[args.cmd][1](args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)


async def _rebuild(spec: ServiceSpec, settings) -> int:
    from shared.service import Runtime

    runtime = Runtime(spec, settings)
    if runtime.applier is None:
        raise SystemExit(f"{spec.name} keeps no projections")
    nats = runtime.nats
    await nats.start()
    total = 0
    try:
        applier: EventApplier = runtime.applier
        for i, stream in enumerate(spec.consumes):
            total += await rebuild_projections(nats=nats, stream=stream, applier=applier,
                                               reset=i == 0,
                                               replicas=settings.nats_stream_replicas)
    finally:
        await nats.close()
        await runtime.engine.dispose()
    return total


async def _republish(spec: ServiceSpec, settings, minutes: float) -> int:
    from shared.db import create_engine, make_sessionmaker, utcnow

    engine = create_engine(settings.database_url)
    relay = Relay(make_sessionmaker(engine), spec.outbox_table,
                  NatsConnection(settings.nats_url, "republish"))
    try:
        return await relay.republish_since(utcnow() - dt.timedelta(minutes=minutes))
    finally:
        await engine.dispose()
