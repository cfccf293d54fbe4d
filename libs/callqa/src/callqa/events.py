"""Event contracts between the services.

Every message is an `Envelope` whose `payload` is one Pydantic model per event type; the
union `Event` is discriminated on `event_type`. Topics are named `callqa.<event_type>.v<N>`
and keyed by `recording_id` so one call's events stay in order (coaching plans and training requests,
which have no recording, by their own id).

Compatibility: adding an optional field keeps `schema_version`; a breaking change bumps it
and registers an upcaster from the old version, so consumers only ever see the current shape.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

JsonDict = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow")  # additive fields from newer producers pass through


# --- payloads ---------------------------------------------------------------------------


class ConsentStatus(StrEnum):
    notified = "notified"
    accepted = "accepted"
    declined = "declined"
    unknown = "unknown"


class ChannelLayout(StrEnum):
    agent_left = "agent_left"  # stereo, channel 0 = agent, channel 1 = customer
    agent_right = "agent_right"
    mono = "mono"


class RecordingStored(Payload):
    recording_id: str
    call_id: str
    agent_id: str
    group: str | None = None
    queue: str | None = None
    direction: Literal["inbound", "outbound", "internal"] = "inbound"
    started_at: datetime
    duration_ms: int
    channels: int
    sample_rate: int
    codec: str
    channel_layout: ChannelLayout = ChannelLayout.agent_left
    language: str | None = Field(default=None, description="BCP-47-ish hint, e.g. 'zh' or 'en'")
    tags: list[str] = Field(default_factory=list)
    consent_status: ConsentStatus = ConsentStatus.unknown
    bucket: str
    audio_key: str
    audio_sha256: str
    retain_until: datetime | None = None


class TranscriptReady(Payload):
    recording_id: str
    agent_id: str
    group: str | None = None
    queue: str | None = None
    started_at: datetime
    language: str
    model_version: str = Field(description="model id + version; with recording_id, the transcript's identity")
    duration_ms: int
    transcript_key: str = Field(description="object key of the full transcript document")
    document: JsonDict | None = Field(default=None, description="the document inline when under ~512 KB")
    # Additive (optional): call facts passed along from recording.stored for those who score and sample.
    direction: Literal["inbound", "outbound", "internal"] | None = None
    tags: list[str] = Field(default_factory=list)


class ItemResult(StrEnum):
    passed = "pass"
    failed = "fail"
    not_applicable = "not_applicable"


class Evidence(BaseModel):
    turn_id: str | None = None
    begin_ms: int | None = None
    end_ms: int | None = None
    text: str | None = None


class ScoredItem(BaseModel):
    item_id: str
    section: str
    result: ItemResult
    points: float
    severity: Literal["A", "B", "C"] | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    # Additive (optional): what the item can earn and its kind, for reviewers and calibration.
    max_points: float | None = Field(default=None, description="the most the item can earn (its points)")
    kind: Literal["requirement", "deduction", "bonus", "auto_fail"] | None = None


class EvaluationScored(Payload):
    evaluation_id: str
    recording_id: str
    agent_id: str
    group: str | None = None
    queue: str | None = None
    started_at: datetime
    scorecard_id: str
    scorecard_version: int
    transcript_version: str
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool
    items: list[ScoredItem]
    # Additive (optional): call facts sampling plans filter on, and the card's pass mark.
    direction: Literal["inbound", "outbound", "internal"] | None = None
    duration_ms: int | None = None
    tags: list[str] = Field(default_factory=list)
    pass_threshold: float | None = Field(default=None, description="percentage a call needs to pass")


class ScoreSource(StrEnum):
    auto = "auto"
    human = "human"
    calibration = "calibration"


class ReviewedItem(BaseModel):
    item_id: str
    section: str
    result: ItemResult
    points: float
    auto_result: ItemResult = Field(description="the automatic evaluation's result for the item")
    auto_points: float
    changed: bool = Field(description="the human result or points differ from the automatic ones")
    # Additive (optional): the item's A/B/C class, so reports count a human version's problems like the scorer's.
    severity: Literal["A", "B", "C"] | None = None


class EvaluationReviewed(Payload):
    """A new human version of an evaluation: a submitted review or a resolved appeal. Notes, comments
    and evidence stay in coaching (they may quote the call and are erased on purge)."""

    evaluation_id: str
    recording_id: str
    agent_id: str
    group: str | None = None
    queue: str | None = None
    started_at: datetime
    scorecard_id: str
    scorecard_version: int
    version: int = Field(description="the evaluation's version number; 1 is the automatic one")
    source: ScoreSource = ScoreSource.human
    cause: Literal["review", "appeal"]
    reviewer_id: str
    reviewed_at: datetime
    released_at: datetime | None = Field(
        description="when agents could see it; null: not released yet (a scheduled release announces the version "
        "again, with this set, when it is made)"
    )
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool
    items: list[ReviewedItem]


class PurgeReason(StrEnum):
    retention_expired = "retention_expired"
    erasure_request = "erasure_request"
    consent_declined = "consent_declined"


class RecordingPurged(Payload):
    recording_id: str
    reason: PurgeReason
    purged_at: datetime


# --- coaching (issue 16): improvement plans and training requests ----------------------------
# Keyed by the plan's or request's id (no recording). Only ids, item ids, counts and rates travel:
# no coach's notes or call text, so nothing here has to be erased when a recording is purged.


class PassCount(BaseModel):
    """Calls observed in a window and how many passed the focus items (none of them failed)."""

    calls: int
    passed: int
    rate: float | None = Field(description="passed / calls; null without calls")


class PlanCreated(Payload):
    """An improvement plan for one agent's individual problem (issue 16), created by a coach or proposed
    from a problem analysis."""

    plan_id: str
    agent_id: str
    group: str | None = None
    coach_id: str
    scorecard_id: str
    focus_items: list[str] = Field(description="the scorecard items the plan works on")
    goal_pass_rate: float = Field(ge=0, le=1, description="pass rate on the focus items the plan aims for")
    goal_calls: int | None = Field(default=None, description="...over the next N calls after coaching")
    goal_days: int | None = Field(default=None, description="...or over this many days after coaching")
    status: Literal["draft", "active"]
    analysis_id: str | None = Field(default=None, description="the problem analysis it was proposed from")
    problem_id: str | None = None
    due_at: datetime | None = None
    created_by: str
    created_at: datetime


class PlanClosed(Payload):
    """A plan ended: `closed` with a verified follow-up verdict, or `cancelled` / `expired` (no verdict)."""

    plan_id: str
    agent_id: str
    group: str | None = None
    coach_id: str
    scorecard_id: str
    focus_items: list[str]
    status: Literal["closed", "cancelled", "expired"]
    verdict: Literal["improved", "not_improved", "insufficient_data"] | None = Field(
        description="null when cancelled or expired"
    )
    goal_met: bool | None = Field(default=None, description="the after-coaching pass rate reached the goal")
    before: PassCount | None = Field(default=None, description="the agent before coaching")
    after: PassCount | None = Field(default=None, description="the agent in the follow-up window")
    group_before: PassCount | None = Field(default=None, description="the rest of the group, same windows")
    group_after: PassCount | None = None
    effect: float | None = Field(default=None, description="after rate - before rate (agent)")
    effect_ci: tuple[float, float] | None = Field(default=None, description="95 % interval of `effect`")
    difference_in_differences: float | None = Field(
        default=None, description="the agent's change minus the group's change over the same windows"
    )
    did_ci: tuple[float, float] | None = None
    p_value: float | None = Field(default=None, description="one-sided: the agent improved (exact test)")
    did_p_value: float | None = Field(default=None, description="one-sided: improved beyond the group's change")
    reminders: int = 0
    reassignments: int = 0
    created_at: datetime
    closed_at: datetime


class TrainingRequested(Payload):
    """A training request to the trainers for a group's common problem (seed 004: 培训需求)."""

    request_id: str
    group: str
    scorecard_id: str
    items: list[str]
    failure_rate: float | None = Field(default=None, description="the group's failure rate on the items when asked")
    calls: int | None = None
    agents_affected: int | None = None
    analysis_id: str | None = None
    problem_id: str | None = None
    trainer_id: str | None = Field(default=None, description="null: any trainer")
    requested_by: str
    requested_at: datetime


