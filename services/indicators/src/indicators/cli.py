"""`python -m indicators.cli migrate | revision -m MSG | check | rebuild-projections | republish`."""

from pathlib import Path

from indicators.main import spec
from shared.cli import run_cli

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    run_cli(spec, MIGRATIONS)


if __name__ == "__main__":
    main()
