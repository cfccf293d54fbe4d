"""`python -m console [serve|migrate]`, and `python -m console users add NAME --role ROLE [--password P]`
(the password is read from stdin when not given; `./run` makes the development users this way)."""

from __future__ import annotations

import argparse
import json
import sys

from callqa.db import Database
from callqa.service import run_cli
from console.config import MIGRATIONS_DIR, Settings
from console.identity import Users
from console.main import create_app


def users(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m console users")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a local user, or set an existing one's password and roles")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, help="repeat for several")
    add.add_argument("--password", help="default: read one line from stdin")
    add.add_argument("--if-missing", action="store_true", help="leave an existing user as it is")
    sub.add_parser(
        "seed", help='add the users of a JSON list on stdin ([{"username", "password", "roles"}]) that are missing'
    )
    args = parser.parse_args(argv)
    settings = Settings()
    book = Users(Database(settings.database_url))
    if args.command == "seed":
        for entry in json.load(sys.stdin):
            if not book.exists(entry["username"]):
                book.add(entry["username"], entry["password"], entry["roles"])
        return
    if args.if_missing and book.exists(args.username):
        return
    password = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        sys.exit("a password needs at least 8 characters")
    book.add(args.username, password, args.role)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "users":
        users(sys.argv[2:])
        return
    run_cli(Settings(), create_app, MIGRATIONS_DIR)


if __name__ == "__main__":
    main()
