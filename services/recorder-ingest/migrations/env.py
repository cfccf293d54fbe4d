"""Alembic environment of recorder-ingest: autogenerate compares the database with `recorder_ingest.tables` and the outbox."""

from callqa.db import run_migrations
from recorder_ingest import tables

run_migrations(tables)
