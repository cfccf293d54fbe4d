"""Database engine and sessions for SQLite (zero-setup default) and PostgreSQL, plus Alembic wiring.

Every service owns its database and migrates it with its own `migrations/` folder, whose env.py is one
call, `run_migrations(<package>.tables)`. A service's history starts with the revisions every service
shares (the outbox table), kept once in `callqa/migrations/`; each service records its revisions in a
version table of its own (`alembic_version_<package>`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Column, DateTime, Dialect, Engine, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that stores UTC and always hands back timezone-aware UTC.

    SQLite has no time zones: SQLAlchemy writes the wall-clock digits and drops the offset (09:30+08:00
    would come back as a naive 09:30, eight hours off, and string comparisons in filters would mix
    offsets). PostgreSQL returns the session's zone. Converting to UTC on the way in and tagging UTC on
    the way out gives both databases the same instants and the API RFC 3339 timestamps. A naive value
    bound here (a filter from a client that sent no offset) is taken as UTC.
    """

    impl = DateTime(timezone=True)  # the schema type is unchanged: no migration needed
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # a filter bound like 0001-01-01T00:00+08:00 lies outside datetime's range in UTC
            return (datetime.min if value.year == datetime.min.year else datetime.max).replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(**kwargs: Any) -> Column[datetime]:
    """A timestamp column that stores UTC and reads back timezone-aware UTC on SQLite and PostgreSQL."""
    return Column(UTCDateTime(), **kwargs)


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (as ops write them) and use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


SQLITE_CACHE_KIB = 64 * 1024  # per connection, filled only as pages are read


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets API readers run while a worker writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A page cache that holds a busy service's indexes (SQLite's default is 2 MB): a writer inserting keys all over
    # a large index (random recording ids) otherwise reads most of its pages back from the OS for every batch.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url, **engine_kwargs)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def migrate(self, migrations_dir: Path, revision: str = "head") -> None:
        command.upgrade(alembic_config(self.url, migrations_dir), revision)

    def dispose(self) -> None:
        self.engine.dispose()


# Revisions every service's history starts with (the outbox table): one copy, in the library.
SHARED_VERSIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, migrations_dir: Path) -> Config:
    """One service's Alembic: its `migrations/` (env.py; its own revisions in `versions/`, the first of
    which follows "0001") and the library's shared revisions.

    With two version locations, name the service's when writing a revision, or Alembic puts it beside
    its parent (in the library when that is "0001"): `command.revision(config, message, autogenerate=True,
    version_path=str(migrations_dir / "versions"))`.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    locations = [migrations_dir / "versions", SHARED_VERSIONS_DIR]
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def service_metadata(tables: ModuleType) -> MetaData:
    """What a service's database should hold: the SQLModel tables defined in its `tables` module and
    the outbox (every service's history starts with it). Built apart from `SQLModel.metadata`, which
    holds every table any imported module defined, other services' included."""
    from callqa.outbox import OutboxMessage  # callqa.outbox imports this module

    metadata = MetaData()
    OutboxMessage.__table__.to_metadata(metadata)  # type: ignore[attr-defined]
    for value in vars(tables).values():
        if (
            isinstance(value, type)
            and issubclass(value, SQLModel)
            and value.__module__ == tables.__name__
            and hasattr(value, "__table__")
        ):
            value.__table__.to_metadata(metadata)
    return metadata


def version_table(tables: ModuleType) -> str:
    """`alembic_version_<package>`: each service records its revisions in a table of its own."""
    return f"alembic_version_{tables.__name__.partition('.')[0]}"


def migration_options(tables: ModuleType, url: str) -> dict[str, Any]:
    """Alembic's context options for a service, shared by its env.py and the tests that compare schemas.

    A `tables` module may name, in `MIGRATION_ONLY`, what its migrations make with one dialect's own DDL and no
    table class can describe (an SQLite FTS5 table and its shadow tables, a PostgreSQL expression index): those
    names, and names that start with one of them and "_", are left out of the comparison.
    """
    own_ddl = tuple(getattr(tables, "MIGRATION_ONLY", ()))

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return not (name and any(name == n or name.startswith(n + "_") for n in own_ddl))

    return {
        "target_metadata": service_metadata(tables),
        "version_table": version_table(tables),
        "render_as_batch": url.startswith("sqlite"),  # SQLite cannot ALTER most things in place
        "compare_type": True,
        "include_name": include_name,
    }


def run_migrations(tables: ModuleType) -> None:
    """The body of every service's `migrations/env.py`: `run_migrations(<package>.tables)`.

    Autogenerate (`alembic revision --autogenerate`, `alembic check`) compares the database with
    `service_metadata(tables)`.
    """
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not configured"
    options = migration_options(tables, url)
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
