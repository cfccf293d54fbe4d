"""recorder-ingest test helpers: the test service's keys, request builders, event readers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select

from callqa.auth import Authenticator, Role
from callqa.db import Database
from callqa.events import RecordingStoredEvent, topic_for
from callqa.settings import AuthSettings, KafkaSettings
from recorder_ingest.config import MIGRATIONS_DIR, Settings
from recorder_ingest.tables import Recording
from tests.helpers import read_all

API_KEYS = "k-pbx=pbx-east:ingest;k-audit=audit-bot:auditor"
JWT_SECRET = "j" * 40
STORED_TOPIC = topic_for("recording.stored")
PURGED_TOPIC = topic_for("recording.purged")


def make_audio(
    path: Path, *, seconds: float = 2.0, channels: int = 2, rate: int = 8000, encoding: str = "u-law", freq: int = 440
) -> Path:
    """A short telephony-like WAV made with sox (a tone on each channel)."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            str(rate),
            "-c",
            str(channels),
            "-e",
            encoding,
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(freq),
        ],
        check=True,
    )
    return path


ENV_PREFIX = "CALLQA_INGEST_"


def ingest_environment(kafka: KafkaSettings, s3_endpoint: str, database_url: str, bucket: str) -> dict[str, str]:
    """The variables `./run stack up` and docker compose set (without the prefix), plus the test's limits."""
    environment = {f"KAFKA__{name.upper()}": str(value) for name, value in kafka.model_dump().items()}
    return environment | {
        "DATABASE_URL": database_url,
        "S3__ENDPOINT": s3_endpoint,
        "S3__BUCKET": bucket,
        "AUTH__API_KEYS": API_KEYS,
        "AUTH__JWT_SECRET": JWT_SECRET,
        "MAX_UPLOAD_BYTES": str(5 * 1024 * 1024),
        "MAX_DURATION_S": "60",
        "PURGE_INTERVAL_S": "3600",
        "ORPHAN_GRACE_S": "0",
    }


def configure_from_environment(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> Settings:
    """Set CALLQA_INGEST_* (and nothing else of ours), migrate with `python -m recorder_ingest migrate`,
    and read the settings back from the environment, as the service's own `__main__` does."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(ENV_PREFIX + key, value)
    subprocess.run([sys.executable, "-m", "recorder_ingest", "migrate"], check=True, timeout=120)
    return Settings()


def migrated(settings: Settings) -> Settings:
    Database(settings.database_url).migrate(MIGRATIONS_DIR)
    return settings


def bearer(*roles: Role, subject: str = "alice") -> dict[str, str]:
    auth = AuthSettings(jwt_secret=SecretStr(JWT_SECRET))
    token = Authenticator(auth).issue_token(subject, roles, timedelta(hours=6))  # made at import: outlive a slow run
    return {"Authorization": f"Bearer {token}"}


PLATFORM = {"X-API-Key": "k-pbx"}
AUDITOR = {"X-API-Key": "k-audit"}


def metadata(call_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "platform": "pbx-east",
        "agent_id": "agent-042",
        "group": "billing",
        "queue": "billing-zh",
        "direction": "inbound",
        "started_at": "2026-11-02T09:30:00+08:00",
        "customer_number": "+86 138 0013 8000",
        "language": "zh",
        "tags": ["complaint"],
        "consent": {"status": "notified", "method": "ivr_announcement"},
    } | overrides


def post(
    client: TestClient, audio: Path | bytes, meta: dict[str, Any] | str, headers: dict[str, str] | None = None
) -> Any:
    content = audio.read_bytes() if isinstance(audio, Path) else audio
    body = meta if isinstance(meta, str) else json.dumps(meta)
    return client.post(
        "/v1/recordings",
        files={"audio": ("call.wav", content, "audio/wav")},
        data={"metadata": body},
        headers=PLATFORM if headers is None else headers,
    )


def events_for(
    kafka: KafkaSettings, topic: str, recording_id: str, *, expect: int = 1, timeout: float = 15
) -> list[ConsumerRecord]:
    """The messages keyed by `recording_id`, waiting up to `timeout` for `expect` of them."""
    deadline = time.monotonic() + timeout
    while True:
        records = asyncio.run(read_all(kafka, topic, expected=10**9, timeout=1.0))
        mine = [r for r in records if r.key == recording_id.encode()]
        if len(mine) >= expect or time.monotonic() > deadline:
            return mine
        time.sleep(0.2)


def stored_payload(record: ConsumerRecord) -> RecordingStoredEvent:
    return RecordingStoredEvent.model_validate_json(record.value)


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.1)


def settings_json(settings: Settings) -> str:
    """Settings as JSON with secrets in clear, to hand to a child process."""

    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {k: reveal(v) for k, v in value.items()}
        return value

    return json.dumps(reveal(settings.model_dump()), default=str)


def rows(settings: Settings) -> list[Recording]:
    db = Database(settings.database_url)
    with db.session() as session:
        found = list(session.exec(select(Recording)))
    db.dispose()
    return found
