"""The scorer configured from its environment and migrated the operator's way (`python -m scorer migrate`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from callqa.settings import KafkaSettings
from callqa_stack import servers
from scorer.config import Settings
from tests.scorer.helpers import JWT_SECRET

PREFIX = "CALLQA_SCORER_"


@pytest.fixture
def env_settings(
    private_kafka_settings: KafkaSettings,
    ministack_server: servers.Server,
    database_url: str,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The scorer's environment as an operator sets it, and its schema migrated the operator's way."""
    for key in list(os.environ):
        if key.startswith(PREFIX):
            monkeypatch.delenv(key)
    kafka = {f"KAFKA__{name.upper()}": str(value) for name, value in private_kafka_settings.model_dump().items()}
    environment = kafka | {
        "DATABASE_URL": database_url,
        "S3__ENDPOINT": f"127.0.0.1:{ministack_server.port}",
        "TRANSCRIPTS_BUCKET": f"transcripts-{unique}",
        "CONSUMER_GROUP": f"scorer-{unique}",
        "AUTH__JWT_SECRET": JWT_SECRET,
    }
    for key, value in environment.items():
        monkeypatch.setenv(PREFIX + key, value)
    subprocess.run([sys.executable, "-m", "scorer", "migrate"], check=True, timeout=120)
    return Settings()
