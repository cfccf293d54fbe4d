"""Valid events with plausible values, for tests and benchmarks: override what matters, keep the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from callqa.events import EvaluationScored, RecordingPurged, RecordingPurgedEvent, RecordingStored, RecordingStoredEvent


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


SAMPLE_CARD_ITEMS: list[tuple[str, str, float, str]] = [  # a five-item card: (item id, section, max points, kind)
    ("greeting", "service_language", 10.0, "requirement"),
    ("verify_identity", "product_knowledge", 10.0, "requirement"),
    ("forbidden_phrases", "service_language", 10.0, "deduction"),
    ("closing", "service_language", 10.0, "requirement"),
    ("insult", "attitude", 0.0, "auto_fail"),
]


def evaluation_scored(
    *,
    agent_id: str = "agent-7",
    started_at: datetime | None = None,
    failed: tuple[str, ...] = ("closing",),
    evaluation_id: str | None = None,
    recording_id: str | None = None,
    **overrides: Any,
) -> EvaluationScored:
    """An `evaluation.scored` payload on the sample card: every item passes except `failed`."""
    items: list[dict[str, Any]] = []
    for item_id, section, maximum, kind in SAMPLE_CARD_ITEMS:
        fails = item_id in failed
        items.append(
            {
                "item_id": item_id,
                "section": section,
                "result": "fail" if fails else "pass",
                "points": 0.0 if fails or kind == "auto_fail" else maximum,
                "severity": "A" if kind == "auto_fail" else "B",
                "max_points": maximum,
                "kind": kind,
                "evidence": [{"turn_id": "t3", "begin_ms": 1000, "end_ms": 2000, "text": f"words for {item_id}"}],
            }
        )
    counted = sum(m for i, _, m, k in SAMPLE_CARD_ITEMS if k in ("requirement", "deduction"))
    earned = sum(float(i["points"]) for i in items)
    auto_failed = "insult" in failed
    percentage = 0.0 if auto_failed else earned / counted * 100
    rid = recording_id or str(uuid.uuid4())
    payload = {
        "evaluation_id": evaluation_id or str(uuid.uuid4()),
        "recording_id": rid,
        "agent_id": agent_id,
        "group": "billing",
        "queue": "billing-zh",
        "started_at": started_at or datetime.now(UTC) - timedelta(hours=1),
        "scorecard_id": "test-card",
        "scorecard_version": 1,
        "transcript_version": "whisper-base:test",
        "total_points": 0.0 if auto_failed else earned,
        "max_points": counted,
        "percentage": percentage,
        "passed": not auto_failed and percentage >= 80,
        "auto_failed": auto_failed,
        "items": items,
        "direction": "inbound",
        "duration_ms": 180_000,
        "tags": [],
        "pass_threshold": 80.0,
    } | overrides
    return EvaluationScored.model_validate(payload)
