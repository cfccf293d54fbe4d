"""Alembic environment of the console: autogenerate compares the database with `console.tables` and the outbox."""

from console import tables

from callqa.db import run_migrations

run_migrations(tables)
