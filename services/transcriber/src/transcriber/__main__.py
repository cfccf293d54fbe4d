"""`python -m transcriber [serve|migrate]`."""

from callqa.service import run_cli
from transcriber.config import MIGRATIONS_DIR, Settings
from transcriber.main import create_app


def main() -> None:
    run_cli(Settings(), create_app, MIGRATIONS_DIR)


if __name__ == "__main__":
    main()
