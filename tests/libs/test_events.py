from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from callqa import events
from callqa.events import (
    EventError,
    RecordingPurgedEvent,
    RecordingStoredEvent,
    json_schemas,
    parse_event,
    topic_for,
    view_of,
    view_parser,
)
from callqa_stack.factories import recording_purged, recording_stored

DOCS_EVENTS = Path(__file__).resolve().parents[2] / "docs" / "events"


def test_round_trip_through_the_discriminated_union() -> None:
    event = recording_stored()
    parsed = parse_event(event.to_bytes())
    assert isinstance(parsed, RecordingStoredEvent)
    assert parsed == event
    purged = parse_event(recording_purged("r1").to_bytes())
    assert isinstance(purged, RecordingPurgedEvent)


def test_topic_and_key_follow_the_contract() -> None:
    event = recording_stored("rec-42")
    assert event.topic == "callqa.recording.stored.v1" == topic_for("recording.stored")
    assert event.key == "rec-42"


def test_additive_fields_from_a_newer_producer_are_kept() -> None:
    raw = json.loads(recording_stored().to_bytes())
    raw["payload"]["new_optional_field"] = "x"
    parsed = parse_event(raw)
    assert parsed.payload.model_extra == {"new_optional_field": "x"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event_type": "nope"}', "unknown event_type"),
        (json.dumps({"event_type": "recording.purged", "payload": {}}).encode(), "validation error"),
        (json.dumps({"event_type": "recording.purged", "schema_version": 9}).encode(), "newer than this consumer"),
    ],
)
def test_invalid_messages_raise_event_error(data: bytes, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_event(data)


def test_upcaster_migrates_an_old_schema_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend recording.purged moved to v2, renaming `reason` to `purge_reason` and back again.
    monkeypatch.setitem(events.CURRENT_SCHEMA_VERSION, "recording.purged", 2)
    monkeypatch.setattr(events, "_UPCASTERS", {})
    calls: list[int] = []

    @events.upcaster("recording.purged", from_version=1)
    def v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
        calls.append(raw["schema_version"])
        raw["payload"]["reason"] = raw["payload"].pop("legacy_reason")
        return raw

    old = json.loads(recording_purged("r9").to_bytes())
    old["payload"]["legacy_reason"] = old["payload"].pop("reason")
    parsed = parse_event(old)
    assert calls == [1]
    assert parsed.schema_version == 2
    assert parsed.payload.reason == "retention_expired"  # type: ignore[union-attr]


def test_missing_upcaster_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(events.CURRENT_SCHEMA_VERSION, "recording.purged", 2)
    with pytest.raises(EventError, match="no upcaster"):
        parse_event(recording_purged("r1").to_bytes())


def test_exported_json_schemas_are_up_to_date() -> None:
    """Regenerate with: .venv/bin/python -m callqa.events docs/events"""
    for name, schema in json_schemas().items():
        path = DOCS_EVENTS / name
        assert path.exists(), f"{path} missing: run python -m callqa.events docs/events"
        assert json.loads(path.read_text()) == schema, f"{path} is stale: run python -m callqa.events docs/events"


class PurgeView(BaseModel):
    """A consumer's view of recording.purged: only the fields it reads."""

    recording_id: str
    reason: str


def test_a_view_parser_reads_only_the_fields_its_model_names_straight_from_the_bytes() -> None:
    parse = view_parser(RecordingPurgedEvent, PurgeView)
    view = parse(recording_purged("r7").to_bytes())
    assert type(view) is view_of(PurgeView) and view.correlation_id == "r7"
    assert view.payload == PurgeView(recording_id="r7", reason="retention_expired")
    with pytest.raises(EventError, match=r"expected recording\.purged"):
        parse(recording_stored("r8").to_bytes())  # valid, but another event
    with pytest.raises(EventError, match="not JSON"):
        parse(b"not json")
    with pytest.raises(EventError, match="validation error"):
        parse(json.dumps({"event_type": "recording.purged", "correlation_id": "r", "payload": {}}).encode())


def test_a_view_parser_upcasts_an_old_schema_version_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(events.CURRENT_SCHEMA_VERSION, "recording.purged", 2)
    monkeypatch.setattr(events, "_UPCASTERS", {})

    @events.upcaster("recording.purged", from_version=1)
    def v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
        raw["payload"]["reason"] = raw["payload"].pop("legacy_reason")
        return raw

    old = json.loads(recording_purged("r9").to_bytes())
    old["payload"]["legacy_reason"] = old["payload"].pop("reason")
    view = view_parser(RecordingPurgedEvent, PurgeView)(json.dumps(old).encode())
    assert view.schema_version == 2 and view.payload.reason == "retention_expired"
