"""Fixtures for the coaching tests: a broker of the module's own (nothing else publishes there), the app on
a fresh SQLite or PostgreSQL database, JWTs per role and subject, and evaluations fed through the
`evaluation.scored` handler (tests/coaching/test_events.py sends them over the broker)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callqa.auth import Authenticator, Role
from callqa.db import Database
from callqa.events import EvaluationScored
from callqa.settings import AuthSettings, KafkaSettings
from callqa_stack import servers
from coaching.config import MIGRATIONS_DIR, Settings
from coaching.main import create_app
from tests.conftest import fast_kafka_settings

JWT_SECRET = "c" * 40
ITEMS = [  # (item id, section, max points, kind)
    ("greeting", "service_language", 10.0, "requirement"),
    ("verify_identity", "product_knowledge", 10.0, "requirement"),
    ("forbidden_phrases", "service_language", 10.0, "deduction"),
    ("closing", "service_language", 10.0, "requirement"),
    ("insult", "attitude", 0.0, "auto_fail"),
]


def bearer(subject: str, *roles: Role) -> dict[str, str]:
    token = Authenticator(AuthSettings(jwt_secret=JWT_SECRET)).issue_token(subject, roles)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


QA = bearer("qa-lin", Role.qa_analyst)
QA2 = bearer("qa-wu", Role.qa_analyst)
SUPERVISOR = bearer("sup-zhao", Role.supervisor)
AUDITOR = bearer("aud-he", Role.auditor)
AGENT = bearer("agent-7", Role.agent)
OTHER_AGENT = bearer("agent-8", Role.agent)


def scored(
    *,
    agent_id: str = "agent-7",
    started_at: datetime | None = None,
    failed: tuple[str, ...] = ("closing",),
    evaluation_id: str | None = None,
    recording_id: str | None = None,
    **overrides: Any,
) -> EvaluationScored:
    """An `evaluation.scored` payload on the test card: every item passes except `failed`."""
    items = []
    for item_id, section, maximum, kind in ITEMS:
        fails = item_id in failed
        items.append(
            {
                "item_id": item_id,
                "section": section,
                "result": "fail" if fails else "pass",
                "points": 0.0 if fails or kind == "auto_fail" else maximum,
                "severity": "A" if kind == "auto_fail" else "B",
                "max_points": maximum,
                "kind": kind,
                "evidence": [{"turn_id": "t3", "begin_ms": 1000, "end_ms": 2000, "text": f"words for {item_id}"}],
            }
        )
    counted = sum(m for i, _, m, k in ITEMS if k in ("requirement", "deduction"))
    earned = sum(i["points"] for i in items)
    auto_failed = "insult" in failed
    percentage = 0.0 if auto_failed else earned / counted * 100
    rid = recording_id or str(uuid.uuid4())
    payload = {
        "evaluation_id": evaluation_id or str(uuid.uuid4()),
        "recording_id": rid,
        "agent_id": agent_id,
        "group": "billing",
        "queue": "billing-zh",
        "started_at": started_at or datetime.now(UTC) - timedelta(hours=1),
        "scorecard_id": "test-card",
        "scorecard_version": 1,
        "transcript_version": "whisper-base:test",
        "total_points": 0.0 if auto_failed else earned,
        "max_points": counted,
        "percentage": percentage,
        "passed": not auto_failed and percentage >= 80,
        "auto_failed": auto_failed,
        "items": items,
        "direction": "inbound",
        "duration_ms": 180_000,
        "tags": [],
        "pass_threshold": 80.0,
    } | overrides
    return EvaluationScored.model_validate(payload)


@pytest.fixture(scope="module")
def coaching_kafka(server_logs: Path) -> Iterator[KafkaSettings]:
    """A broker of the module's own: nothing publishes `evaluation.scored` there unless the test does."""
    server = servers.tansu(servers.free_port(), server_logs / f"tansu-coaching-{uuid.uuid4().hex[:6]}.log")
    server.start()
    yield fast_kafka_settings(f"127.0.0.1:{server.port}")
    server.stop()


def make_settings(database_url: str, kafka: KafkaSettings, **overrides: Any) -> Settings:
    settings = Settings(
        database_url=database_url,
        kafka=kafka,
        consumer_group=f"coaching-{uuid.uuid4().hex[:8]}",
        auth=AuthSettings(jwt_secret=JWT_SECRET),  # type: ignore[arg-type]
        **overrides,
    )
    Database(settings.database_url).migrate(MIGRATIONS_DIR)
    return settings


def started(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").text
            time.sleep(0.1)
        yield client


@pytest.fixture
def client(database_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL."""
    yield from started(make_settings(database_url, coaching_kafka))


@pytest.fixture
def sqlite_client(sqlite_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    """The app on SQLite only, for tests whose subject is not the database."""
    yield from started(make_settings(sqlite_url, coaching_kafka))


Feed = Callable[..., EvaluationScored]


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


def assign(client: TestClient, evaluation_id: str, reviewer: str = "qa-lin") -> dict[str, Any]:
    answer = client.post(
        "/v1/assignments", json={"evaluation_id": evaluation_id, "reviewer_id": reviewer}, headers=SUPERVISOR
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def review(
    client: TestClient,
    evaluation_id: str,
    items: list[dict[str, Any]] | None = None,
    reviewer: dict[str, str] = QA,
    reviewer_id: str = "qa-lin",
    **submit: Any,
) -> dict[str, Any]:
    """Assign, open and submit a review; returns the submit answer."""
    assignment = assign(client, evaluation_id, reviewer_id)
    opened = client.post(f"/v1/assignments/{assignment['id']}/open", headers=reviewer)
    assert opened.status_code == 200, opened.text
    answer = client.post(
        f"/v1/assignments/{assignment['id']}/submit",
        json={"items": items or [], **submit},
        headers=reviewer | {"If-Match": opened.headers["ETag"]},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


OVERRIDE_CLOSING = [
    {"item_id": "closing", "decision": "override", "result": "pass", "points": 10, "reason": "closing at 03:12"}
]
