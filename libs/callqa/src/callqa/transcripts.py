"""The transcript document: what the transcriber produces and the scorer reads.

Times are integer milliseconds from the start of the recording. Text is already redacted
(PII replaced by `[PHONE]`, `[ID_NUMBER]`, ...); `redactions` says where, never what.

Schema versions: 2 names a word's fields `text` and `probability`; version 1 called them `w` and `p`.
Documents are written in the current version only; older ones (stored transcripts, inline documents in
`transcript.ready` events) still load, upcast to the current shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator

from callqa.events import utcnow

Role = Literal["agent", "customer", "unknown"]
SpeechRateUnit = Literal["chars_per_min", "words_per_min"]


SCHEMA_VERSION = 2


class Word(BaseModel):
    text: str = Field(
        validation_alias=AliasChoices("text", "w"), description="as recognised; a placeholder where redacted"
    )
    begin_ms: int
    end_ms: int
    probability: float = Field(
        ge=0, le=1, validation_alias=AliasChoices("probability", "p"), description="the recogniser's confidence"
    )


class Turn(BaseModel):
    id: str = Field(description="stable within the document: t0, t1, ...")
    role: Role
    begin_ms: int
    end_ms: int
    text: str
    words: list[Word] = Field(default_factory=list)


class Span(BaseModel):
    begin_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.begin_ms


class Overlap(Span):
    interrupter: Role = Field(description="who started talking while the other was talking")
    interrupted: Role


class ResponseLatency(BaseModel):
    customer_turn_id: str
    agent_turn_id: str
    latency_ms: int = Field(description="from the end of the customer's turn to the agent's answer; negative = overlap")


class RoleMetrics(BaseModel):
    talk_time_ms: int = Field(description="voiced time (VAD), not turn spans")
    talk_ratio: float = Field(description="share of the call's duration")
    turns: int
    units: int = Field(description="characters (zh) or words spoken")
    speech_rate: float | None = Field(description="units per minute of voiced time; None without speech")
    speech_rate_unit: SpeechRateUnit
    loudness_dbfs: float | None = Field(description="RMS level of the voiced audio; None without speech")


class ConversationMetrics(BaseModel):
    duration_ms: int
    roles: dict[str, RoleMetrics]
    non_talk_time_ms: int = Field(description="total of the non-talk instances")
    non_talk: list[Span] = Field(description="silences of at least the configured minimum (3 s by default)")
    overlaps: list[Overlap]
    interruptions: dict[str, int] = Field(description="interrupter role -> count")
    response_latencies: list[ResponseLatency]
    mean_response_latency_ms: int | None
    max_response_latency_ms: int | None


class Redaction(BaseModel):
    turn_id: str
    kind: str = Field(description="phone | id_number | bank_card | email | a configured pattern name")
    begin_ms: int
    end_ms: int
    char_start: int = Field(description="offset of the placeholder in the turn's redacted text")
    char_end: int


class Speakers(BaseModel):
    method: Literal["stereo_channels", "mono_clustering", "single_speaker", "none"]
    agent_confidence: float = Field(ge=0, le=1, description="how sure the agent/customer labels are")
    agent_identified_by: str = Field(description="channel layout, greeting phrase, first speaker, ...")


class ModelInfo(BaseModel):
    id: str = Field(examples=["whisper-base"])
    version: str = Field(description="identifies the weights and the pipeline options")


class TranscriptDocument(BaseModel):
    schema_version: int = Field(SCHEMA_VERSION, description="older versions are upcast when read")
    recording_id: str
    language: str
    model: ModelInfo
    channel_layout: str
    duration_ms: int
    speakers: Speakers
    turns: list[Turn]
    metrics: ConversationMetrics
    redactions: list[Redaction] = Field(default_factory=list)
    redacted_audio_key: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _upcast(cls, version: Any) -> Any:
        """Version 1 differs only in the words' field names, which `Word` reads in either spelling."""
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise ValueError(f"transcript schema version {version} is newer than this reader ({SCHEMA_VERSION})")
        return SCHEMA_VERSION if version == 1 else version

    @property
    def model_version(self) -> str:
        return f"{self.model.id}@{self.model.version}"
