"""Throwaway instances of every service, started the way operators start them: settings from
`CALLQA_<SERVICE>_*` environment variables, `python -m <package> migrate`, then
`python -m <package> serve`, against a broker of their own, ministack (object lock) and a fresh
PostgreSQL database each (SQLite when no PostgreSQL answers). One API key per role
(`key-<role>`, see `api_keys`), and JWTs signed with the instances' secret.

Instances start on first use and live for the session; the API tests share them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from callqa.settings import KafkaSettings
from callqa_stack import servers
from tests.api.helpers import JWT_SECRET, Instance, api_keys
from tests.api.seed import SEEDERS
from tests.authz_matrix import SERVICES
from tests.helpers import POSTGRES_ADMIN_URL, fast_kafka_settings, postgres_available


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/readyz", timeout=3)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready: {last}")


class Databases:
    """One fresh database per instance: PostgreSQL when it answers (dropped at the end), else SQLite."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.postgres = postgres_available()
        self.created: list[str] = []

    def new(self, service: str) -> str:
        if not self.postgres:
            return f"sqlite:///{self.directory / f'{service}.db'}"
        name = f"callqa_api_{service.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def api_kafka(server_logs: Path) -> Iterator[KafkaSettings]:
    """A broker of the API instances' own: the scorer and transcriber read fixed topics from the start."""
    server = servers.tansu(servers.free_port(), server_logs / "tansu-api.log")
    server.start()
    yield fast_kafka_settings(f"127.0.0.1:{server.port}")
    server.stop()


def service_env(
    name: str, *, port: int, database_url: str, kafka: KafkaSettings, s3_endpoint: str, unique: str
) -> dict[str, str]:
    """What an operator would set for `name` (see README: Configuration)."""
    prefix = SERVICES[name].env_prefix
    common = {
        "ENVIRONMENT": "development",
        "HTTP_PORT": str(port),
        "DATABASE_URL": database_url,
        "AUTH__API_KEYS": api_keys(),
        "AUTH__JWT_SECRET": JWT_SECRET,
        "KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA__SESSION_TIMEOUT_MS": str(kafka.session_timeout_ms),
        "KAFKA__HEARTBEAT_INTERVAL_MS": str(kafka.heartbeat_interval_ms),
        "KAFKA__REBALANCE_TIMEOUT_MS": str(kafka.rebalance_timeout_ms),
        "KAFKA__TOPIC_PARTITIONS": "1",
        "S3__ENDPOINT": s3_endpoint,
    }
    extra: dict[str, str] = {}
    if name == "recorder-ingest":
        extra = {
            "S3__BUCKET": f"api-ingest-{unique}",
            "MAX_UPLOAD_BYTES": str(1024 * 1024),
            "MAX_DURATION_S": "60",
            "PURGE_INTERVAL_S": "3600",
            "CUSTOMER_NUMBER_HASH_KEY": "fuzz-hash-key-" + "k" * 20,
        }
    elif name == "scorer":
        extra = {"TRANSCRIPTS_BUCKET": f"api-transcripts-{unique}", "CONSUMER_GROUP": f"scorer-{unique}"}
    elif name == "reporting":
        extra = {"CONSUMER_GROUP": f"reporting-{unique}"}
    elif name == "transcriber":
        extra = {
            "S3__BUCKET": f"api-transcripts-{unique}",
            "S3__OBJECT_LOCK": "false",
            "CONSUMER_GROUP": f"transcriber-{unique}",
            "ASR__MODEL": "tiny.en",
            "ASR__BATCH_SIZE": "0",
            "ASR__BEAM_SIZE": "1",
            "REDACTED_AUDIO": "off",
        }
    return {prefix + key: value for key, value in (common | extra).items()}


@pytest.fixture(scope="session")
def instances(
    api_kafka: KafkaSettings,
    ministack_server: servers.Server,
    server_logs: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Instance]]:
    """`instances(name)`: the running instance of service `name`, started (and seeded) on first use."""
    running: dict[str, Instance] = {}
    databases = Databases(tmp_path_factory.mktemp("api-db"))
    unique = uuid.uuid4().hex[:8]

    def get(name: str) -> Instance:
        if name in running:
            return running[name]
        package = SERVICES[name].package
        port = servers.free_port()
        env = service_env(
            name,
            port=port,
            database_url=databases.new(name),
            kafka=api_kafka,
            s3_endpoint=f"127.0.0.1:{ministack_server.port}",
            unique=unique,
        )
        # Nothing of the test process' own CALLQA_* settings leaks into the instance.
        clean = {k: v for k, v in os.environ.items() if not k.startswith(SERVICES[name].env_prefix)}
        subprocess.run([sys.executable, "-m", package, "migrate"], env=clean | env, check=True, timeout=120)
        server = servers.Server(name, [sys.executable, "-m", package, "serve"], port, server_logs / f"api-{name}.log")
        server.env = env
        server.start(timeout=120)
        instance = Instance(name, f"http://127.0.0.1:{port}", env, server)
        running[name] = instance
        wait_ready(instance.url)
        if seeder := SEEDERS.get(name):
            seeder(instance)
        return instance

    yield get
    for instance in running.values():
        instance.http.close()
        instance.server.stop()
    databases.drop_all()
