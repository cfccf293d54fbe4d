"""The training library (seed 001) against the real object stores (moto and ministack) and broker: coaching
learns the redacted copy's key from `transcript.ready` and serves a breakpoint's range from that copy only;
agents see what is assigned to them; learning records validate; the FAQ groups what customers ask first;
`recording.purged` takes the call out of the library and the FAQ."""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from callqa.settings import KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from callqa_stack.factories import recording_purged
from tests.coaching.helpers import (
    AGENT,
    OTHER_AGENT,
    QA,
    SUPERVISOR,
    TRAINER,
    make_settings,
    scored,
    send,
    started,
    wait_for,
)
from tests.scorer.helpers import GOOD_CALL, ready_event, transcript

pytestmark = pytest.mark.timeout(180)
RATE = 8000


@pytest.fixture
def store(s3_endpoint: str) -> ObjectStore:
    found = ObjectStore.from_settings(
        S3Settings(endpoint=s3_endpoint, bucket=f"transcripts-{uuid.uuid4().hex[:8]}", object_lock=False)
    )
    found.ensure_bucket()
    return found


@pytest.fixture
def app(tmp_path: Path, private_kafka_settings: KafkaSettings, store: ObjectStore) -> Iterator[TestClient]:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'coaching.db'}",
        private_kafka_settings,
        s3=store.settings,
        transcripts_bucket=store.bucket,
        sweep_interval_s=0,
    )
    yield from started(settings)


def tone_wav(seconds: int) -> tuple[bytes, bytes]:
    """A 16-bit mono WAV whose every sample differs (so a slice is recognisable); (file, frames)."""
    frames = b"".join(((n * 7) % 65536).to_bytes(2, "little") for n in range(seconds * RATE))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return out.getvalue(), frames


