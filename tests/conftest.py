"""Real infrastructure for the tests: a Tansu broker, S3 servers (moto, ministack), databases.

Servers are started once per session on free ports on 127.0.0.1 and stopped at the end.
Each test that needs isolation gets its own topic names, bucket or database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from callqa.settings import KafkaSettings
from callqa_stack import servers
from tests.helpers import POSTGRES_ADMIN_URL, fast_kafka_settings, postgres_available


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("CALLQA_ENVIRONMENT", "test")


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def broker(server_logs: Path) -> Iterator[servers.Server]:
    """A Tansu broker on the in-memory engine."""
    server = servers.tansu(servers.free_port(), server_logs / "tansu.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: servers.Server) -> str:
    return f"127.0.0.1:{broker.port}"


@pytest.fixture(scope="session")
def moto_server(server_logs: Path) -> Iterator[servers.Server]:
    server = servers.moto(servers.free_port(), server_logs / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ministack_server(server_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """ministack with persistence on: the store that supports object lock, retention and legal hold."""
    server = servers.ministack(servers.free_port(), server_logs / "ministack.log", tmp_path_factory.mktemp("s3"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["moto", "ministack"])
def s3_endpoint(request: pytest.FixtureRequest) -> str:
    server: servers.Server = request.getfixturevalue(f"{request.param}_server")
    return f"127.0.0.1:{server.port}"


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, bucket and group names."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not postgres_available():
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} (set CALLQA_TEST_POSTGRES_URL)")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"callqa_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'callqa.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Fast group joins and retries (see DESIGN.md: Tansu joins are slow with the defaults)."""
    return fast_kafka_settings(kafka_bootstrap)


@pytest.fixture
def private_kafka_settings(server_logs: Path, unique: str) -> Iterator[KafkaSettings]:
    """A broker of the test's own: services that read the fixed topics from the beginning see
    only this test's events, not every earlier test's."""
    server = servers.tansu(servers.free_port(), server_logs / f"tansu-{unique}.log")
    server.start()
    yield fast_kafka_settings(f"127.0.0.1:{server.port}")
    server.stop()
