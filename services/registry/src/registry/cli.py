"""`python -m registry.cli migrate | revision -m MSG | check | republish | seed`."""

from pathlib import Path

from registry.main import spec
from shared.cli import run_cli

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    from registry.demo import seed
    from registry.overlap.background import cli_rebuild

    run_cli(spec, MIGRATIONS, extra={"seed": ("load the demo data (idempotent)", seed),
                                     "overlaps": ("rebuild the national overlap report", cli_rebuild)})


if __name__ == "__main__":
    main()