class TrainingDelivered(Payload):
    """Training was delivered; the group's rate on the items is re-checked over the follow-up window."""

    request_id: str
    group: str
    scorecard_id: str
    items: list[str]
    trainer_id: str
    delivered_at: datetime
    follow_up_until: datetime = Field(description="end of the re-check window")


class TrainingVerified(Payload):
    """The re-check after training: the group's failure rate on the items before and after delivery."""

    request_id: str
    group: str
    scorecard_id: str
    items: list[str]
    verdict: Literal["improved", "not_improved", "insufficient_data"]
    before: PassCount
    after: PassCount
    effect: float | None = None
    effect_ci: tuple[float, float] | None = None
    p_value: float | None = None
    verified_at: datetime


# --- envelope ---------------------------------------------------------------------------


class Envelope(BaseModel):
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str = Field(description="the recording id for per-call tracing")
    producer: str
    payload: Payload

    topic_version: ClassVar[int] = 1

    @property
    def topic(self) -> str:
        return topic_for(self.event_type, self.topic_version)

    @property
    def key(self) -> str:
        """Partition key: the recording id when there is one, else the correlation id."""
        return str(getattr(self.payload, "recording_id", None) or self.correlation_id)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class RecordingStoredEvent(Envelope):
    event_type: Literal["recording.stored"] = "recording.stored"
    payload: RecordingStored


