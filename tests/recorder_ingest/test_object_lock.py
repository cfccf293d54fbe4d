"""A compliance store must not silently downgrade (issue 13). ministack, the local stack's object store,
comes back from a restart (`./run stack down` + `up`) with the objects but without the bucket's object-lock
configuration, legal holds or retention dates. recorder-ingest restores them from its database, refuses
audio it cannot protect (503 problem details) and never leaves audio without a row. Each test runs
ministack of its own the way `./run stack up` does (S3_PERSIST in a data folder) and restarts it; the
service is configured from its environment."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import urllib3
from fastapi.testclient import TestClient
from minio import Minio
from minio.error import S3Error
from prometheus_client import REGISTRY
from sqlalchemy import text

from callqa.auth import Role
from callqa.db import Database
from callqa.settings import KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from callqa_stack import servers
from recorder_ingest.archive import RecordingArchive
from recorder_ingest.config import Settings
from recorder_ingest.main import create_app
from tests.recorder_ingest.helpers import (
    bearer,
    configure_from_environment,
    ingest_environment,
    metadata,
    post,
    rows,
    wait_for,
)

pytestmark = pytest.mark.timeout(180)
SUPERVISOR = bearer(Role.supervisor, subject="sup-wu")


@pytest.fixture
def own_store(server_logs: Path, tmp_path: Path) -> Iterator[servers.Server]:
    """ministack with persistence, as `./run stack up` starts it, for this test alone (it restarts it)."""
    server = servers.ministack(
        servers.free_port(), server_logs / f"ministack-{uuid.uuid4().hex[:8]}.log", tmp_path / "s3"
    )
    server.start()
    yield server
    server.stop()


def restart(server: servers.Server) -> None:
    server.stop()  # SIGTERM, as `./run stack down` does
    server.start()


Configure = Callable[..., Settings]


@pytest.fixture
def configure(
    own_store: servers.Server,
    kafka_settings: KafkaSettings,
    sqlite_url: str,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Configure:
    def settings(**extra: str) -> Settings:
        environment = ingest_environment(kafka_settings, f"127.0.0.1:{own_store.port}", sqlite_url, f"ingest-{unique}")
        return configure_from_environment(monkeypatch, environment | extra)

    return settings


def store_of(settings: Settings) -> ObjectStore:
    return ObjectStore.from_settings(settings.s3)


# What the store itself says, asked with the SDK directly (not through the code under test).
def lock_configured(store: ObjectStore) -> bool:
    try:
        store.client.get_object_lock_config(store.bucket)
    except S3Error:
        return False
    return True


def held(store: ObjectStore, key: str) -> bool:
    try:
        return bool(store.client.is_object_legal_hold_enabled(store.bucket, key))
    except S3Error:  # the bucket has no object lock (yet)
        return False


def retained_until(store: ObjectStore, key: str) -> datetime | None:
    header = (store.client.stat_object(store.bucket, key).metadata or {}).get("x-amz-object-lock-retain-until-date")
    return datetime.fromisoformat(header) if header else None


def restored_total(kind: str) -> float:
    return REGISTRY.get_sample_value("callqa_ingest_object_locks_restored_total", {"kind": kind}) or 0.0


def audio_key(client: TestClient, recording_id: str) -> str:
    key = client.app.state.archive.get(recording_id).audio_key  # type: ignore[attr-defined]
    assert isinstance(key, str)
    return key


def test_a_running_service_refuses_audio_it_cannot_protect_then_restores_the_locks(
    configure: Configure, own_store: servers.Server, stereo_wav: Path, other_wav: Path, mono_wav: Path
) -> None:
    settings = configure(OBJECT_LOCK_CHECK_INTERVAL_S="3600")  # only a failing lock operation triggers a check
    store = store_of(settings)
    with TestClient(create_app(settings)) as client:
        hold = {"reason": "regulator request #7"}
        kept = post(client, stereo_wav, metadata("call-held", legal_hold=hold)).json()
        plain = post(client, other_wav, metadata("call-plain")).json()
        held_key, plain_key = audio_key(client, kept["id"]), audio_key(client, plain["id"])
        assert held(store, held_key) and retained_until(store, plain_key) is not None
        before = restored_total("legal_hold")

        restart(own_store)
        assert not lock_configured(store), "the store came back without object lock"
        assert not held(store, held_key)

        refused = post(client, mono_wav, metadata("call-after-restart"))
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Object lock unavailable"
        assert refused.headers["retry-after"] == str(settings.retry_after_s)
        assert sorted(store.list_keys("recordings/")) == sorted([held_key, plain_key]), "no audio left behind"
        assert [r.call_id for r in rows(settings)] == ["call-held", "call-plain"], "and no row"

        # The failure woke the keeper: object lock, the hold and the retention dates come back from the database.
        wait_for(lambda: held(store, held_key) and retained_until(store, plain_key) is not None, timeout=30)
        assert lock_configured(store)
        assert retained_until(store, plain_key) == datetime.fromisoformat(plain["retention"]["retain_until"])
        assert restored_total("legal_hold") >= before + 1
        wait_for(lambda: client.get("/readyz").status_code == 200)

        accepted = post(client, mono_wav, metadata("call-after-restart"))
        assert accepted.status_code == 201, accepted.text
        assert retained_until(store, audio_key(client, accepted.json()["id"])) is not None
        assert client.put(
            f"/v1/recordings/{plain['id']}/legal-hold", json={"reason": "dispute"}, headers=SUPERVISOR
        ).json()["retention"]["legal_hold"]
        assert held(store, plain_key)


def purges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each run of the retention loop's purge, counted (and skipped: the test has nothing to purge)."""
    runs: list[int] = []
    monkeypatch.setattr(RecordingArchive, "purge_expired", lambda self, *args, **kwargs: runs.append(1))
    return runs


