"""The transcriber's test helpers: a short English call script, recording.stored events to feed the worker, the
messages it wrote, and a fake whisper for tests of what the recogniser asks of it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import ConsumerRecord

from callqa.bus import Bus
from callqa.events import (
    RecordingStored,
    RecordingStoredEvent,
    topic_for,
)
from callqa.settings import KafkaSettings
from callqa.storage import ObjectStore
from tests.helpers import read_all

READY_TOPIC = topic_for("transcript.ready")


STORED_TOPIC = topic_for("recording.stored")


CALL = {
    "call_id": "e2e-en-1",
    "agent_id": "agent-7",
    "group": "support",
    "queue": "support-en",
    "direction": "inbound",
    "language": "en",
    "channel_layout": "agent_left",
    "started_at": "2026-11-02T09:30:00+00:00",
    "consent": {"status": "notified", "method": "ivr_announcement"},
    "turns": [
        {"role": "agent", "text": "Thank you for calling, my name is Anna. How can I help you today?"},
        {"role": "customer", "text": "Hello, my internet has been down since yesterday morning."},
        {"role": "agent", "text": "I am sorry to hear that. Let me check your line right now.", "pause_before_s": 0.8},
        {"role": "customer", "text": "Thank you, I work from home so it is urgent."},
    ],
}


def stored_event(recordings: ObjectStore, path: Path, recording_id: str, **overrides: Any) -> RecordingStoredEvent:
    key = f"recordings/2026/11/02/{recording_id}.{path.suffix.lstrip('.')}"
    recordings.put_bytes(key, path.read_bytes())
    payload = {
        "recording_id": recording_id,
        "call_id": f"call-{recording_id}",
        "agent_id": "agent-7",
        "queue": "support-en",
        "started_at": "2026-11-02T09:30:00+00:00",
        "duration_ms": 1,
        "channels": 2,
        "sample_rate": 8000,
        "codec": "pcm_mulaw",
        "language": "en",
        "bucket": recordings.bucket,
        "audio_key": key,
        "audio_sha256": "0" * 64,
    } | overrides
    return RecordingStoredEvent(correlation_id=recording_id, producer="tests", payload=RecordingStored(**payload))


def publish(kafka: KafkaSettings, *events: Any) -> None:
    async def send() -> None:
        async with Bus(kafka) as bus:
            await bus.ensure_topics([STORED_TOPIC, topic_for("recording.purged")])
            for event in events:
                await bus.publish(event)

    asyncio.run(send())


def messages(
    kafka: KafkaSettings, topic: str, key: str, *, expect: int = 1, timeout: float = 120
) -> list[ConsumerRecord]:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in asyncio.run(read_all(kafka, topic, expected=10**9, timeout=1.0)) if r.key == key.encode()]
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


class FakeTokenizer:
    """One token per character, like Chinese text in whisper's vocabulary, roughly."""

    def encode(self, text: str, add_special_tokens: bool = False) -> SimpleNamespace:
        return SimpleNamespace(ids=list(text))


class FakeWhisper:
    def __init__(self, path: str, **options: Any) -> None:
        self.hf_tokenizer = FakeTokenizer()
        self.model = SimpleNamespace(is_multilingual=True)
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: Any, **options: Any) -> tuple[list[Any], SimpleNamespace]:
        self.calls.append(options)
        return [], SimpleNamespace(language=options.get("language") or "en")


class FakeBatched:
    def __init__(self, model: FakeWhisper) -> None:
        self.model = model

    def transcribe(self, audio: Any, batch_size: int, **options: Any) -> tuple[list[Any], SimpleNamespace]:
        return self.model.transcribe(audio, **options)
