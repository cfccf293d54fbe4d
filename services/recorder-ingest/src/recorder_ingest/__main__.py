"""`python -m recorder_ingest [serve|migrate]`."""

from callqa.service import run_cli
from recorder_ingest.config import MIGRATIONS_DIR, Settings
from recorder_ingest.main import create_app


def main() -> None:
    run_cli(Settings(), create_app, MIGRATIONS_DIR)


if __name__ == "__main__":
    main()