def test_a_service_started_after_the_store_lost_its_locks_restores_them(
    configure: Configure,
    own_store: servers.Server,
    stereo_wav: Path,
    other_wav: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = configure(OBJECT_LOCK_CHECK_INTERVAL_S="0.2")
    store = store_of(settings)
    with TestClient(create_app(settings)) as client:
        kept = post(client, stereo_wav, metadata("call-held", legal_hold={"reason": "litigation"})).json()
        held_key = audio_key(client, kept["id"])
    # `./run stack down` + `up`: the store restarts, then a fresh service starts on the same database.
    restart(own_store)
    assert not held(store, held_key)
    runs = purges(monkeypatch)
    with TestClient(create_app(configure(OBJECT_LOCK_CHECK_INTERVAL_S="0.2", PURGE_INTERVAL_S="0.1"))) as client:
        wait_for(lambda: held(store, held_key) and retained_until(store, held_key) is not None, timeout=30)
        assert retained_until(store, held_key) == datetime.fromisoformat(kept["retention"]["retain_until"])
        wait_for(lambda: client.app.state.archive.lock.protected)  # type: ignore[attr-defined]
        refused = client.delete(f"/v1/recordings/{kept['id']}", params={"reason": "erasure #1"}, headers=SUPERVISOR)
        assert refused.status_code == 409, "still under legal hold"
        assert post(client, other_wav, metadata("call-new")).status_code == 201
        assert client.get("/readyz").json()["checks"]["object_lock"] is True
        wait_for(lambda: len(runs) > 0)  # the purge runs once the locks are back


def test_a_store_that_will_not_turn_object_lock_on_gets_no_audio(
    configure: Configure, stereo_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configure(OBJECT_LOCK_CHECK_INTERVAL_S="0.2", PURGE_INTERVAL_S="0.1")
    runs = purges(monkeypatch)
    # A bucket made without object lock, on a store that allows it only at creation (MinIO).
    ObjectStore(S3Settings(**(settings.s3.model_dump() | {"object_lock": False}))).ensure_bucket()

    def refuse(self: Minio, bucket_name: str, config: object) -> None:
        message = "Object Lock configuration cannot be enabled on existing buckets"
        raise S3Error(urllib3.HTTPResponse(status=409), "InvalidBucketState", message, f"/{bucket_name}", "r", "h")

    monkeypatch.setattr(Minio, "set_object_lock_config", refuse)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["object_lock"] is False
        refused = post(client, stereo_wav, metadata("call-unprotected"))
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Object lock unavailable"
        assert "no object lock" in refused.json()["detail"]
        time.sleep(1)
        assert runs == [], "nothing is purged while the store's protection is in doubt"
    assert rows(settings) == []
    assert list(store_of(settings).list_keys("recordings/")) == []


def test_audio_whose_row_cannot_be_written_is_removed(configure: Configure, stereo_wav: Path) -> None:
    settings = configure()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        db = Database(settings.database_url)
        with db.engine.begin() as connection:  # the row and its event commit together: make that fail
            connection.execute(text("ALTER TABLE outbox RENAME TO outbox_elsewhere"))
        failed = post(client, stereo_wav, metadata("call-no-row"))
        assert failed.status_code == 500
        assert failed.headers["content-type"] == "application/problem+json"
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE outbox_elsewhere RENAME TO outbox"))
        db.dispose()
    assert rows(settings) == []
    assert list(store_of(settings).list_keys("recordings/")) == [], "no audio without a row"
