"""The recording upload API: happy path, idempotency, rejections, access control and audit."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from callqa.auth import Role
from callqa.db import Database
from callqa.storage import ObjectStore
from recorder_ingest.config import Settings
from recorder_ingest.main import create_app
from recorder_ingest.tables import Recording
from tests.recorder_ingest.helpers import (
    AUDITOR,
    PLATFORM,
    STORED_TOPIC,
    bearer,
    events_for,
    make_audio,
    metadata,
    migrated,
    post,
    stored_payload,
)

pytestmark = pytest.mark.timeout(120)


def rows(settings: Settings) -> list[Recording]:
    with Database(settings.database_url).session() as session:
        return list(session.exec(select(Recording)))


def test_a_posted_recording_is_stored_with_its_metadata_and_announced_once(
    client: TestClient, ingest_settings: Settings, store: ObjectStore, stereo_wav: Path
) -> None:
    response = post(client, stereo_wav, metadata("call-happy"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/recordings/{body['id']}"
    assert body["audio"] | {"size": 0} == {
        "status": "stored",
        "container": "wav",
        "codec": "pcm_mulaw",
        "channels": 2,
        "sample_rate": 8000,
        "duration_ms": 2000,
        "size": 0,
        "sha256": hashlib.sha256(stereo_wav.read_bytes()).hexdigest(),
    }
    assert body["channel_layout"] == "agent_left"
    assert body["retention"]["policy"] == "complaint"  # chosen from the tag
    assert body["retention"]["retain_until"].startswith("2029-11-0")

    (row,) = rows(ingest_settings)
    assert row.audio_key is not None
    assert row.id in row.audio_key
    assert "13800138000" not in row.audio_key  # the customer's number (a uuid may hold "138" by chance)
    assert row.customer_number_hash
    assert "13800138000" not in row.customer_number_hash
    info = store.stat(row.audio_key)
    assert info.metadata["recording-id"] == row.id
    assert info.metadata["sha256"] == body["audio"]["sha256"]
    assert info.metadata["consent-status"] == "notified"
    assert info.metadata["retain-until"].startswith("2029-11-0")
    assert store.get_bytes(row.audio_key) == stereo_wav.read_bytes()
    assert store.get_retention(row.audio_key) is not None, "WORM retention set on the object"

    (event,) = events_for(ingest_settings.kafka, STORED_TOPIC, row.id)
    payload = stored_payload(event).payload
    assert (payload.audio_key, payload.channels, payload.language) == (row.audio_key, 2, "zh")
    assert events_for(ingest_settings.kafka, STORED_TOPIC, row.id, expect=2, timeout=1.5) == [event]


def test_happy_path_on_postgresql(
    ingest_settings: Settings, postgres_url: str, store: ObjectStore, stereo_wav: Path
) -> None:
    settings = migrated(ingest_settings.model_copy(update={"database_url": postgres_url}))
    with TestClient(create_app(settings)) as client:
        first = post(client, stereo_wav, metadata("call-pg"))
        again = post(client, stereo_wav, metadata("call-pg"))
        # While the app (and so its outbox relay) still runs.
        events = events_for(settings.kafka, STORED_TOPIC, first.json()["id"], expect=2, timeout=3)
    assert (first.status_code, again.status_code) == (201, 200)
    assert len(events) == 1


def test_same_call_id_and_audio_returns_the_existing_recording(
    client: TestClient, ingest_settings: Settings, stereo_wav: Path, other_wav: Path
) -> None:
    first = post(client, stereo_wav, metadata("call-dup"))
    again = post(client, stereo_wav, metadata("call-dup"))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    conflict = post(client, other_wav, metadata("call-dup"))
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["field"] == "metadata.call_id"
    assert len(rows(ingest_settings)) == 1
    assert len(events_for(ingest_settings.kafka, STORED_TOPIC, first.json()["id"], expect=2, timeout=3)) == 1


def header_only_wav(path: Path) -> bytes:
    """A well-formed WAV header announcing zero frames: the "silent header" some PBXs send."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    return path.read_bytes()


