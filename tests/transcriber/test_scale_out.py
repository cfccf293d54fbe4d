"""Two transcriber processes in one consumer group share the calls; SIGTERM abandons a call
uncommitted and the other replica transcribes it. Real processes, broker, store and PostgreSQL."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callqa.db import Database
from callqa.settings import KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from callqa_stack import servers
from callqa_stack.samples import SampleCall
from tests.transcriber.helpers import READY_TOPIC, messages, publish, stored_event
from transcriber.config import MIGRATIONS_DIR

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def kafka_settings(private_kafka_settings: KafkaSettings) -> KafkaSettings:
    return private_kafka_settings


def replica_env(values: dict[str, str]) -> dict[str, str]:
    return {f"CALLQA_TRANSCRIBER_{k}": v for k, v in values.items()}


@pytest.fixture
def replicas(
    kafka_settings: KafkaSettings, ministack_server: servers.Server, postgres_url: str, unique: str, server_logs: Path
) -> Iterator[list[tuple[servers.Server, str]]]:
    Database(postgres_url).migrate(MIGRATIONS_DIR)
    started: list[tuple[servers.Server, str]] = []
    for n in range(2):
        port = servers.free_port()
        server = servers.Server(
            f"transcriber-{n}",
            [sys.executable, "-m", "transcriber", "serve"],
            port,
            server_logs / f"transcriber-{unique}-{n}.log",
        )
        server.env = replica_env(
            {
                "DATABASE_URL": postgres_url,
                "HTTP_PORT": str(port),
                "CONSUMER_GROUP": f"transcriber-{unique}",
                "KAFKA__BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
                "KAFKA__SESSION_TIMEOUT_MS": "2000",
                "KAFKA__HEARTBEAT_INTERVAL_MS": "500",
                "KAFKA__REBALANCE_TIMEOUT_MS": "2000",
                "S3__ENDPOINT": f"127.0.0.1:{ministack_server.port}",
                "S3__BUCKET": f"transcripts-{unique}",
                "S3__OBJECT_LOCK": "false",
                "ASR__MODEL": "tiny.en",
                "ASR__BATCH_SIZE": "0",
                "ASR__BEAM_SIZE": "1",
                "ASR__CPU_THREADS": "1",
                "ASR__CHUNK_S": "30",
                "REDACTED_AUDIO": "off",
            },
        )
        server.start(timeout=120)
        started.append((server, f"http://127.0.0.1:{port}"))
    for _, url in started:
        wait_ready(url)
    yield started
    for server, _ in started:
        server.stop()


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready")


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.MULTILINE))


def test_replicas_share_the_calls_and_sigterm_hands_a_call_over(
    replicas: list[tuple[servers.Server, str]],
    kafka_settings: KafkaSettings,
    ministack_server: servers.Server,
    english_call: SampleCall,
    unique: str,
    tmp_path: Path,
) -> None:
    recordings = ObjectStore.from_settings(
        S3Settings(endpoint=f"127.0.0.1:{ministack_server.port}", bucket=f"rec-{unique}", object_lock=False)
    )
    recordings.ensure_bucket()
    events = [stored_event(recordings, english_call.path, f"share-{unique}-{n}") for n in range(8)]
    publish(kafka_settings, *events)
    for event in events:
        assert len(messages(kafka_settings, READY_TOPIC, event.payload.recording_id, timeout=180)) == 1
    handled = [metric(url, "callqa_message_processing_seconds_count") for _, url in replicas]
    assert all(count > 0 for count in handled), f"both replicas worked: {handled}"

    # A long call (the sample repeated for ~4 minutes), so SIGTERM lands mid-transcription.
    long_call = tmp_path / "long.wav"
    subprocess.run(["sox", *[str(english_call.path)] * 12, str(long_call)], check=True)
    event = stored_event(recordings, long_call, f"long-{unique}")
    publish(kafka_settings, event)
    deadline = time.monotonic() + 60
    busy: tuple[servers.Server, str] | None = None
    while busy is None and time.monotonic() < deadline:
        busy = next((r for r in replicas if metric(r[1], "callqa_transcriber_busy") > 0), None)
        time.sleep(0.1)
    assert busy is not None, "one replica picked up the long call"
    server, _ = busy
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why it stopped.
    assert server.proc.wait(30) in (0, -signal.SIGTERM)
    log = server.log_path.read_text()
    assert "abandoned message uncommitted" in log, "the half-done call was left for another replica"
    assert "Application shutdown complete" in log
    ready = messages(kafka_settings, READY_TOPIC, event.payload.recording_id, timeout=240)
    assert len(ready) == 1, "the other replica transcribed it, exactly once"
