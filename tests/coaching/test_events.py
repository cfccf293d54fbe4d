"""End to end over the real broker, on SQLite and PostgreSQL: `evaluation.scored` (with a duplicate and a
replay) stored once; a sampling run, a review with an override, `evaluation.reviewed` on its topic;
an agent's appeal and a supervisor's resolution; `recording.purged` erases the call's words everywhere."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callqa.bus import Bus
from callqa.events import Envelope, EvaluationScoredEvent, topic_for
from callqa.settings import KafkaSettings
from callqa_stack.factories import recording_purged
from tests.coaching.helpers import AGENT, OVERRIDE_CLOSING, QA, SUPERVISOR, make_settings, scored, started
from tests.helpers import read_all

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def kafka_settings(private_kafka_settings: KafkaSettings) -> KafkaSettings:
    return private_kafka_settings


@pytest.fixture
def app(database_url: str, kafka_settings: KafkaSettings) -> Iterator[TestClient]:
    yield from started(make_settings(database_url, kafka_settings))


def publish(kafka: KafkaSettings, *events: Envelope) -> None:
    async def send() -> None:
        async with Bus(kafka) as bus:
            for event in events:
                await bus.publish(event)

    asyncio.run(send())


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_the_flow_from_events(app: TestClient, kafka_settings: KafkaSettings) -> None:
    day = datetime(2026, 11, 4, 9, tzinfo=UTC)
    payloads = [scored(started_at=day.replace(minute=n)) for n in range(3)]
    events = [EvaluationScoredEvent(correlation_id=p.recording_id, producer="scorer", payload=p) for p in payloads]
    publish(kafka_settings, *events, events[0])  # a duplicate
    eventually(lambda: app.get("/v1/evaluations", headers=QA).json()["total"] == 3)
    publish(kafka_settings, events[1].model_copy(update={"event_id": events[2].event_id}))  # a replay, another id
    time.sleep(1)
    assert app.get("/v1/evaluations", headers=QA).json()["total"] == 3

    plan = {
        "plan_id": "e2e",
        "name": "e2e",
        "period": {"kind": "daily"},
        "methods": [{"type": "random", "per_agent": 1}],
    }
    assert app.post("/v1/sampling-plans", json=plan, headers=QA).status_code == 201
    run = app.post(
        "/v1/sampling-plans/e2e/runs", json={"on": "2026-11-04", "seed": 1, "reviewers": [{"id": "qa-lin"}]}, headers=QA
    ).json()
    assert run["picks"] == 1 and run["population_size"] == 3
    assignment = app.get("/v1/assignments", params={"run_id": run["id"]}, headers=QA).json()["items"][0]
    opened = app.post(f"/v1/assignments/{assignment['id']}/open", headers=QA)
    submitted = app.post(
        f"/v1/assignments/{assignment['id']}/submit",
        json={"items": OVERRIDE_CLOSING, "notes": "closing heard"},
        headers=QA | {"If-Match": opened.headers["ETag"]},
    )
    assert submitted.status_code == 200, submitted.text
    eid = assignment["evaluation_id"]
    reviewed = asyncio.run(read_all(kafka_settings, topic_for("evaluation.reviewed"), expected=1))
    body = json.loads(reviewed[0].value)
    assert body["event_type"] == "evaluation.reviewed" and body["payload"]["evaluation_id"] == eid
    assert body["payload"]["source"] == "human" and body["payload"]["version"] == 2

    appeal = app.post(
        f"/v1/evaluations/{eid}/appeals",
        json={"items": [{"item_id": "greeting", "reason": "I said the greeting twice"}]},
        headers=AGENT,
    )
    assert appeal.status_code == 201
    resolved = app.post(
        f"/v1/appeals/{appeal.json()['id']}/resolution",
        json={"items": [{"item_id": "greeting", "outcome": "upheld", "reason": "greeting is fine as scored"}]},
        headers=SUPERVISOR,
    )
    assert resolved.status_code == 200

    recording = next(p.recording_id for p in payloads if p.evaluation_id == eid)
    publish(kafka_settings, recording_purged(recording))
    eventually(lambda: app.get(f"/v1/evaluations/{eid}", headers=QA).json()["evidence_purged"])
    everything = json.dumps(
        [
            app.get(f"/v1/evaluations/{eid}/versions", headers=QA).json(),
            app.get(f"/v1/evaluations/{eid}/timeline", headers=QA).json(),
            app.get(f"/v1/assignments/{assignment['id']}", headers=QA).json(),
            app.get(f"/v1/appeals/{appeal.json()['id']}", headers=QA).json(),
        ]
    )
    for words in ("words for", "closing at 03:12", "closing heard", "greeting twice", "greeting is fine"):
        assert words not in everything, words
    detail = app.get(f"/v1/evaluations/{eid}", headers=QA).json()
    assert detail["human"]["percentage"] == 100  # scores stay
    # an evaluation of a purged recording arriving later comes without its words
    late = scored(recording_id=recording)
    publish(kafka_settings, EvaluationScoredEvent(correlation_id=recording, producer="scorer", payload=late))
    eventually(lambda: app.get("/v1/evaluations", headers=QA).json()["total"] == 4)
    assert "words for" not in json.dumps(app.get(f"/v1/evaluations/{late.evaluation_id}", headers=QA).json())
