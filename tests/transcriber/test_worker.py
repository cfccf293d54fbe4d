"""The transcriber end to end: recording.stored on a real broker -> transcript.ready, with the
audio in a real object store and the index in a real database (tiny.en for speed)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from fastapi.testclient import TestClient

from callqa.db import Database
from callqa.events import (
    ChannelLayout,
    TranscriptReadyEvent,
    dlq_topic,
)
from callqa.settings import KafkaSettings
from callqa.storage import ObjectStore
from callqa.transcripts import TranscriptDocument
from callqa_stack import servers
from callqa_stack.factories import recording_purged
from callqa_stack.samples import SampleCall
from tests.transcriber.helpers import READY_TOPIC, STORED_TOPIC, messages, publish, stored_event
from transcriber.asr import Recogniser
from transcriber.config import MIGRATIONS_DIR, AsrSettings, Settings, TranscriptStore
from transcriber.main import create_app
from transcriber.pipeline import TranscriptionPipeline
from transcriber.tables import TranscriptRecord

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def kafka_settings(private_kafka_settings: KafkaSettings) -> KafkaSettings:
    return private_kafka_settings


@pytest.fixture(scope="session")
def pipeline() -> TranscriptionPipeline:
    """The model loads once for the whole session, as in a worker process."""
    settings = Settings(asr=AsrSettings(model="tiny.en", batch_size=0, beam_size=1))
    return TranscriptionPipeline(settings, Recogniser(settings.asr))


@pytest.fixture
def settings(kafka_settings: KafkaSettings, ministack_server: servers.Server, sqlite_url: str, unique: str) -> Settings:
    settings = Settings(
        database_url=sqlite_url,
        kafka=kafka_settings,
        s3=TranscriptStore(endpoint=f"127.0.0.1:{ministack_server.port}", bucket=f"transcripts-{unique}"),
        consumer_group=f"transcriber-{unique}",
        asr=AsrSettings(model="tiny.en", batch_size=0, beam_size=1),
    )
    Database(settings.database_url).migrate(MIGRATIONS_DIR)
    return settings


@pytest.fixture
def recordings(settings: Settings, unique: str) -> ObjectStore:
    """Stands in for recorder-ingest's bucket."""
    store = ObjectStore.from_settings(settings.s3.model_copy(update={"bucket": f"recordings-{unique}"}))
    store.ensure_bucket()
    return store


@pytest.fixture
def worker(settings: Settings, pipeline: TranscriptionPipeline) -> Iterator[TestClient]:
    with TestClient(create_app(settings, pipeline)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.2)
        yield client


def transcript_of(record: ConsumerRecord) -> TranscriptDocument:
    event = TranscriptReadyEvent.model_validate_json(record.value)
    assert event.payload.document is not None, "a short call's transcript travels inline"
    return TranscriptDocument.model_validate(event.payload.document)


def index_rows(settings: Settings, recording_id: str) -> list[TranscriptRecord]:
    from sqlmodel import select

    with Database(settings.database_url).session() as session:
        return list(session.exec(select(TranscriptRecord).where(TranscriptRecord.recording_id == recording_id)))


def test_a_stereo_call_becomes_one_transcript_with_both_roles(
    worker: TestClient, settings: Settings, recordings: ObjectStore, english_call: SampleCall, unique: str
) -> None:
    recording_id = f"stereo-{unique}"
    event = stored_event(recordings, english_call.path, recording_id)
    publish(settings.kafka, event, event)  # a duplicate delivery must be harmless
    (ready,) = messages(settings.kafka, READY_TOPIC, recording_id)
    document = transcript_of(ready)
    assert document.speakers.method == "stereo_channels"
    assert {turn.role for turn in document.turns} == {"agent", "customer"}
    assert document.turns[0].role == "agent" and "calling" in document.turns[0].text.lower()
    assert "internet" in " ".join(t.text.lower() for t in document.turns if t.role == "customer")
    assert document.metrics.roles["agent"].talk_time_ms > 1000
    assert document.metrics.response_latencies, "the agent answered the customer"
    stored = ObjectStore.from_settings(settings.s3)
    assert TranscriptDocument.model_validate_json(stored.get_bytes(ready_key(ready))).turns == document.turns
    assert document.redacted_audio_key and stored.exists(document.redacted_audio_key)

    time.sleep(2)
    assert len(messages(settings.kafka, READY_TOPIC, recording_id, expect=2, timeout=2)) == 1, "one transcript"
    assert len(index_rows(settings, recording_id)) == 1

    publish(settings.kafka, recording_purged(recording_id))
    deadline = time.monotonic() + 30
    while index_rows(settings, recording_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert index_rows(settings, recording_id) == []
    assert not stored.exists(ready_key(ready))
    assert not stored.exists(document.redacted_audio_key)


def ready_key(record: ConsumerRecord) -> str:
    return TranscriptReadyEvent.model_validate_json(record.value).payload.transcript_key


def test_mono_silent_and_dead_channel_calls_are_transcribed_without_errors(
    worker: TestClient,
    settings: Settings,
    recordings: ObjectStore,
    english_call: SampleCall,
    unique: str,
    tmp_path: Path,
) -> None:
    mono = tmp_path / "mono.wav"
    subprocess.run(["sox", str(english_call.path), "-c", "1", str(mono), "remix", "1,2"], check=True)
    silent = tmp_path / "silent.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "2", "-e", "u-law", str(silent), "trim", "0", "10"], check=True)
    dead = tmp_path / "dead.wav"  # the customer's channel never recorded anything
    subprocess.run(["sox", str(english_call.path), str(dead), "remix", "1", "0"], check=True)
    events = {
        "mono": stored_event(recordings, mono, f"mono-{unique}", channels=1, channel_layout=ChannelLayout.mono),
        "silent": stored_event(recordings, silent, f"silent-{unique}"),
        "dead": stored_event(recordings, dead, f"dead-{unique}"),
    }
    publish(settings.kafka, *events.values())
    docs = {
        name: transcript_of(messages(settings.kafka, READY_TOPIC, event.payload.recording_id)[0])
        for name, event in events.items()
    }
    assert docs["mono"].turns and docs["mono"].speakers.method in ("mono_clustering", "single_speaker")
    assert docs["silent"].turns == [] and docs["silent"].metrics.duration_ms == 10_000
    assert docs["silent"].speakers.method == "none"
    assert {t.role for t in docs["dead"].turns} == {"agent"}
    assert docs["dead"].metrics.roles["customer"].talk_time_ms == 0


def test_undecodable_audio_goes_to_the_dlq_and_the_worker_continues(
    worker: TestClient,
    settings: Settings,
    recordings: ObjectStore,
    english_call: SampleCall,
    unique: str,
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "broken.wav"
    garbage.write_bytes(b"RIFF\x24\x10\x00\x00WAVEfmt " + bytes(range(256)) * 50)
    bad = stored_event(recordings, garbage, f"broken-{unique}")
    good = stored_event(recordings, english_call.path, f"after-{unique}")
    publish(settings.kafka, bad, good)
    (dead,) = messages(settings.kafka, dlq_topic(STORED_TOPIC), bad.payload.recording_id)
    headers = dict(dead.headers)
    assert headers["dlq.error_type"] == b"PermanentError"
    assert b"undecodable audio" in headers["dlq.error"]
    assert messages(settings.kafka, READY_TOPIC, good.payload.recording_id), "the next call is still transcribed"
