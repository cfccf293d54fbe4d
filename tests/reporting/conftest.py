"""Shared fixtures of the reporting tests: a migrated database (SQLite and PostgreSQL), synthetic
`evaluation.scored` streams, and a brute-force recomputation of the rollups to compare with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callqa.db import Database
from reporting.config import MIGRATIONS_DIR
from reporting.store import RollupStore


@pytest.fixture
def store(database_url: str) -> Iterator[RollupStore]:
    db = Database(database_url)
    db.migrate(MIGRATIONS_DIR)
    yield RollupStore(db)
    db.dispose()
