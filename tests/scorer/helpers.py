"""The scorer's test helpers: transcripts and transcript.ready events to feed the service, what it scored, who
asks; small hand-built transcripts and one-item cards for the rule engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from callqa.auth import Authenticator, Role
from callqa.bus import Bus
from callqa.events import (
    EvaluationScoredEvent,
    RecordingPurgedEvent,
    TranscriptReady,
    TranscriptReadyEvent,
    topic_for,
)
from callqa.settings import AuthSettings, KafkaSettings
from callqa.transcripts import (
    ConversationMetrics,
    ModelInfo,
    Overlap,
    ResponseLatency,
    RoleMetrics,
    Span,
    Speakers,
    TranscriptDocument,
    Turn,
)
from scorer.scorecard import Scorecard
from tests.helpers import read_all

JWT_SECRET = "s" * 40
SCORED_TOPIC = topic_for("evaluation.scored")


def bearer(*roles: Role, subject: str = "qa-lin") -> dict[str, str]:
    token = Authenticator(AuthSettings(jwt_secret=JWT_SECRET)).issue_token(subject, roles)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


QA = bearer(Role.qa_analyst)


def transcript(recording_id: str, turns: list[tuple[str, str]], language: str = "zh") -> TranscriptDocument:
    built, clock = [], 0
    for n, (role, text) in enumerate(turns):
        length = 250 * max(1, len(text) if language == "zh" else len(text.split()) * 2)
        built.append(Turn(id=f"t{n}", role=role, begin_ms=clock, end_ms=clock + length, text=text))  # type: ignore[arg-type]
        clock += length + 600

    def role_metrics(role: str) -> RoleMetrics:
        talk = sum(t.end_ms - t.begin_ms for t in built if t.role == role)
        units = sum(len(t.text) for t in built if t.role == role)
        return RoleMetrics(
            talk_time_ms=talk,
            talk_ratio=talk / clock,
            turns=sum(t.role == role for t in built),
            units=units,
            speech_rate=units / (talk / 60000) if talk else None,
            speech_rate_unit="chars_per_min" if language == "zh" else "words_per_min",
            loudness_dbfs=-20.0,
        )

    return TranscriptDocument(
        recording_id=recording_id,
        language=language,
        model=ModelInfo(id="whisper-base", version="test"),
        channel_layout="agent_left",
        duration_ms=clock,
        speakers=Speakers(method="stereo_channels", agent_confidence=1, agent_identified_by="channel layout"),
        turns=built,
        metrics=ConversationMetrics(
            duration_ms=clock,
            roles={"agent": role_metrics("agent"), "customer": role_metrics("customer")},
            non_talk_time_ms=0,
            non_talk=[],
            overlaps=[],
            interruptions={},
            response_latencies=[],
            mean_response_latency_ms=None,
            max_response_latency_ms=None,
        ),
    )


RUDE_CALL = [
    ("agent", "喂，什么事？"),
    ("customer", "我的宽带又断了，你们怎么回事，我要投诉！"),
    ("agent", "不知道，那你想好了再打来吧。"),
    ("customer", "你这是什么态度？"),
    ("agent", "神经病。"),
]


GOOD_CALL = [
    ("agent", "您好，这里是客服中心，工号一零一七，请问有什么可以帮您？"),
    ("customer", "我想查一下这个月的账单。"),
    ("agent", "好的，请您提供一下手机号码，我帮您核实一下。"),
    ("customer", "一三八零零一三八零零零。"),
    ("agent", "谢谢您，请稍等。您本月的账单是九十八元，请问还有其他可以帮您的吗？"),
    ("customer", "没有了，谢谢。"),
    ("agent", "感谢您的来电，祝您生活愉快，再见。"),
]


def ready_event(doc: TranscriptDocument, **payload: Any) -> TranscriptReadyEvent:
    return TranscriptReadyEvent(
        correlation_id=doc.recording_id,
        producer="tests",
        payload=TranscriptReady(
            recording_id=doc.recording_id,
            agent_id=payload.get("agent_id", "agent-1"),
            group=payload.get("group", "billing"),
            queue=payload.get("queue", "billing-zh"),
            started_at=payload.get("started_at", datetime(2026, 11, 2, 9, tzinfo=UTC)),
            language=doc.language,
            model_version="whisper-base@test",
            duration_ms=doc.duration_ms,
            transcript_key=f"transcripts/{doc.recording_id}.json",
            document=doc.model_dump(mode="json"),
            direction=payload.get("direction", "inbound"),
            tags=payload.get("tags", ["complaint"]),
        ),
    )


def publish(kafka: KafkaSettings, *events: TranscriptReadyEvent | RecordingPurgedEvent) -> None:
    async def send() -> None:
        async with Bus(kafka) as bus:
            for event in events:
                await bus.publish(event)

    asyncio.run(send())


def scored(
    kafka: KafkaSettings, recording_id: str, expect: int = 1, timeout: float = 30
) -> list[EvaluationScoredEvent]:
    deadline = time.monotonic() + timeout
    while True:
        records = asyncio.run(read_all(kafka, SCORED_TOPIC, expected=10**9, timeout=1.0))
        mine = [EvaluationScoredEvent.model_validate_json(r.value) for r in records if r.key == recording_id.encode()]
        if len(mine) >= expect or time.monotonic() > deadline:
            return mine
        time.sleep(0.2)


# --- small hand-built transcripts and one-item cards, for the rule engine ---------------------------------

TurnSpec = tuple[str, str] | tuple[str, str, float, float]


def build(
    turns: Sequence[TurnSpec],
    *,
    language: str = "zh",
    pauses: Mapping[int, float] | None = None,
    non_talk: Sequence[tuple[float, float]] = (),
    overlaps: Sequence[tuple[float, float, str]] = (),
    speech_rate: Mapping[str, float | None] | None = None,
    voiced_ms: Mapping[str, int] | None = None,
) -> TranscriptDocument:
    """A transcript from (role, text) or (role, text, begin_s, end_s) turns.

    Untimed turns follow each other with 0.5 s pauses (`pauses` overrides the pause before a turn),
    lasting 0.25 s per character (zh) or 0.4 s per word. Metrics are derived from the turns unless
    given: talk time = turn time, speech rate = units per voiced minute, a response latency per
    customer -> agent hand-over.
    """
    zh = language.startswith("zh")
    built: list[Turn] = []
    clock = 0.0
    for n, spec in enumerate(turns):
        role, text = spec[0], spec[1]
        if len(spec) == 4:
            begin, end = spec[2], spec[3]
        else:
            begin = clock + (pauses or {}).get(n, 0.5 if n else 0.0)
            end = begin + max(0.5, (len(text) * 0.25) if zh else len(text.split()) * 0.4)
        clock = max(clock, end)
        built.append(Turn(id=f"t{n}", role=role, begin_ms=round(begin * 1000), end_ms=round(end * 1000), text=text))
    duration_ms = round((clock + 1) * 1000)
    roles: dict[str, RoleMetrics] = {}
    for role in ("agent", "customer"):
        mine = [t for t in built if t.role == role]
        if not mine:
            continue
        talk = (voiced_ms or {}).get(role, sum(t.end_ms - t.begin_ms for t in mine))
        units = sum(sum(c.isalnum() for c in t.text) if zh else len(t.text.split()) for t in mine)
        rates = speech_rate or {}
        roles[role] = RoleMetrics(
            talk_time_ms=talk,
            talk_ratio=talk / duration_ms,
            turns=len(mine),
            units=units,
            speech_rate=rates[role] if role in rates else (units / (talk / 60000) if talk else None),
            speech_rate_unit="chars_per_min" if zh else "words_per_min",
            loudness_dbfs=-20.0,
        )
    latencies = [
        ResponseLatency(customer_turn_id=a.id, agent_turn_id=b.id, latency_ms=b.begin_ms - a.end_ms)
        for a, b in pairwise(built)
        if a.role == "customer" and b.role == "agent"
    ]
    spans = [Span(begin_ms=round(a * 1000), end_ms=round(b * 1000)) for a, b in non_talk]
    found_overlaps = [
        Overlap(
            begin_ms=round(a * 1000),
            end_ms=round(b * 1000),
            interrupter=who,
            interrupted="customer" if who == "agent" else "agent",
        )
        for a, b, who in overlaps
    ]
    values = [latency.latency_ms for latency in latencies]
    return TranscriptDocument(
        recording_id="test",
        language=language,
        model=ModelInfo(id="test", version="1"),
        channel_layout="agent_left",
        duration_ms=duration_ms,
        speakers=Speakers(method="stereo_channels", agent_confidence=1, agent_identified_by="channel layout"),
        turns=built,
        metrics=ConversationMetrics(
            duration_ms=duration_ms,
            roles=roles,
            non_talk_time_ms=sum(s.duration_ms for s in spans),
            non_talk=spans,
            overlaps=found_overlaps,
            interruptions={r: sum(o.interrupter == r for o in found_overlaps) for r in ("agent", "customer")},
            response_latencies=latencies,
            mean_response_latency_ms=round(sum(values) / len(values)) if values else None,
            max_response_latency_ms=max(values) if values else None,
        ),
    )


def one_item_card(condition: Mapping[str, Any], language: str = "zh", **item: Any) -> Scorecard:
    spec = {"id": "x", "name": "x", "kind": "requirement", "points": 1, "severity": "C", "condition": condition}
    return Scorecard.model_validate(
        {
            "id": "test",
            "name": "test",
            "language": language,
            "sections": [{"id": "s", "name": "s", "items": [spec | item]}],
        }
    )
