"""Fixtures for the coaching tests: a broker of the module's own (nothing else publishes there), the app on
a fresh SQLite or PostgreSQL database, JWTs per role and subject, and evaluations fed through the
`evaluation.scored` handler (tests/coaching/test_events.py sends them over the broker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callqa.events import EvaluationScored
from callqa.settings import KafkaSettings
from callqa_stack import servers
from tests.coaching.helpers import (
    Feed,
    make_settings,
    scored,
    started,
)
from tests.helpers import fast_kafka_settings


@pytest.fixture(scope="module")
def coaching_kafka(server_logs: Path) -> Iterator[KafkaSettings]:
    """A broker of the module's own: nothing publishes `evaluation.scored` there unless the test does."""
    server = servers.tansu(servers.free_port(), server_logs / f"tansu-coaching-{uuid.uuid4().hex[:6]}.log")
    server.start()
    yield fast_kafka_settings(f"127.0.0.1:{server.port}")
    server.stop()


@pytest.fixture
def client(database_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL."""
    yield from started(make_settings(database_url, coaching_kafka))


@pytest.fixture
def sqlite_client(sqlite_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    """The app on SQLite only, for tests whose subject is not the database."""
    yield from started(make_settings(sqlite_url, coaching_kafka))


@pytest.fixture
def feed(request: pytest.FixtureRequest) -> Feed:
    """`feed(**scored kwargs)`: an evaluation handed to the app's `evaluation.scored` handler."""

    def give(client: TestClient | None = None, **kwargs: Any) -> EvaluationScored:
        app_client: TestClient = client or request.getfixturevalue(
            "client" if "client" in request.fixturenames else "sqlite_client"
        )
        payload = scored(**kwargs)
        app_client.app.state.ledger.on_evaluation_scored(payload)  # type: ignore[attr-defined]
        return payload

    return give
