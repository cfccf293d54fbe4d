"""Faults: broker down while posting, and the process killed between the steps of an upload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from callqa.storage import ObjectStore
from callqa_stack import servers
from recorder_ingest.config import Settings
from recorder_ingest.main import create_app
from tests.recorder_ingest.helpers import (
    PLATFORM,
    STORED_TOPIC,
    events_for,
    metadata,
    migrated,
    post,
    settings_json,
)

pytestmark = pytest.mark.timeout(180)


def test_broker_down_while_posting_then_events_flow_when_it_is_back(
    ingest_settings: Settings, server_logs: Path, stereo_wav: Path, other_wav: Path
) -> None:
    port = servers.free_port()
    kafka = ingest_settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})
    settings = migrated(ingest_settings.model_copy(update={"kafka": kafka}))
    with TestClient(create_app(settings)) as client:
        ids = [
            post(client, audio, metadata(f"call-offline-{i}")).json()["id"]
            for i, audio in enumerate((stereo_wav, other_wav))
        ]
        assert all(ids), "uploads succeed while the broker is down"
        broker = servers.tansu(port, server_logs / "tansu-late.log")
        broker.start()
        try:
            for recording_id in ids:
                assert len(events_for(kafka, STORED_TOPIC, recording_id, timeout=60)) == 1
        finally:
            broker.stop()


# Runs the real app under uvicorn, with one step of the upload made fatal (os._exit = kill -9:
# no cleanup, no exception handling, no outbox flush).
CRASHING_SERVER = textwrap.dedent(
    """
    import os, sys
    import uvicorn
    from recorder_ingest.config import Settings
    from recorder_ingest.main import create_app
    from recorder_ingest import archive as archive_module
    from callqa import outbox

    settings = Settings.model_validate_json(sys.argv[1])
    crash_at = sys.argv[3]
    if crash_at == "after_audio_stored":
        original = archive_module.RecordingArchive._store_audio
        def store_then_die(self, recording, path):
            original(self, recording, path)
            os._exit(9)
        archive_module.RecordingArchive._store_audio = store_then_die
    elif crash_at == "after_commit":
        async def never_publish(self):  # the relay never gets to run before the kill
            return 0
        outbox.OutboxRelay.publish_pending = never_publish
        original_ingest = archive_module.RecordingArchive.ingest
        def ingest_then_die(self, *args, **kwargs):
            original_ingest(self, *args, **kwargs)
            os._exit(9)
        archive_module.RecordingArchive.ingest = ingest_then_die
    uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    """
)


@pytest.fixture
def crashing_server(ingest_settings: Settings, server_logs: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    settings = migrated(ingest_settings)
    port = servers.free_port()
    crash_at = os.environ.get("CALLQA_TEST_CRASH_AT", "")
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_SERVER, settings_json(settings), str(port), crash_at])
    servers.wait_for_port(port, 60, proc)  # type: ignore[arg-type]
    yield f"http://127.0.0.1:{port}", proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def post_over_http(base_url: str, audio: Path, call_id: str) -> None:
    with audio.open("rb") as f, pytest.raises(httpx.TransportError):
        httpx.post(
            f"{base_url}/v1/recordings",
            files={"audio": ("call.wav", f, "audio/wav")},
            data={"metadata": json.dumps(metadata(call_id))},
            headers=PLATFORM,
            timeout=30,
        )


@pytest.mark.parametrize("crash_at", ["after_audio_stored", "after_commit"])
def test_killed_mid_upload_loses_nothing_and_duplicates_nothing(
    crash_at: str,
    ingest_settings: Settings,
    store: ObjectStore,
    stereo_wav: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("CALLQA_TEST_CRASH_AT", crash_at)
    base_url, proc = request.getfixturevalue("crashing_server")
    post_over_http(base_url, stereo_wav, "call-crash")  # the client sees the connection die
    assert proc.wait(30) == 9

    # The platform retries against a restarted service (same database, store and broker).
    with TestClient(create_app(ingest_settings)) as client:
        retried = post(client, stereo_wav, metadata("call-crash"))
        recording_id = retried.json()["id"]
        if crash_at == "after_audio_stored":
            assert retried.status_code == 201, "no row was committed, so this is the first real acceptance"
            assert len(list(store.list_keys("recordings/"))) == 2, "the orphan from the crash + the real copy"
            assert client.app.state.archive.sweep_orphans() == 1  # type: ignore[attr-defined]
        else:
            assert retried.status_code == 200, "the row committed before the kill: the retry is a repeat"
        assert len(list(store.list_keys("recordings/"))) == 1
        events = events_for(ingest_settings.kafka, STORED_TOPIC, recording_id, expect=2, timeout=5)
    assert len(events) == 1, "exactly one recording.stored event, published by the restarted relay"
