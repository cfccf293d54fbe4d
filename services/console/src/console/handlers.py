"""Event handlers: the call index kept from the stream (facts, transcript, scores; purge erases the words)."""

from __future__ import annotations

import json
from typing import Any

from callqa.events import EvaluationReviewed, EvaluationScored, RecordingPurged, RecordingStored, TranscriptReady
from callqa.storage import ObjectStore
from console.calls import CallIndex


def _facts(payload: RecordingStored | TranscriptReady | EvaluationScored | EvaluationReviewed) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "agent_id": payload.agent_id,
        "group": payload.group,
        "queue": payload.queue,
        "started_at": payload.started_at,
    }
    duration = getattr(payload, "duration_ms", None)
    if duration is not None:
        facts["duration_ms"] = duration
    return facts


def on_recording_stored(payload: RecordingStored, *, index: CallIndex) -> None:
    facts = _facts(payload) | {"language": payload.language}
    index.recording_stored(payload.recording_id, facts, payload.tags, payload.call_id)


def on_transcript_ready(payload: TranscriptReady, *, index: CallIndex, store: ObjectStore) -> None:
    document = payload.document
    if document is None:
        document = json.loads(store.get_bytes(payload.transcript_key))
    index.transcript_ready(payload.recording_id, _facts(payload), document)


def on_evaluation_scored(payload: EvaluationScored, *, index: CallIndex) -> None:
    index.scored(
        payload.evaluation_id,
        payload.recording_id,
        _facts(payload),
        scorecard=(payload.scorecard_id, payload.scorecard_version),
        source="auto",
        version=1,
        percentage=payload.percentage,
        passed=payload.passed,
        failed_items=[i.item_id for i in payload.items if i.result == "fail"],
    )


def on_evaluation_reviewed(payload: EvaluationReviewed, *, index: CallIndex) -> None:
    if payload.released_at is None:
        return  # not released: search shows what everyone may see, the released score
    index.scored(
        payload.evaluation_id,
        payload.recording_id,
        _facts(payload),
        scorecard=(payload.scorecard_id, payload.scorecard_version),
        source=str(payload.source),
        version=payload.version,
        percentage=payload.percentage,
        passed=payload.passed,
        failed_items=[i.item_id for i in payload.items if i.result == "fail"],
    )


def on_recording_purged(payload: RecordingPurged, *, index: CallIndex) -> None:
    index.purged(payload.recording_id)
