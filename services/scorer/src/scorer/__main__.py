"""`python -m scorer [serve|migrate]`."""

from callqa.service import run_cli
from scorer.config import MIGRATIONS_DIR, Settings
from scorer.main import create_app


def main() -> None:
    run_cli(Settings(), create_app, MIGRATIONS_DIR)


if __name__ == "__main__":
    main()
