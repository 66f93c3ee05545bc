"""`python -m indicators.cli seed-goals`: the goals of the seed theme, from a data file.

The file (default `seed_goals.json` beside this module; `--file` names another) holds the
theme's code, custom indicators the goals need (added to the catalogue when missing), and the
goals with their indicators. The theme card sets no figures: every baseline and target in the
shipped file is a placeholder, marked `unverified`, for the coordination project to replace.

The theme is named by `--theme-id` (the registry's id; `deploy/embedded.py` looks it up by code
through the API) or found by its code in the themes the registry has announced. Loading is
idempotent: a goal whose code the theme has is left alone, so edits are never overwritten.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from indicators.catalogue import service as catalogue_service
from indicators.catalogue.schemas import DefinitionIn
from indicators.goals import queries
from indicators.goals import service as goal_service
from indicators.goals.schemas import GoalIn, GoalIndicatorIn
from indicators.models import IndicatorDefinition
from shared.identity import Identity
from shared.uow import UnitOfWork

DEFAULT_FILE = Path(__file__).with_name("seed_goals.json")
SEED_ACTOR = Identity(sub="seed-goals", kind="user", roles=("admin",))


def read(path: Path = DEFAULT_FILE) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def theme_code(path: Path = DEFAULT_FILE) -> str:
    return read(path)["theme_code"]


async def load(maker, outbox, data: dict[str, Any], theme_id: str | None = None) -> dict[str, int]:
    """Add the file's missing custom indicators and goals; counts of what was added."""
    counts = {"indicators": 0, "goals": 0}
    async with maker() as session:
        uow = UnitOfWork(session, outbox)
        tid = theme_id or await queries.theme_by_code(session, data["theme_code"])
        if tid is None:
            raise SystemExit(f"theme {data['theme_code']} is not known to indicators yet: "
                             "give --theme-id, or wait for the registry's theme events")
        have = set((await session.scalars(select(IndicatorDefinition.code))).all())
        for d in data.get("definitions", []):
            if d["code"] not in have:
                await catalogue_service.create_definition(session, SEED_ACTOR, DefinitionIn(**d))
                counts["indicators"] += 1
        for n, g in enumerate(data["goals"]):
            if await queries.code_taken(session, tid, g["code"]):
                continue
            goal = await goal_service.create(uow, SEED_ACTOR, GoalIn(
                theme_id=tid, code=g["code"], name=g["name"], description=g.get("description"),
                position=n), trust_theme=True)
            await goal_service.put_indicators(uow, SEED_ACTOR, goal.id, [
                GoalIndicatorIn(**i) for i in g.get("indicators", [])])
            counts["goals"] += 1
        await session.commit()
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theme-id", help="the registry's id of the theme")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the goals data file")
    parser.add_argument("--demo-figures", action="store_true",
                        help="also approved demo reports of the theme's projects (synthetic)")


async def command(args: argparse.Namespace) -> None:
    from indicators import demo as indicators_demo
    from indicators.config import Settings
    from indicators.goals import demo
    from indicators.main import spec
    from shared.db import create_engine, make_sessionmaker

    settings = Settings()
    engine = create_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    extra: dict[str, int] = {}
    try:
        counts = await load(maker, spec.outbox(), read(args.file), args.theme_id)
        if args.demo_figures and args.theme_id:
            await demo.wait_for_projects(maker, args.theme_id)
            counts["reports"] = await demo.load(maker, spec.outbox(), args.theme_id)
            # Targets, a locked report, closed survey rounds: every indicators list has data.
            extra = await indicators_demo.load(maker, spec.outbox(), args.theme_id,
                                               settings.privacy_min_respondents)
    finally:
        await engine.dispose()
    print(f"theme goals: {counts['goals']} goals, "  # noqa: T201
          f"{counts['indicators']} custom indicators, {counts.get('reports', 0)} demo reports added"
          + "".join(f", {v} {k}" for k, v in extra.items()))
