"""Valid events with plausible values, for tests and benchmarks: override what matters, keep the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from callqa.events import RecordingPurged, RecordingPurgedEvent, RecordingStored, RecordingStoredEvent


def recording_stored(recording_id: str | None = None, **overrides: object) -> RecordingStoredEvent:
    rid = recording_id or str(uuid.uuid4())
    payload = {
        "recording_id": rid,
        "call_id": f"call-{rid[:8]}",
        "agent_id": "agent-7",
        "group": "billing",
        "queue": "billing-zh",
        "started_at": datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        "duration_ms": 61_000,
        "channels": 2,
        "sample_rate": 8000,
        "codec": "pcm_mulaw",
        "bucket": "callqa",
        "audio_key": f"audio/{rid}.wav",
        "audio_sha256": "0" * 64,
    } | overrides
    return RecordingStoredEvent(correlation_id=rid, producer="tests", payload=RecordingStored.model_validate(payload))


def recording_purged(recording_id: str) -> RecordingPurgedEvent:
    return RecordingPurgedEvent(
        correlation_id=recording_id,
        producer="tests",
        payload=RecordingPurged(recording_id=recording_id, reason="retention_expired", purged_at=datetime.now(UTC)),
    )
