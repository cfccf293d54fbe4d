"""Alembic environment of reporting: autogenerate compares the database with `reporting.tables` and the outbox."""

from callqa.db import run_migrations
from reporting import tables

run_migrations(tables)
