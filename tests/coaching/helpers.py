"""Plain helpers the coaching tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from callqa.auth import Authenticator, Role
from callqa.bus import Bus
from callqa.db import Database
from callqa.events import Envelope, EvaluationScored, topic_for
from callqa.settings import AuthSettings, KafkaSettings
from callqa_stack.factories import SAMPLE_CARD_ITEMS as ITEMS  # noqa: F401 - the card the tests score on
from callqa_stack.factories import evaluation_scored as scored
from coaching.config import MIGRATIONS_DIR, Settings
from coaching.main import create_app
from coaching.problems import Observation, observe
from tests.helpers import read_all

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


# --- generated evaluation streams (issue 16: problem analysis and verified follow-up) -------------------

STREAM_START = datetime(2026, 10, 1, 8, tzinfo=UTC)
STREAM_ITEMS = ("greeting", "verify_identity", "forbidden_phrases", "closing")


def agents_of(groups: int = 3, per_group: int = 8) -> list[tuple[str, str]]:
    """(group, agent) pairs: g0/agent-g0-0 ..."""
    return [(f"g{g}", f"agent-g{g}-{a}") for g in range(groups) for a in range(per_group)]


def stream(
    seed: int,
    *,
    agents: list[tuple[str, str]] | None = None,
    calls: int = 20,
    base_rate: float = 0.06,
    rates: dict[tuple[str | None, str | None, str], float] | None = None,
    start: datetime = STREAM_START,
    days: int = 7,
) -> list[EvaluationScored]:
    """`calls` evaluations per agent over `days`, every item failing with `base_rate` except where `rates`
    plants another: key (group or None, agent or None, item) -> failure rate (agent beats group beats default)."""
    rng = random.Random(seed)
    planted = rates or {}
    out = []
    for group, agent in agents or agents_of():
        for _ in range(calls):
            failed = []
            for item in STREAM_ITEMS:
                rate = planted.get((group, agent, item), planted.get((group, None, item), base_rate))
                if rng.random() < rate:
                    failed.append(item)
            at = start + timedelta(seconds=rng.uniform(0, days * 86400))
            out.append(
                scored(
                    agent_id=agent,
                    group=group,
                    started_at=at,
                    failed=tuple(failed),
                    evaluation_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    recording_id=str(uuid.UUID(int=rng.getrandbits(128))),
                )
            )
    return out


def observations(payloads: list[EvaluationScored]) -> list[Observation]:
    out: list[Observation] = []
    for p in payloads:
        out += observe(
            evaluation_id=p.evaluation_id,
            recording_id=p.recording_id,
            agent_id=p.agent_id,
            group=p.group,
            started_at=p.started_at,
            items=[i.model_dump(mode="json") for i in p.items],
            call_max_points=p.max_points,
        )
    return out


def outcomes(rng: random.Random, calls: int, pass_rate: float) -> list[int]:
    return [int(rng.random() < pass_rate) for _ in range(calls)]


TRAINER = bearer("trainer-ma", Role.trainer)


def send(kafka: KafkaSettings, *events: Envelope) -> None:
    """Publish events on the broker, as their producers would."""

    async def go() -> None:
        async with Bus(kafka) as bus:
            for event in events:
                await bus.publish(event)

    asyncio.run(go())


def wait_for(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def feed_all(client: TestClient, payloads: list[EvaluationScored]) -> None:
    """Hand evaluations to the app's `evaluation.scored` handler (the broker path is tested elsewhere)."""
    for payload in payloads:
        client.app.state.ledger.on_evaluation_scored(payload)  # type: ignore[attr-defined]


def events_of(kafka: KafkaSettings, event_type: str, expected: int) -> list[dict[str, Any]]:
    records = asyncio.run(read_all(kafka, topic_for(event_type), expected=expected))
    return [json.loads(r.value) for r in records]
