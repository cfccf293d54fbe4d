"""Alembic environment of scorer: autogenerate compares the database with `scorer.tables` and the outbox."""

from callqa.db import run_migrations
from scorer import tables

run_migrations(tables)
