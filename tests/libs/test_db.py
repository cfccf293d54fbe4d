"""Engine, sessions and per-service Alembic migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from callqa.db import SQLITE_CACHE_KIB, Database, alembic_config, normalise_url

SERVICES = Path(__file__).resolve().parents[2] / "services"
MIGRATED_SERVICES = sorted(p.parents[1].name for p in SERVICES.glob("*/migrations/env.py"))


def test_plain_postgres_urls_use_psycopg3() -> None:
    assert normalise_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_session_commits_on_success_and_rolls_back_on_error(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    with db.session() as session:
        session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'kept')"))
    with pytest.raises(ValueError, match="boom"), db.session() as session:
        session.execute(text("INSERT INTO notes (id, body) VALUES (2, 'lost')"))
        raise ValueError("boom")
    with db.session() as session:
        assert session.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    assert db.ping()
    db.dispose()


def test_ping_is_false_when_the_database_is_unreachable() -> None:
    assert not Database("postgresql://nobody@127.0.0.1:1/none").ping()


@pytest.mark.parametrize("service", MIGRATED_SERVICES)
def test_each_service_migrates_up_and_down_with_its_own_version_table(database_url: str, service: str) -> None:
    db = Database(database_url)
    migrations = SERVICES / service / "migrations"
    db.migrate(migrations)
    db.migrate(migrations)  # idempotent
    tables = set(inspect(db.engine).get_table_names())
    package = next((SERVICES / service / "src").glob("*/__init__.py")).parent.name
    assert {"outbox", f"alembic_version_{package}"} <= tables
    command.downgrade(alembic_config(db.url, migrations), "base")
    assert "outbox" not in set(inspect(db.engine).get_table_names())
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_page_cache_for_large_indexes(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
    db.dispose()
