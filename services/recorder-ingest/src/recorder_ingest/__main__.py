"""`python -m recorder_ingest [serve|migrate|import]`."""

import sys

from callqa.service import run_cli
from recorder_ingest import bulk_import
from recorder_ingest.config import MIGRATIONS_DIR, Settings
from recorder_ingest.main import create_app


def main() -> None:
    # `import` is a client of a running service: it needs no service settings, so it goes before run_cli.
    if sys.argv[1:2] == ["import"]:
        sys.exit(bulk_import.main(sys.argv[2:]))
    run_cli(Settings(), create_app, MIGRATIONS_DIR)


if __name__ == "__main__":
    main()