def frames_of(body: bytes) -> bytes:
    with wave.open(io.BytesIO(body)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return w.readframes(w.getnframes())


def call(app: TestClient, kafka: KafkaSettings, turns: list[tuple[str, str]], audio_key: str | None = None) -> str:
    """A scored call and its transcript.ready (over the broker); returns the evaluation id."""
    rid = str(uuid.uuid4())
    document = transcript(rid, turns)
    document.redacted_audio_key = audio_key
    evaluation = scored(recording_id=rid)
    app.app.state.ledger.on_evaluation_scored(evaluation)  # type: ignore[attr-defined]
    send(kafka, ready_event(document, agent_id="agent-7"))
    return evaluation.evaluation_id


def test_breakpoints_serve_the_redacted_range(
    app: TestClient, private_kafka_settings: KafkaSettings, store: ObjectStore
) -> None:
    body, frames = tone_wav(10)
    key = f"redacted-audio/{uuid.uuid4()}/whisper.wav"
    store.put_bytes(key, body, content_type="audio/wav")
    eid = call(app, private_kafka_settings, GOOD_CALL, key)
    recording = app.get(f"/v1/evaluations/{eid}", headers=QA).json()["recording_id"]
    wait_for(lambda: refreshed(app)["entries"])  # transcript.ready seen, the FAQ computed with the call

    item = {
        "evaluation_id": eid,
        "kind": "exemplary",
        "title": "A clean bill enquiry",
        "purpose": "verify identity before quoting the bill",
        "strengths": ["asks for the number first"],
        "weaknesses": [],
        "breakpoints": [
            {"at_ms": 2000, "question": "What do you ask first?", "model_reply": "the phone number"},
            {
                "at_ms": 5000,
                "question": "How do you close?",
                "model_reply": "thank and offer more",
                "reply_end_ms": 7000,
            },
        ],
    }
    assert app.post("/v1/library-items", json=item, headers=QA).status_code == 403  # trainers curate
    unordered = app.post("/v1/library-items", json={**item, "breakpoints": item["breakpoints"][::-1]}, headers=TRAINER)
    assert unordered.status_code == 422 and unordered.json()["errors"][0]["field"] == "breakpoints[1].at_ms"
    created = app.post("/v1/library-items", json=item, headers=TRAINER)
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    base = f"/v1/library-items/{iid}/breakpoints"

    prompt = app.get(f"{base}/0/audio", headers=QA)
    assert prompt.status_code == 200 and prompt.headers["content-type"] == "audio/wav"
    assert frames_of(prompt.content) == frames[: 2 * RATE * 2]
    reply = app.get(f"{base}/1/audio", params={"part": "reply"}, headers=QA)
    assert frames_of(reply.content) == frames[5 * RATE * 2 : 7 * RATE * 2]
    url = app.get(f"{base}/1/audio", params={"part": "reply", "delivery": "url"}, headers=QA).json()["url"]
    assert url.endswith("#t=5.000,7.000") and key in url
    assert httpx.get(url.split("#")[0]).content == body  # the redacted copy, nothing else
    assert app.get(f"{base}/9/audio", headers=QA).status_code == 404

    assert app.get(f"/v1/library-items/{iid}", headers=AGENT).status_code == 403  # not assigned yet
    assigned = app.post(
        "/v1/learning-assignments", json={"library_item_id": iid, "agent_ids": ["agent-7"]}, headers=TRAINER
    )
    assert assigned.status_code == 201
    assert app.get(f"{base}/0/audio", headers=AGENT).status_code == 200
    assert app.get("/v1/library-items", headers=AGENT).json()["total"] == 1
    assert app.get("/v1/library-items", headers=OTHER_AGENT).json()["total"] == 0
    done = app.post(f"/v1/learning-assignments/{assigned.json()[0]['id']}/complete", headers=AGENT)
    assert done.json()["status"] == "completed"

    send(private_kafka_settings, recording_purged(recording))
    wait_for(lambda: app.get(f"/v1/library-items/{iid}", headers=QA).status_code == 404)
    # the stored FAQ loses the call at once, before any recomputation: its words are nowhere in it
    stored = app.get("/v1/faq", params={"min_calls": 1}, headers=QA)
    assert stored.json()["entries"] == [] and stored.json()["stale"] is True
    assert GOOD_CALL[1][1] not in stored.text


def test_learning_records_validate(app: TestClient) -> None:
    record = {
        "did_before": "I quoted the bill before checking who called",
        "learned": "verify identity first",
        "will_improve": "ask for the number in the first minute",
        "points_this_week": ["verify identity", "close with thanks"],
    }
    one = app.post("/v1/learning-records", json={**record, "points_this_week": ["only one"]}, headers=AGENT)
    assert one.status_code == 422 and "points_this_week" in one.text
    blank = app.post("/v1/learning-records", json={**record, "learned": "  "}, headers=AGENT)
    assert blank.status_code == 422
    plan = app.post(
        "/v1/improvement-plans",
        json={"agent_id": "agent-8", "scorecard_id": "test-card", "focus_items": ["closing"]},
        headers=SUPERVISOR,
    ).json()
    theirs = app.post("/v1/learning-records", json={**record, "plan_id": plan["id"]}, headers=AGENT)
    assert theirs.status_code == 422 and theirs.json()["errors"][0]["field"] == "plan_id"
    mine = app.post("/v1/learning-records", json={**record, "plan_id": plan["id"]}, headers=OTHER_AGENT)
    assert mine.status_code == 201 and mine.json()["agent_id"] == "agent-8" and mine.json()["day"]
    assert app.get(f"/v1/learning-records/{mine.json()['id']}", headers=AGENT).status_code == 403
    assert app.get("/v1/learning-records", params={"plan_id": plan["id"]}, headers=SUPERVISOR).json()["total"] == 1
    assert app.post("/v1/learning-records", json=record, headers=QA).status_code == 403


def refreshed(app: TestClient, min_calls: int = 1) -> dict[str, Any]:
    answer = app.post("/v1/faq/refresh", params={"min_calls": min_calls}, headers=TRAINER)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_faq_groups_first_requests(app: TestClient, private_kafka_settings: KafkaSettings) -> None:
    never = app.get("/v1/faq", headers=AGENT).json()
    assert never == {"computed_at": None, "stale": True, "calls": 0, "entries": []}
    bills = ["我想查一下这个月的账单。", "我想查询这个月的账单", "查一下我这个月的账单"]
    broadband = ["我要办理宽带报装。", "宽带报装怎么办理"]
    for n, text in enumerate(bills + broadband):
        call(app, private_kafka_settings, [("agent", "您好"), ("customer", text), ("agent", f"好的，第{n}位")])
    wait_for(lambda: sum(e["calls"] for e in refreshed(app, 2)["entries"]) == 5)
    faq = app.get("/v1/faq", headers=AGENT).json()
    entries = faq["entries"]
    assert [e["calls"] for e in entries] == [3, 2] and faq["calls"] == 5
    assert faq["computed_at"] and faq["stale"] is False
    assert entries[0]["question"] in bills and entries[1]["question"] in broadband
    assert all(a["text"].startswith("好的") and a["evaluation_id"] for a in entries[0]["answers"]), entries
    assert app.post("/v1/faq/refresh", headers=AGENT).status_code == 403

    # materialised: reading does not recompute; nothing changed, the periodic task leaves it be
    library = app.app.state.library  # type: ignore[attr-defined]
    assert library.refresh_faq() == {"recomputed": 0}
    call(app, private_kafka_settings, [("customer", "我要办理宽带报装"), ("agent", "好的，三天")])
    wait_for(lambda: app.get("/v1/faq", headers=AGENT).json()["stale"])  # a new call changed what feeds it
    assert app.get("/v1/faq", headers=AGENT).json()["computed_at"] == faq["computed_at"]
    ran = app.app.state.scheduler.tick(force=True)  # type: ignore[attr-defined]
    assert ran["faq"] == {"recomputed": 1, "entries": 2}
    after = app.get("/v1/faq", headers=AGENT).json()
    assert after["stale"] is False and [e["calls"] for e in after["entries"]] == [3, 3]
