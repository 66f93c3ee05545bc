"""`python -m indicators.cli migrate | revision -m MSG | check | rebuild-projections | republish
| seed-goals [--theme-id ID] [--file PATH]`."""

from pathlib import Path

from indicators.main import spec
from shared.cli import run_cli

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    from indicators.goals import seed

    run_cli(spec, MIGRATIONS, extra={
        "seed-goals": ("load the seed theme's goals and their indicators (idempotent)",
                       seed.command, seed.add_arguments)})


if __name__ == "__main__":
    main()