@pytest.fixture(scope="module")
def bad_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("bad")
    make_audio(folder / "good.wav").read_bytes()
    return {
        "empty": b"",
        "corrupt": b"RIFF\x24\x10\x00\x00WAVEfmt " + bytes(range(256)) * 40,
        "header_only": header_only_wav(folder / "header.wav"),
        "text": b"this is a meeting note, not audio\n" * 20,
        "too_long": make_audio(folder / "long.wav", seconds=61, channels=1).read_bytes(),
    }


@pytest.mark.parametrize(
    ("case", "status", "title"),
    [
        ("empty", 422, "Empty audio"),
        ("corrupt", 422, "Corrupt audio"),
        ("header_only", 422, "Empty audio"),
        ("text", 422, "Unsupported audio"),
        ("too_long", 413, "Audio too long"),
    ],
)
def test_bad_audio_is_rejected_naming_the_problem_and_nothing_is_stored(
    client: TestClient,
    ingest_settings: Settings,
    store: ObjectStore,
    bad_audio: dict[str, bytes],
    case: str,
    status: int,
    title: str,
) -> None:
    response = post(client, bad_audio[case], metadata(f"call-{case}"))
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["title"] == title
    assert problem["errors"][0]["field"] == "audio"
    assert problem["detail"]
    assert rows(ingest_settings) == []
    assert list(store.list_keys("recordings/")) == [], "no audio"


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ("{not json", "metadata"),
        (metadata("c1") | {"agent_id": None}, "metadata.agent_id"),
        ({k: v for k, v in metadata("c2").items() if k != "agent_id"}, "metadata.agent_id"),
        (metadata("c3", consent={"status": "maybe"}), "metadata.consent.status"),
        (metadata("c4", started_at="2026-11-02T09:30:00"), "metadata.started_at"),
        (metadata("c4b", started_at="2099-01-01T00:00:00Z"), "metadata.started_at"),
        (metadata("c5", retention_policy="forever"), "metadata.retention_policy"),
        (metadata("c6", tags=["Not A Tag"]), "metadata.tags"),
        (metadata("c7", customer_number="call me maybe"), "metadata.customer_number"),
        (metadata("c8", unexpected="x"), "metadata.unexpected"),
    ],
)
def test_metadata_errors_name_the_field_and_store_nothing(
    client: TestClient, ingest_settings: Settings, store: ObjectStore, stereo_wav: Path, meta: object, field: str
) -> None:
    response = post(client, stereo_wav, meta)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert rows(ingest_settings) == []
    assert list(store.list_keys("recordings/")) == [], "no audio"