class TranscriptReadyEvent(Envelope):
    event_type: Literal["transcript.ready"] = "transcript.ready"
    payload: TranscriptReady


class EvaluationScoredEvent(Envelope):
    event_type: Literal["evaluation.scored"] = "evaluation.scored"
    payload: EvaluationScored


class EvaluationReviewedEvent(Envelope):
    event_type: Literal["evaluation.reviewed"] = "evaluation.reviewed"
    payload: EvaluationReviewed


class RecordingPurgedEvent(Envelope):
    event_type: Literal["recording.purged"] = "recording.purged"
    payload: RecordingPurged


class PlanCreatedEvent(Envelope):
    event_type: Literal["coaching.plan.created"] = "coaching.plan.created"
    payload: PlanCreated


class PlanClosedEvent(Envelope):
    event_type: Literal["coaching.plan.closed"] = "coaching.plan.closed"
    payload: PlanClosed


class TrainingRequestedEvent(Envelope):
    event_type: Literal["coaching.training.requested"] = "coaching.training.requested"
    payload: TrainingRequested


class TrainingDeliveredEvent(Envelope):
    event_type: Literal["coaching.training.delivered"] = "coaching.training.delivered"
    payload: TrainingDelivered


class TrainingVerifiedEvent(Envelope):
    event_type: Literal["coaching.training.verified"] = "coaching.training.verified"
    payload: TrainingVerified


EVENT_CLASSES: tuple[type[Envelope], ...] = (
    RecordingStoredEvent,
    TranscriptReadyEvent,
    EvaluationScoredEvent,
    EvaluationReviewedEvent,
    RecordingPurgedEvent,
    PlanCreatedEvent,
    PlanClosedEvent,
    TrainingRequestedEvent,
    TrainingDeliveredEvent,
    TrainingVerifiedEvent,
)

