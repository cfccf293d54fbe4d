"""recorder-ingest against a real Tansu broker, ministack (object lock) and SQLite/PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callqa.settings import AuthSettings, KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from callqa_stack import servers
from recorder_ingest.config import Settings
from recorder_ingest.main import create_app
from tests.recorder_ingest.helpers import (
    API_KEYS,
    JWT_SECRET,
    configure_from_environment,
    ingest_environment,
    make_audio,
    migrated,
)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def stereo_wav(audio_dir: Path) -> Path:
    return make_audio(audio_dir / "stereo.wav")


@pytest.fixture(scope="session")
def other_wav(audio_dir: Path) -> Path:
    return make_audio(audio_dir / "other.wav", freq=880)


@pytest.fixture(scope="session")
def mono_wav(audio_dir: Path) -> Path:
    return make_audio(audio_dir / "mono.wav", channels=1)


@pytest.fixture
def ingest_settings(
    kafka_settings: KafkaSettings, ministack_server: servers.Server, sqlite_url: str, unique: str
) -> Settings:
    return Settings(
        database_url=sqlite_url,
        kafka=kafka_settings,
        s3=S3Settings(endpoint=f"127.0.0.1:{ministack_server.port}", bucket=f"ingest-{unique}"),
        auth=AuthSettings(api_keys=SecretStr(API_KEYS), jwt_secret=SecretStr(JWT_SECRET)),
        max_upload_bytes=5 * 1024 * 1024,
        max_duration_s=60,
        purge_interval_s=3600,
        orphan_grace_s=0,
    )


@pytest.fixture
def env_settings(
    kafka_settings: KafkaSettings,
    ministack_server: servers.Server,
    database_url: str,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """recorder-ingest configured from its environment, on SQLite and on PostgreSQL."""
    environment = ingest_environment(
        kafka_settings, f"127.0.0.1:{ministack_server.port}", database_url, f"ingest-{unique}"
    )
    return configure_from_environment(monkeypatch, environment)


@pytest.fixture
def env_client(env_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(env_settings)) as test_client:
        yield test_client


@pytest.fixture
def client(ingest_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(migrated(ingest_settings))) as test_client:
        yield test_client


@pytest.fixture
def store(ingest_settings: Settings) -> ObjectStore:
    return ObjectStore.from_settings(ingest_settings.s3)