def test_stereo_layout_on_mono_audio_is_a_metadata_error(client: TestClient, mono_wav: Path) -> None:
    response = post(client, mono_wav, metadata("call-mono", channel_layout="agent_right"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "metadata.channel_layout"
    mono = post(client, mono_wav, metadata("call-mono"))
    assert mono.status_code == 201
    assert mono.json()["channel_layout"] == "mono"


def test_missing_audio_part_is_a_field_error(client: TestClient) -> None:
    response = client.post("/v1/recordings", data={"metadata": "{}"}, headers=PLATFORM)
    assert response.status_code == 422
    assert "audio" in [e["field"] for e in response.json()["errors"]]


def test_oversized_upload_gets_413_and_nothing_is_stored(
    client: TestClient, ingest_settings: Settings, store: ObjectStore
) -> None:
    too_big = b"RIFF" + b"\0" * (ingest_settings.max_upload_bytes + 100_000)
    response = post(client, too_big, metadata("call-huge"))
    assert response.status_code == 413
    assert response.json()["title"] == "Upload too large"
    assert rows(ingest_settings) == []
    assert list(store.list_keys("recordings/")) == [], "no audio"


def test_unauthenticated_and_wrong_role_callers_are_refused(
    client: TestClient, ingest_settings: Settings, stereo_wav: Path
) -> None:
    assert post(client, stereo_wav, metadata("c-anon"), headers={}).status_code == 401
    assert post(client, stereo_wav, metadata("c-bad"), headers={"X-API-Key": "nope"}).status_code == 401
    assert post(client, stereo_wav, metadata("c-agent"), headers=bearer(Role.agent)).status_code == 403
    assert post(client, stereo_wav, metadata("c-audit"), headers=AUDITOR).status_code == 403
    assert client.get("/v1/recordings").status_code == 401
    assert client.get("/v1/recordings", headers=PLATFORM).status_code == 403, "platforms post, they do not read"
    assert client.get("/v1/audit", headers=bearer(Role.supervisor)).status_code == 403
    assert rows(ingest_settings) == []


def test_declined_consent_keeps_metadata_but_not_the_audio(
    client: TestClient, ingest_settings: Settings, store: ObjectStore, stereo_wav: Path
) -> None:
    response = post(client, stereo_wav, metadata("call-declined", consent={"status": "declined", "method": "verbal"}))
    assert response.status_code == 201
    body = response.json()
    assert body["audio"]["status"] == "audio_not_retained"
    assert "declined" in body["consent"]["outcome"]
    assert body["retention"]["policy"] == "declined"
    assert list(store.list_keys("recordings/")) == [], "no audio"
    assert events_for(ingest_settings.kafka, STORED_TOPIC, body["id"], timeout=2) == [], "not transcribed"
    assert post(client, stereo_wav, metadata("call-declined", consent={"status": "declined"})).status_code == 200
    gone = client.get(f"/v1/recordings/{body['id']}/audio", params={"purpose": "qa"}, headers=bearer(Role.qa_analyst))
    assert gone.status_code == 410


def test_search_filters_and_pages(client: TestClient, stereo_wav: Path, other_wav: Path, mono_wav: Path) -> None:
    post(client, stereo_wav, metadata("s1", agent_id="a1", tags=["complaint"], started_at="2026-11-01T10:00:00Z"))
    post(
        client,
        other_wav,
        metadata("s2", agent_id="a2", tags=["new_product"], group="sales", started_at="2026-11-03T10:00:00Z"),
    )
    post(
        client,
        mono_wav,
        metadata("s3", agent_id="a1", tags=[], customer_number="010-5555-1234", started_at="2026-11-05T10:00:00Z"),
    )
    qa = bearer(Role.qa_analyst)

    def call_ids(**params: object) -> list[str]:
        response = client.get("/v1/recordings", params=params, headers=qa)
        assert response.status_code == 200, response.text
        return [r["call_id"] for r in response.json()["items"]]

    assert call_ids() == ["s3", "s2", "s1"]
    assert call_ids(agent_id="a1") == ["s3", "s1"]
    assert call_ids(tag="complaint") == ["s1"]
    assert call_ids(group="sales") == ["s2"]
    assert call_ids(started_from="2026-11-02T00:00:00Z", started_to="2026-11-04T00:00:00Z") == ["s2"]
    assert call_ids(customer_number="010 5555 1234") == ["s3"]
    page = client.get("/v1/recordings", params={"limit": 2}, headers=qa).json()
    assert (len(page["items"]), page["total"], page["next_offset"]) == (2, 3, 2)
    assert client.get("/v1/recordings", params={"limit": 2, "offset": 2}, headers=qa).json()["next_offset"] is None
    assert client.get("/v1/recordings", params={"limit": 0}, headers=qa).status_code == 422
    own = client.get("/v1/recordings", headers=bearer(Role.agent, subject="a2")).json()
    assert [r["call_id"] for r in own["items"]] == ["s2"], "agents see only their own calls"


def test_audio_access_is_role_checked_supports_ranges_and_is_audited(client: TestClient, stereo_wav: Path) -> None:
    recording_id = post(client, stereo_wav, metadata("call-listen", agent_id="agent-9")).json()["id"]
    audio = stereo_wav.read_bytes()
    url = f"/v1/recordings/{recording_id}/audio"
    qa = bearer(Role.qa_analyst, subject="qa-lin")

    full = client.get(url, params={"purpose": "qa_review"}, headers=qa)
    assert full.status_code == 200
    assert full.content == audio
    assert full.headers["accept-ranges"] == "bytes"
    part = client.get(url, params={"purpose": "qa_review"}, headers=qa | {"Range": "bytes=10-109"})
    assert part.status_code == 206
    assert part.content == audio[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(audio)}"
    tail = client.get(url, params={"purpose": "qa_review"}, headers=qa | {"Range": "bytes=-16"})
    assert tail.content == audio[-16:]
    assert client.get(url, params={"purpose": "qa_review"}, headers=qa | {"Range": "bytes=999999-"}).status_code == 416

    link = client.get(
        url, params={"purpose": "dispute", "delivery": "url"}, headers=bearer(Role.supervisor, subject="sup-wu")
    )
    assert link.status_code == 200
    assert httpx.get(link.json()["url"]).content == audio

    assert (
        client.get(url, params={"purpose": "coaching"}, headers=bearer(Role.agent, subject="agent-9")).status_code
        == 200
    )
    assert (
        client.get(url, params={"purpose": "curious"}, headers=bearer(Role.agent, subject="agent-1")).status_code == 403
    )
    assert client.get(url, headers=qa).status_code == 422, "a purpose is required"
    assert client.get(url, params={"purpose": "qa"}, headers=PLATFORM).status_code == 403

    log = client.get("/v1/audit", params={"recording_id": recording_id, "limit": 50}, headers=AUDITOR).json()
    entries = [(e["actor"], e["action"], e["purpose"], e["outcome"]) for e in reversed(log["items"])]
    assert entries == [
        ("qa-lin", "audio.stream", "qa_review", "allowed"),
        ("qa-lin", "audio.stream", "qa_review", "allowed"),
        ("qa-lin", "audio.stream", "qa_review", "allowed"),
        ("qa-lin", "audio.stream", "qa_review", "allowed"),
        ("sup-wu", "audio.url", "dispute", "allowed"),
        ("agent-9", "audio.stream", "coaching", "allowed"),
        ("agent-1", "audio.stream", "curious", "denied"),
        ("qa-lin", "audio.stream", None, "denied"),  # refused before the handler (422, 403): audited too
        ("pbx-east", "audio.stream", "qa", "denied"),
    ]


def test_audit_log_is_append_only(client: TestClient, ingest_settings: Settings, stereo_wav: Path) -> None:
    recording_id = post(client, stereo_wav, metadata("call-audit")).json()["id"]
    client.get(f"/v1/recordings/{recording_id}/audio", params={"purpose": "qa"}, headers=bearer(Role.qa_analyst))
    engine = Database(ingest_settings.database_url).engine
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_object_store_down_answers_503_with_retry_after_and_stores_no_row(
    ingest_settings: Settings, stereo_wav: Path
) -> None:
    settings = migrated(
        ingest_settings.model_copy(update={"s3": ingest_settings.s3.model_copy(update={"endpoint": "127.0.0.1:1"})})
    )
    with TestClient(create_app(settings)) as client:
        response = post(client, stereo_wav, metadata("call-s3-down"))
        assert client.get("/readyz").status_code == 503
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(settings.retry_after_s)
    assert rows(settings) == []


@pytest.mark.parametrize(
    ("suffix", "args", "codec"),
    [
        ("wav", ["-e", "a-law"], "pcm_alaw"),
        ("wav", ["-e", "signed-integer", "-b", "16"], "pcm_s16le"),
        ("flac", [], "flac"),
        ("mp3", [], "mp3"),
        ("opus", [], "opus"),
    ],
)
def test_each_common_recorder_format_is_accepted_and_probed(
    client: TestClient, tmp_path: Path, suffix: str, args: list[str], codec: str
) -> None:
    source = make_audio(tmp_path / "source.wav", encoding="signed-integer", rate=16000)
    target = tmp_path / f"call.{suffix}"
    if suffix == "opus":  # sox writes Ogg/Opus only with some builds; ffmpeg always can
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-c:a", "libopus", str(target)], check=True)
    else:
        subprocess.run(["sox", str(source), *args, str(target)], check=True)
    response = post(client, target, metadata(f"call-{suffix}-{codec}"))
    assert response.status_code == 201, response.text
    assert response.json()["audio"]["codec"] == codec
    assert abs(response.json()["audio"]["duration_ms"] - 2000) < 100
