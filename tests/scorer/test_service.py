"""The scorer service against a real broker, object store and database: scorecard API with
versions, validation and dry-run; transcript.ready -> exactly one evaluation.scored; re-scoring;
purge; a pathological user regex cannot stall it."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from callqa.auth import Role
from callqa.db import Database
from callqa.settings import AuthSettings, KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from callqa_stack import servers
from callqa_stack.factories import recording_purged
from scorer.config import MIGRATIONS_DIR, Settings
from scorer.main import create_app
from scorer.scorecard import default_scorecard
from tests.scorer.helpers import (
    GOOD_CALL,
    JWT_SECRET,
    QA,
    RUDE_CALL,
    bearer,
    publish,
    ready_event,
    scored,
    transcript,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def kafka_settings(private_kafka_settings: KafkaSettings) -> KafkaSettings:
    return private_kafka_settings


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
    # What sampling and reviewers need travels with it: the call's facts, the pass mark, each item's maximum.
    assert (evaluation.direction, evaluation.tags, evaluation.duration_ms) == (
        "inbound",
        ["complaint"],
        rude.duration_ms,
    )
    assert evaluation.pass_threshold == 80
    assert (items["insults"].kind, items["forbidden_phrases"].kind) == ("auto_fail", "deduction")
    assert all(item.max_points is not None for item in evaluation.items)
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
    draft = copy.deepcopy(edited)  # a draft with one section left: scored as it is, never saved
    draft["sections"] = draft["sections"][:1]
    tried = client.post("/v1/scorecards/dry-run", json={"scorecard": draft, "transcript": good}, headers=QA)
    assert tried.status_code == 200, tried.text
    assert len(tried.json()["items"]) == len(draft["sections"][0]["items"]) < len(result["items"])
    assert tried.json()["scorecard_version"] is None
    assert len(client.get("/v1/scorecards/billing-zh/versions", headers=QA).json()) == 2
    refused = client.post("/v1/scorecards/dry-run", json={"scorecard": broken, "transcript": good}, headers=QA)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "sections[1].items[0].points"
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
    # a call of the same size first: the card's compilation and the encoder's loading are no part of the regex's time
    benign = transcript("benign", [("agent", "b" * 5001), ("customer", "b" * 5001)], language="en")
    warm = client.post("/v1/scorecards/regex-en/dry-run", json=benign.model_dump(mode="json"), headers=QA)
    assert warm.status_code == 200
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
