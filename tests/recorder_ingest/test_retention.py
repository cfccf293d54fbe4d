"""Legal hold, erasure requests and the retention purge."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from callqa.auth import Role
from callqa.events import RecordingPurgedEvent
from callqa.storage import ObjectStore
from recorder_ingest.archive import RecordingArchive
from recorder_ingest.config import Settings
from tests.recorder_ingest.helpers import AUDITOR, PURGED_TOPIC, bearer, events_for, metadata, post

SUPERVISOR = bearer(Role.supervisor, subject="sup-wu")
LONG_AGO = "2020-01-01T09:00:00+08:00"  # default policy: 180 days, long expired


def archive_of(client: TestClient) -> RecordingArchive:
    archive: RecordingArchive = client.app.state.archive  # type: ignore[attr-defined]
    return archive


def audio_key(client: TestClient, recording_id: str) -> str:
    key = archive_of(client).get(recording_id).audio_key
    assert key is not None
    return key


def test_legal_hold_blocks_erasure_until_released_and_everything_is_audited(
    client: TestClient, ingest_settings: Settings, store: ObjectStore, stereo_wav: Path
) -> None:
    recording_id = post(client, stereo_wav, metadata("call-hold")).json()["id"]
    key = audio_key(client, recording_id)
    hold_url = f"/v1/recordings/{recording_id}/legal-hold"

    assert client.put(hold_url, json={"reason": "dispute #4411"}, headers=bearer(Role.agent)).status_code == 403
    held = client.put(hold_url, json={"reason": "dispute #4411"}, headers=SUPERVISOR)
    assert held.status_code == 200
    assert held.json()["retention"]["legal_hold"] is True
    assert store.legal_hold(key) is True, "the object itself is held (WORM)"

    refused = client.delete(f"/v1/recordings/{recording_id}", params={"reason": "erasure #88"}, headers=SUPERVISOR)
    assert refused.status_code == 409
    assert refused.json()["title"] == "Recording under legal hold"
    assert store.exists(key)

    released = client.delete(hold_url, params={"reason": "dispute settled"}, headers=SUPERVISOR)
    assert released.json()["retention"]["legal_hold"] is False
    erased = client.delete(f"/v1/recordings/{recording_id}", params={"reason": "erasure #88"}, headers=SUPERVISOR)
    assert erased.status_code == 200
    assert erased.json()["audio"]["status"] == "purged"
    assert erased.json()["retention"]["purge_reason"] == "erasure_request"
    assert erased.json()["has_customer_number"] is False, "personal data goes with the audio"
    assert not store.exists(key), "erasure removes every version despite the retention lock"

    (event,) = events_for(ingest_settings.kafka, PURGED_TOPIC, recording_id)
    assert RecordingPurgedEvent.model_validate_json(event.value).payload.reason == "erasure_request"
    again = client.delete(f"/v1/recordings/{recording_id}", params={"reason": "erasure #88"}, headers=SUPERVISOR)
    assert again.status_code == 200, "erasing twice is harmless"
    assert len(events_for(ingest_settings.kafka, PURGED_TOPIC, recording_id, expect=2, timeout=2)) == 1

    log = client.get("/v1/audit", params={"recording_id": recording_id}, headers=AUDITOR).json()["items"]
    assert [(e["action"], e["purpose"]) for e in reversed(log)] == [
        ("legal_hold.set", "dispute #4411"),
        ("legal_hold.released", "dispute settled"),
        ("recording.erased", "erasure #88"),
        ("recording.erased", "erasure #88"),
    ]


def test_a_recording_posted_with_a_legal_hold_is_held_from_the_start(
    client: TestClient, store: ObjectStore, stereo_wav: Path
) -> None:
    body = post(client, stereo_wav, metadata("call-held", legal_hold={"reason": "regulator request"})).json()
    assert body["retention"]["legal_hold"] is True
    assert store.legal_hold(audio_key(client, body["id"])) is True


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_purge_deletes_expired_recordings_but_never_held_ones_and_is_idempotent(
    client: TestClient, ingest_settings: Settings, store: ObjectStore, stereo_wav: Path, other_wav: Path, mono_wav: Path
) -> None:
    expired = post(client, stereo_wav, metadata("old-1", started_at=LONG_AGO, tags=[])).json()
    held = post(client, other_wav, metadata("old-2", started_at=LONG_AGO, tags=[])).json()
    fresh = post(client, mono_wav, metadata("new-1")).json()
    client.put(f"/v1/recordings/{held['id']}/legal-hold", json={"reason": "litigation"}, headers=SUPERVISOR)
    expired_key = audio_key(client, expired["id"])
    before = metric("callqa_ingest_purged_total")

    report = archive_of(client).purge_expired()
    assert (report.purged, report.skipped_hold, report.failed) == (1, 1, 0)
    assert metric("callqa_ingest_purged_total") == before + 1
    assert not store.exists(expired_key)
    assert store.exists(audio_key(client, held["id"]))
    assert store.exists(audio_key(client, fresh["id"]))
    qa = bearer(Role.qa_analyst)
    tombstone = client.get(f"/v1/recordings/{expired['id']}", headers=qa).json()
    assert tombstone["audio"]["status"] == "purged"
    assert tombstone["retention"]["purge_reason"] == "retention_expired"

    again = archive_of(client).purge_expired()
    assert (again.purged, again.skipped_hold, again.failed) == (0, 1, 0)
    (event,) = events_for(ingest_settings.kafka, PURGED_TOPIC, expired["id"])
    assert RecordingPurgedEvent.model_validate_json(event.value).payload.reason == "retention_expired"
    assert events_for(ingest_settings.kafka, PURGED_TOPIC, held["id"], timeout=1) == []


def test_a_purge_the_store_refuses_is_counted_failed_and_retried(
    client: TestClient, store: ObjectStore, stereo_wav: Path
) -> None:
    recording_id = post(client, stereo_wav, metadata("old-locked", started_at=LONG_AGO, tags=[])).json()["id"]
    key = audio_key(client, recording_id)
    store.set_legal_hold(key, True)  # the store disagrees with the database: WORM wins
    report = archive_of(client).purge_expired()
    assert (report.purged, report.failed) == (0, 1)
    assert client.get(f"/v1/recordings/{recording_id}", headers=bearer(Role.qa_analyst)).json()["audio"]["status"] == (
        "stored"
    )
    store.set_legal_hold(key, False)
    assert archive_of(client).purge_expired().purged == 1


def test_orphan_objects_are_swept_but_referenced_ones_are_kept(
    client: TestClient, store: ObjectStore, stereo_wav: Path
) -> None:
    recording_id = post(client, stereo_wav, metadata("call-kept")).json()["id"]
    store.put_bytes("recordings/2026/11/02/00000000-dead-beef-0000-000000000000.wav", b"left by a crash")
    assert archive_of(client).sweep_orphans() == 1
    assert list(store.list_keys("recordings/")) == [audio_key(client, recording_id)]
