"""`python -m comms.cli migrate | revision -m MSG | check | rebuild-projections | republish | seed`."""

from pathlib import Path

from comms.main import spec
from shared.cli import run_cli

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    from comms.demo import seed

    run_cli(spec, MIGRATIONS, extra={"seed": ("load the demo data (idempotent)", seed)})


if __name__ == "__main__":
    main()
