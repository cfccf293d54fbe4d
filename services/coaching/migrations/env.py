"""Alembic environment of coaching: autogenerate compares the database with `coaching.tables` and the outbox."""

from callqa.db import run_migrations
from coaching import tables

run_migrations(tables)
