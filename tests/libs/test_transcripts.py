"""The transcript document's contract: clear field names, and documents stored before the rename still load."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from callqa.events import TranscriptReadyEvent, parse_event
from callqa.transcripts import SCHEMA_VERSION, TranscriptDocument, Word

# A schema version 1 document exactly as the transcriber stored it (and sent it inline) before the rename:
# words as {"w", "begin_ms", "end_ms", "p"}.
STORED_V1 = """{
  "schema_version": 1,
  "recording_id": "rec-v1",
  "language": "zh",
  "model": {"id": "whisper-base", "version": "ct2-int8;beam5"},
  "channel_layout": "agent_left",
  "duration_ms": 9000,
  "speakers": {"method": "stereo_channels", "agent_confidence": 1.0, "agent_identified_by": "channel layout"},
  "turns": [
    {"id": "t0", "role": "agent", "begin_ms": 200, "end_ms": 1900, "text": "您好，请问有什么可以帮您？",
     "words": [{"w": "您好，", "begin_ms": 200, "end_ms": 800, "p": 0.93},
               {"w": "请问有什么可以帮您？", "begin_ms": 820, "end_ms": 1900, "p": 0.71}]},
    {"id": "t1", "role": "customer", "begin_ms": 2500, "end_ms": 4700, "text": "我的电话是[PHONE]",
     "words": [{"w": "我的电话是", "begin_ms": 2500, "end_ms": 3300, "p": 0.88},
               {"w": "[PHONE]", "begin_ms": 3300, "end_ms": 4700, "p": 0.52}]}
  ],
  "metrics": {
    "duration_ms": 9000,
    "roles": {
      "agent": {"talk_time_ms": 1700, "talk_ratio": 0.1889, "turns": 1, "units": 12, "speech_rate": 423.5,
                "speech_rate_unit": "chars_per_min", "loudness_dbfs": -21.5},
      "customer": {"talk_time_ms": 2200, "talk_ratio": 0.2444, "turns": 1, "units": 6, "speech_rate": 163.6,
                   "speech_rate_unit": "chars_per_min", "loudness_dbfs": -24.0}
    },
    "non_talk_time_ms": 4300,
    "non_talk": [{"begin_ms": 4700, "end_ms": 9000}],
    "overlaps": [],
    "interruptions": {"agent": 0, "customer": 0},
    "response_latencies": [],
    "mean_response_latency_ms": null,
    "max_response_latency_ms": null
  },
  "redactions": [{"turn_id": "t1", "kind": "phone", "begin_ms": 3300, "end_ms": 4700, "char_start": 5, "char_end": 12}],
  "redacted_audio_key": "redacted/rec-v1.wav",
  "created_at": "2026-11-02T09:31:05.123456Z"
}"""

EXPECTED_WORDS = [
    [("您好，", 200, 800, 0.93), ("请问有什么可以帮您？", 820, 1900, 0.71)],
    [("我的电话是", 2500, 3300, 0.88), ("[PHONE]", 3300, 4700, 0.52)],
]


def words_of(document: TranscriptDocument) -> list[list[tuple[str, int, int, float]]]:
    return [[(w.text, w.begin_ms, w.end_ms, w.probability) for w in turn.words] for turn in document.turns]


def ready_event_v1() -> bytes:
    """A `transcript.ready` event as the transcriber published it, the v1 document inline."""
    return json.dumps(
        {
            "event_id": "5b0f6c1e-3f1e-4d44-9a53-0d8c3c1f7a10",
            "event_type": "transcript.ready",
            "schema_version": 1,
            "occurred_at": "2026-11-02T09:31:05.200000Z",
            "correlation_id": "rec-v1",
            "producer": "transcriber",
            "payload": {
                "recording_id": "rec-v1",
                "agent_id": "agent-7",
                "group": "billing",
                "queue": "billing-zh",
                "started_at": "2026-11-02T09:30:00Z",
                "language": "zh",
                "model_version": "whisper-base@ct2-int8;beam5",
                "duration_ms": 9000,
                "transcript_key": "transcripts/rec-v1/whisper-base@ct2-int8;beam5.json",
                "document": json.loads(STORED_V1),
            },
        },
        ensure_ascii=False,
    ).encode()


def test_a_stored_version_1_transcript_loads_with_the_same_values() -> None:
    document = TranscriptDocument.model_validate_json(STORED_V1)
    assert words_of(document) == EXPECTED_WORDS
    assert document.schema_version == SCHEMA_VERSION == 2  # upcast: the object has the current shape
    assert [turn.text for turn in document.turns] == ["您好，请问有什么可以帮您？", "我的电话是[PHONE]"]
    assert document.model_version == "whisper-base@ct2-int8;beam5"
    assert document.redactions[0].char_start == 5
    old = json.loads(STORED_V1)
    assert document.metrics.model_dump(mode="json") == old["metrics"]  # everything else unchanged


def test_an_inline_version_1_document_in_transcript_ready_loads_like_the_stored_one() -> None:
    event = parse_event(ready_event_v1())
    assert isinstance(event, TranscriptReadyEvent)
    assert event.payload.document is not None
    inline = TranscriptDocument.model_validate(event.payload.document)  # what the scorer does
    assert inline == TranscriptDocument.model_validate_json(STORED_V1)
    assert words_of(inline) == EXPECTED_WORDS


def test_documents_are_written_with_the_new_names_only() -> None:
    written = json.loads(TranscriptDocument.model_validate_json(STORED_V1).model_dump_json())
    assert written["schema_version"] == 2
    assert [set(word) for turn in written["turns"] for word in turn["words"]] == [
        {"text", "begin_ms", "end_ms", "probability"}
    ] * 4
    assert words_of(TranscriptDocument.model_validate(written)) == EXPECTED_WORDS  # and read back


def test_a_word_takes_either_spelling_and_checks_the_probability() -> None:
    assert Word(text="hi", begin_ms=0, end_ms=10, probability=0.5) == Word.model_validate(
        {"w": "hi", "begin_ms": 0, "end_ms": 10, "p": 0.5}
    )
    with pytest.raises(ValidationError):
        Word.model_validate({"w": "hi", "begin_ms": 0, "end_ms": 10, "p": 1.5})


def test_a_document_newer_than_this_reader_is_refused() -> None:
    newer: dict[str, Any] = json.loads(STORED_V1) | {"schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ValidationError, match="newer than this reader"):
        TranscriptDocument.model_validate(newer)


def test_the_json_schema_names_the_new_fields() -> None:
    word = TranscriptDocument.model_json_schema()["$defs"]["Word"]["properties"]
    assert set(word) == {"text", "begin_ms", "end_ms", "probability"}
