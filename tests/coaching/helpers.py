"""Plain helpers the coaching tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.testclient import TestClient

from callqa.auth import Authenticator, Role
from callqa.db import Database
from callqa.events import EvaluationScored
from callqa.settings import AuthSettings, KafkaSettings
from callqa_stack.factories import SAMPLE_CARD_ITEMS as ITEMS  # noqa: F401 - the card the tests score on
from callqa_stack.factories import evaluation_scored as scored  # noqa: F401 - its evaluations
from coaching.config import MIGRATIONS_DIR, Settings
from coaching.main import create_app

JWT_SECRET = "c" * 40


def bearer(subject: str, *roles: Role) -> dict[str, str]:
    token = Authenticator(AuthSettings(jwt_secret=JWT_SECRET)).issue_token(subject, roles)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


QA = bearer("qa-lin", Role.qa_analyst)


QA2 = bearer("qa-wu", Role.qa_analyst)


SUPERVISOR = bearer("sup-zhao", Role.supervisor)


AUDITOR = bearer("aud-he", Role.auditor)


AGENT = bearer("agent-7", Role.agent)


OTHER_AGENT = bearer("agent-8", Role.agent)


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


Feed = Callable[..., EvaluationScored]


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
