"""The scorer service against a real broker, object store and database: scorecard API with
versions, validation and dry-run; transcript.ready -> exactly one evaluation.scored; re-scoring;
purge; a pathological user regex cannot stall it."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callqa.auth import Authenticator, Role
from callqa.bus import Bus
from callqa.db import Database
from callqa.events import (
    EvaluationScoredEvent,
    RecordingPurgedEvent,
    TranscriptReady,
    TranscriptReadyEvent,
    topic_for,
)
from callqa.settings import AuthSettings, KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from callqa.transcripts import ConversationMetrics, ModelInfo, RoleMetrics, Speakers, TranscriptDocument, Turn
from callqa_stack import servers
from scorer.config import MIGRATIONS_DIR, Settings
from scorer.main import create_app
from scorer.scorecard import default_scorecard
from tests.factories import recording_purged
from tests.libs.test_bus import read_all

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def kafka_settings(private_kafka_settings: KafkaSettings) -> KafkaSettings:
    return private_kafka_settings


JWT_SECRET = "s" * 40
SCORED_TOPIC = topic_for("evaluation.scored")


def bearer(*roles: Role, subject: str = "qa-lin") -> dict[str, str]:
    token = Authenticator(AuthSettings(jwt_secret=JWT_SECRET)).issue_token(subject, roles)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


QA = bearer(Role.qa_analyst)


def transcript(recording_id: str, turns: list[tuple[str, str]], language: str = "zh") -> TranscriptDocument:
    built, clock = [], 0
    for n, (role, text) in enumerate(turns):
        length = 250 * max(1, len(text) if language == "zh" else len(text.split()) * 2)
        built.append(Turn(id=f"t{n}", role=role, begin_ms=clock, end_ms=clock + length, text=text))  # type: ignore[arg-type]
        clock += length + 600

    def role_metrics(role: str) -> RoleMetrics:
        talk = sum(t.end_ms - t.begin_ms for t in built if t.role == role)
        units = sum(len(t.text) for t in built if t.role == role)
        return RoleMetrics(
            talk_time_ms=talk,
            talk_ratio=talk / clock,
            turns=sum(t.role == role for t in built),
            units=units,
            speech_rate=units / (talk / 60000) if talk else None,
            speech_rate_unit="chars_per_min" if language == "zh" else "words_per_min",
            loudness_dbfs=-20.0,
        )

    return TranscriptDocument(
        recording_id=recording_id,
        language=language,
        model=ModelInfo(id="whisper-base", version="test"),
        channel_layout="agent_left",
        duration_ms=clock,
        speakers=Speakers(method="stereo_channels", agent_confidence=1, agent_identified_by="channel layout"),
        turns=built,
        metrics=ConversationMetrics(
            duration_ms=clock,
            roles={"agent": role_metrics("agent"), "customer": role_metrics("customer")},
            non_talk_time_ms=0,
            non_talk=[],
            overlaps=[],
            interruptions={},
            response_latencies=[],
            mean_response_latency_ms=None,
            max_response_latency_ms=None,
        ),
    )


RUDE_CALL = [
    ("agent", "喂，什么事？"),
    ("customer", "我的宽带又断了，你们怎么回事，我要投诉！"),
    ("agent", "不知道，那你想好了再打来吧。"),
    ("customer", "你这是什么态度？"),
    ("agent", "神经病。"),
]
GOOD_CALL = [
    ("agent", "您好，这里是客服中心，工号一零一七，请问有什么可以帮您？"),
    ("customer", "我想查一下这个月的账单。"),
    ("agent", "好的，请您提供一下手机号码，我帮您核实一下。"),
    ("customer", "一三八零零一三八零零零。"),
    ("agent", "谢谢您，请稍等。您本月的账单是九十八元，请问还有其他可以帮您的吗？"),
    ("customer", "没有了，谢谢。"),
    ("agent", "感谢您的来电，祝您生活愉快，再见。"),
]


@pytest.fixture
def settings(kafka_settings: KafkaSettings, ministack_server: servers.Server, sqlite_url: str, unique: str) -> Settings:
    settings = Settings(
        database_url=sqlite_url,
        kafka=kafka_settings,
        s3=S3Settings(endpoint=f"127.0.0.1:{ministack_server.port}"),
        transcripts_bucket=f"transcripts-{unique}",
        consumer_group=f"scorer-{unique}",
        auth=AuthSettings(jwt_secret=JWT_SECRET),  # type: ignore[arg-type]
    )
    Database(settings.database_url).migrate(MIGRATIONS_DIR)
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        deadline = time.monotonic() + 30
        while test_client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield test_client


def ready_event(doc: TranscriptDocument, **payload: Any) -> TranscriptReadyEvent:
    return TranscriptReadyEvent(
        correlation_id=doc.recording_id,
        producer="tests",
        payload=TranscriptReady(
            recording_id=doc.recording_id,
            agent_id=payload.get("agent_id", "agent-1"),
            group=payload.get("group", "billing"),
            queue=payload.get("queue", "billing-zh"),
            started_at=payload.get("started_at", datetime(2026, 11, 2, 9, tzinfo=UTC)),
            language=doc.language,
            model_version="whisper-base@test",
            duration_ms=doc.duration_ms,
            transcript_key=f"transcripts/{doc.recording_id}.json",
            document=doc.model_dump(mode="json"),
        ),
    )


def publish(kafka: KafkaSettings, *events: TranscriptReadyEvent | RecordingPurgedEvent) -> None:
    async def send() -> None:
        async with Bus(kafka) as bus:
            for event in events:
                await bus.publish(event)

    asyncio.run(send())


def scored(
    kafka: KafkaSettings, recording_id: str, expect: int = 1, timeout: float = 30
) -> list[EvaluationScoredEvent]:
    deadline = time.monotonic() + timeout
    while True:
        records = asyncio.run(read_all(kafka, SCORED_TOPIC, expected=10**9, timeout=1.0))
        mine = [EvaluationScoredEvent.model_validate_json(r.value) for r in records if r.key == recording_id.encode()]
        if len(mine) >= expect or time.monotonic() > deadline:
            return mine
        time.sleep(0.2)


def test_a_transcript_event_produces_exactly_one_evaluation_with_evidence(
    client: TestClient, settings: Settings, unique: str
) -> None:
    rude = transcript(f"rude-{unique}", RUDE_CALL)
    publish(settings.kafka, ready_event(rude), ready_event(rude))  # the duplicate must be harmless
    (event,) = scored(settings.kafka, rude.recording_id)
    evaluation = event.payload
    assert (evaluation.scorecard_id, evaluation.scorecard_version) == ("default-zh", 1)
    assert evaluation.auto_failed and not evaluation.passed and evaluation.percentage == 0
    items = {item.item_id: item for item in evaluation.items}
    assert items["insults"].result == "fail"
    assert items["forbidden_phrases"].result == "fail"
    evidence = items["forbidden_phrases"].evidence[0]
    assert evidence.turn_id in {"t0", "t2"} and evidence.text and evidence.begin_ms is not None
    time.sleep(1.5)
    assert len(scored(settings.kafka, rude.recording_id, expect=2, timeout=1)) == 1, "exactly one"

    stored = client.get(f"/v1/evaluations/{evaluation.evaluation_id}", headers=QA).json()
    assert stored["percentage"] == 0 and stored["scorecard_version"] == 1
    listed = client.get("/v1/evaluations", params={"agent_id": "agent-1", "passed": False}, headers=QA).json()
    assert [e["recording_id"] for e in listed["items"]] == [rude.recording_id]

    publish(settings.kafka, recording_purged(rude.recording_id))
    deadline = time.monotonic() + 20
    while not client.get(f"/v1/evaluations/{evaluation.evaluation_id}", headers=QA).json()["evidence_purged"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    after = client.get(f"/v1/evaluations/{evaluation.evaluation_id}", headers=QA).json()
    assert after["percentage"] == 0, "scores stay"
    assert all(e["text"] is None for item in after["items"] for e in item["evidence"]), "the words go"


def test_scorecards_are_versioned_validated_and_dry_run(client: TestClient) -> None:
    card = default_scorecard("zh").model_dump(mode="json") | {"id": "billing-zh", "name": "Billing (zh)"}
    created = client.post("/v1/scorecards", json=card, headers=QA)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert client.post("/v1/scorecards", json=card, headers=QA).status_code == 409
    edited = copy.deepcopy(card)
    edited["pass_threshold"] = 90
    assert client.put("/v1/scorecards/billing-zh", json=edited, headers=QA).json()["version"] == 2
    versions = client.get("/v1/scorecards/billing-zh/versions", headers=QA).json()
    assert [(v["version"], v["document"]["pass_threshold"]) for v in versions] == [(1, card["pass_threshold"]), (2, 90)]
    assert client.get("/v1/scorecards/billing-zh/versions/1", headers=QA).json()["version"] == 1
    ids = [c["id"] for c in client.get("/v1/scorecards", headers=QA).json()["items"]]
    assert {"billing-zh", "default-zh", "default-en"} <= set(ids)

    broken = copy.deepcopy(card)
    broken["sections"][1]["items"][0]["points"] = -5
    problem = client.post("/v1/scorecards/validate", json=broken, headers=QA)
    assert problem.status_code == 422
    assert problem.json()["errors"][0]["field"] == "sections[1].items[0].points"
    assert client.post("/v1/scorecards/validate", json=card, headers=QA).json()["valid"] is True

    good = transcript("dry-run", GOOD_CALL).model_dump(mode="json")
    result = client.post("/v1/scorecards/billing-zh/dry-run", json=good, headers=QA).json()
    assert result["scorecard_version"] == 2 and result["passed"] is True, result
    stored = client.get("/v1/evaluations", params={"limit": 500}, headers=QA).json()["items"]
    assert "dry-run" not in {e["recording_id"] for e in stored}, "a dry run stores nothing"

    assert client.post("/v1/scorecards", json=card).status_code == 401
    assert client.post("/v1/scorecards", json=card, headers=bearer(Role.agent)).status_code == 403
    assert client.get("/v1/scorecards/nope", headers=QA).status_code == 404


def test_a_pathological_user_regex_cannot_stall_scoring(client: TestClient) -> None:
    card = default_scorecard("en").model_dump(mode="json") | {"id": "regex-en"}
    card["sections"][0]["items"].append(
        {
            "id": "evil",
            "name": "catastrophic backtracking in Python re",
            "description": "",
            "kind": "deduction",
            "points": 1,
            "severity": "C",
            "condition": {"type": "regex", "role": "any", "pattern": "(a+)+$"},
        }
    )
    assert client.post("/v1/scorecards", json=card, headers=QA).status_code == 201
    evil = transcript("evil", [("agent", "a" * 5000 + "b"), ("customer", "a" * 5000 + "!")], language="en")
    started = time.perf_counter()
    response = client.post("/v1/scorecards/regex-en/dry-run", json=evil.model_dump(mode="json"), headers=QA)
    assert response.status_code == 200
    assert time.perf_counter() - started < 2, "linear-time engine: no catastrophic backtracking"
    assert client.post("/v1/scorecards/validate", json=card | {"id": "x"}, headers=QA).status_code == 200
    bad = copy.deepcopy(card)
    bad["sections"][0]["items"][-1]["condition"]["pattern"] = "(?<=look)behind"  # not linear-time: refused
    assert client.post("/v1/scorecards/validate", json=bad, headers=QA).status_code == 422


def test_rescoring_past_calls_with_a_new_version_runs_in_the_background(
    client: TestClient, settings: Settings, unique: str
) -> None:
    docs = [transcript(f"past-{unique}-{n}", GOOD_CALL) for n in range(3)]
    # Re-scoring reads the transcripts back from the transcriber's bucket.
    transcripts = ObjectStore.from_settings(settings.s3.model_copy(update={"bucket": settings.transcripts_bucket}))
    transcripts.ensure_bucket()
    for doc in docs:
        transcripts.put_bytes(f"transcripts/{doc.recording_id}.json", doc.model_dump_json().encode())
    publish(settings.kafka, *(ready_event(doc) for doc in docs))
    for doc in docs:
        assert scored(settings.kafka, doc.recording_id)
    card = client.get("/v1/scorecards/default-zh", headers=QA).json()["document"]
    card["pass_threshold"] = 99
    assert client.put("/v1/scorecards/default-zh", json=card, headers=QA).json()["version"] == 2
    job = client.post(
        "/v1/scorecards/default-zh/rescore",
        json={"group": "billing", "started_from": "2026-11-01T00:00:00Z"},
        headers=QA,
    )
    assert job.status_code == 202
    deadline = time.monotonic() + 30
    while (status := client.get(f"/v1/rescore-jobs/{job.json()['id']}", headers=QA).json())["status"] != "done":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["total"] >= 3 and status["done"] == status["total"] and status["progress"] == 1.0
    v2 = client.get("/v1/evaluations", params={"scorecard_id": "default-zh", "limit": 100}, headers=QA).json()["items"]
    versions = {(e["recording_id"], e["scorecard_version"]) for e in v2}
    assert all((doc.recording_id, 2) in versions for doc in docs)
    assert all((doc.recording_id, 1) in versions for doc in docs), "the earlier evaluations stay"
