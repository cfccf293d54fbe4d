"""Alembic environment of transcriber: autogenerate compares the database with `transcriber.tables` and the outbox."""

from callqa.db import run_migrations
from transcriber import tables

run_migrations(tables)
