"""recorder-ingest's settings come from CALLQA_INGEST_* variables, nested groups with `__`."""

from __future__ import annotations

import pytest

from recorder_ingest.config import Settings


def test_settings_read_nested_env_with_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_INGEST_KAFKA__BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("CALLQA_INGEST_HTTP_PORT", "9999")
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.http_port == 9999
