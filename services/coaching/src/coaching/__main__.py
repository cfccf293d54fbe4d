"""`python -m coaching [serve|migrate]`."""

from callqa.service import run_cli
from coaching.config import MIGRATIONS_DIR, Settings
from coaching.main import create_app


def main() -> None:
    run_cli(Settings(), create_app, MIGRATIONS_DIR)


if __name__ == "__main__":
    main()