Event = Annotated[
    RecordingStoredEvent
    | TranscriptReadyEvent
    | EvaluationScoredEvent
    | EvaluationReviewedEvent
    | RecordingPurgedEvent
    | PlanCreatedEvent
    | PlanClosedEvent
    | TrainingRequestedEvent
    | TrainingDeliveredEvent
    | TrainingVerifiedEvent,
    Field(discriminator="event_type"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

CURRENT_SCHEMA_VERSION: dict[str, int] = {
    cls.model_fields["event_type"].default: cls.model_fields["schema_version"].default for cls in EVENT_CLASSES
}


def topic_for(event_type: str, version: int = 1) -> str:
    return f"callqa.{event_type}.v{version}"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


TOPICS: dict[type[Envelope], str] = {
    cls: topic_for(cls.model_fields["event_type"].default, cls.topic_version) for cls in EVENT_CLASSES
}


# --- upcasting and parsing ----------------------------------------------------------------

Upcaster = Callable[[JsonDict], JsonDict]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class EventError(ValueError):
    """A message that is not a valid event: poison for the consumer, goes to the DLQ."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a `from_version` envelope dict into `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def upcast(raw: JsonDict) -> JsonDict:
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or event_type not in CURRENT_SCHEMA_VERSION:
        raise EventError(f"unknown event_type {event_type!r}")
    target = CURRENT_SCHEMA_VERSION[event_type]
    version = int(raw.get("schema_version", 1))
    while version < target:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise EventError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
        raw = step(raw)
        version += 1
        raw["schema_version"] = version
    if version > target:
        raise EventError(f"{event_type} v{version} is newer than this consumer understands (v{target})")
    return raw


def parse_event(data: bytes | str | JsonDict) -> Event:
    """Bytes or dict from the wire -> the typed event, upcast to the current schema version."""
    if isinstance(data, bytes | str):
        # Fast path: current-version events validate straight from JSON (half the cost of loads+validate).
        try:
            event = _EVENT_ADAPTER.validate_json(data)
        except ValueError:
            pass  # an old version, unknown type or not JSON: the slow path explains
        else:
            if event.schema_version == CURRENT_SCHEMA_VERSION[event.event_type]:
                return event
    try:
        raw = json.loads(data) if isinstance(data, bytes | str) else dict(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EventError("event must be a JSON object")
    try:
        return _EVENT_ADAPTER.validate_python(upcast(raw))
    except EventError:
        raise
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise EventError(str(exc)) from exc


# --- views: what one consumer reads of an event -------------------------------------------

PayloadView = TypeVar("PayloadView", bound=BaseModel)


class EventView(BaseModel, Generic[PayloadView]):
    """An event as one consumer reads it: the envelope's routing fields and, as `payload`, a model of only the
    payload fields that consumer uses (fields it does not name are skipped, not validated)."""

    event_type: str
    schema_version: int = 1
    correlation_id: str
    payload: PayloadView


def view_of(payload: type[PayloadView]) -> type[EventView[PayloadView]]:
    """The envelope model of a view: `EventView[payload]` (pydantic makes it once per payload model)."""
    return EventView[payload]  # type: ignore[valid-type]


def view_parser(
    event_class: type[Envelope], payload: type[PayloadView]
) -> Callable[[bytes | str], EventView[PayloadView]]:
    """A parser of `event_class` messages straight into `EventView[payload]`: one validation pass over the message's
    JSON, no full event built and nothing converted afterwards (for a consumer of many events, where the full model
    and a conversion to its own cost more than its work). A message of an older schema version goes through the
    upcasters and the full model first; one that is no valid event of `event_class` raises EventError (poison)."""
    view = view_of(payload)
    event_type: str = event_class.model_fields["event_type"].default

    def parse(data: bytes | str) -> EventView[PayloadView]:
        try:
            found: EventView[PayloadView] = view.model_validate_json(data)
        except ValueError:
            pass  # not this event's shape: the full parse explains
        else:
            if found.event_type == event_type and found.schema_version == CURRENT_SCHEMA_VERSION[event_type]:
                return found
        event = parse_event(data)
        if not isinstance(event, event_class):
            raise EventError(f"expected {event_type}, got {event.event_type}")
        try:
            return view.model_validate(
                event.model_dump(include={"event_type", "schema_version", "correlation_id", "payload"})
            )
        except ValueError as exc:
            raise EventError(str(exc)) from exc

    return parse


# --- JSON Schema export -------------------------------------------------------------------


def json_schemas() -> dict[str, JsonDict]:
    """File name -> JSON Schema for every event, for `docs/events/`."""
    schemas = {f"{TOPICS[cls]}.schema.json": cls.model_json_schema() for cls in EVENT_CLASSES}
    schemas["event.schema.json"] = _EVENT_ADAPTER.json_schema()
    return schemas


def export_json_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m callqa.events docs/events
    import sys

    for written_path in export_json_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events")):
        print(written_path)
