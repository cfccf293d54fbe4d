"""What the API accepts and returns."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from callqa.events import ChannelLayout, ConsentStatus
from callqa.http import NonBlankText
from recorder_ingest.tables import AuditEntry, Recording

TAG_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,49}$"
# No call recorder predates this; an earlier date is a broken clock or a default value (year 1 would
# be purged the moment it is stored).
EARLIEST_CALL = datetime(1990, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=10)  # a little skew between the PBX and us is normal


def plausible_time(value: datetime, field: str) -> datetime:
    if value < EARLIEST_CALL:
        raise ValueError(f"{field} is before {EARLIEST_CALL:%Y}; check the platform's clock or time zone")
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError(f"{field} is in the future; check the platform's clock or time zone")
    return value


class ConsentMethod(StrEnum):
    ivr_announcement = "ivr_announcement"
    verbal = "verbal"
    written = "written"


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ConsentStatus
    method: ConsentMethod | None = None
    at: AwareDatetime | None = Field(None, description="when consent was given or the announcement played")

    @field_validator("at")
    @classmethod
    def _plausible(cls, at: datetime | None) -> datetime | None:
        return None if at is None else plausible_time(at, "consent.at")


class LegalHoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NonBlankText = Field(min_length=3, max_length=500, examples=["dispute #4411 with customer"])


class RecordingMetadata(BaseModel):
    """The JSON `metadata` part of a recording upload."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "call_id": "pbx-2026-11-02-000123",
                    "platform": "pbx-east",
                    "agent_id": "agent-042",
                    "group": "billing",
                    "queue": "billing-zh",
                    "direction": "inbound",
                    "started_at": "2026-11-02T09:30:00+08:00",
                    "customer_number": "+86 138 0013 8000",
                    "channel_layout": "agent_left",
                    "language": "zh",
                    "tags": ["complaint"],
                    "consent": {"status": "notified", "method": "ivr_announcement"},
                }
            ]
        },
    )

    call_id: NonBlankText = Field(
        min_length=1, max_length=200, description="the platform's call id: the idempotency key"
    )
    platform: NonBlankText | None = Field(
        None, max_length=100, description="telephony platform, picks its channel layout"
    )
    agent_id: NonBlankText = Field(min_length=1, max_length=100)
    group: NonBlankText | None = Field(None, max_length=100, description="team / ACD group")
    queue: NonBlankText | None = Field(None, max_length=100, description="queue or business line")
    direction: Literal["inbound", "outbound", "internal"] = "inbound"
    started_at: AwareDatetime = Field(description="from 1990 to now (10 minutes of clock skew allowed)")
    customer_number: str | None = Field(
        None, max_length=40, description="never stored in clear: keyed hash (+ encrypted copy if configured)"
    )
    channel_layout: ChannelLayout | None = Field(None, description="default: the platform's, else agent_left")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$", examples=["zh", "en"])
    tags: list[str] = Field(default_factory=list, max_length=20)
    consent: Consent
    retention_policy: NonBlankText | None = Field(
        None, max_length=50, description="a configured policy name; default chosen from tags"
    )
    legal_hold: LegalHoldRequest | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.fullmatch(TAG_PATTERN, tag):
                raise ValueError(f"tag {tag!r} must be lower-case letters, digits, '_' or '-'")
        return sorted(set(tags))

    @field_validator("started_at")
    @classmethod
    def _plausible(cls, started_at: datetime) -> datetime:
        return plausible_time(started_at, "started_at")

    @field_validator("customer_number")
    @classmethod
    def _number(cls, number: str | None) -> str | None:
        if number is None:
            return None
        digits = "".join(ch for ch in number if ch.isdigit())
        if not 3 <= len(digits) <= 20 or any(ch not in "0123456789+-() ." for ch in number):
            raise ValueError("customer_number must be a phone number (3-20 digits, optional + - ( ) . spaces)")
        return ("+" if number.strip().startswith("+") else "") + digits


class AudioOut(BaseModel):
    status: str = Field(description="stored | audio_not_retained | purged")
    container: str
    codec: str
    channels: int
    sample_rate: int
    duration_ms: int
    size: int
    sha256: str


class ConsentOut(BaseModel):
    status: str
    method: str | None
    at: datetime | None
    outcome: str = Field(description="what the consent policy did with this recording")


class PurgeBlockedOut(BaseModel):
    reason: str = Field(
        description="retention_not_expired | legal_hold_in_store | object_locked | store_unavailable | error"
    )
    detail: str | None = Field(examples=["the object store retains the audio until 2027-01-01T00:00:00+00:00; ..."])
    at: datetime | None = Field(description="the last purge attempt")


class RetentionOut(BaseModel):
    policy: str
    retain_until: datetime
    legal_hold: bool
    legal_hold_reason: str | None
    purged_at: datetime | None
    purge_reason: str | None
    purge_blocked: PurgeBlockedOut | None = Field(
        description="set while the retention purge cannot delete the audio (it retries every run), with why"
    )


class RecordingOut(BaseModel):
    id: str
    call_id: str
    platform: str | None
    agent_id: str
    group: str | None
    queue: str | None
    direction: str
    started_at: datetime
    received_at: datetime
    channel_layout: str
    language: str | None
    tags: list[str]
    has_customer_number: bool
    audio: AudioOut
    consent: ConsentOut
    retention: RetentionOut

    @classmethod
    def of(cls, r: Recording) -> RecordingOut:
        return cls(
            id=r.id,
            call_id=r.call_id,
            platform=r.platform,
            agent_id=r.agent_id,
            group=r.group,
            queue=r.queue,
            direction=r.direction,
            started_at=r.started_at,
            received_at=r.received_at,
            channel_layout=r.channel_layout,
            language=r.language,
            tags=r.tag_list,
            has_customer_number=r.customer_number_hash is not None,
            audio=AudioOut(
                status=r.status,
                container=r.container,
                codec=r.codec,
                channels=r.channels,
                sample_rate=r.sample_rate,
                duration_ms=r.duration_ms,
                size=r.audio_size,
                sha256=r.audio_sha256,
            ),
            consent=ConsentOut(
                status=r.consent_status, method=r.consent_method, at=r.consent_at, outcome=r.consent_outcome
            ),
            retention=RetentionOut(
                policy=r.retention_policy,
                retain_until=r.retain_until,
                legal_hold=r.legal_hold,
                legal_hold_reason=r.legal_hold_reason,
                purged_at=r.purged_at,
                purge_reason=r.purge_reason,
                purge_blocked=PurgeBlockedOut(
                    reason=r.purge_blocked_reason, detail=r.purge_blocked_detail, at=r.purge_blocked_at
                )
                if r.purge_blocked_reason
                else None,
            ),
        )


class AudioUrl(BaseModel):
    url: str
    expires_at: datetime


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    roles: list[str]
    action: str
    recording_id: str | None
    purpose: str | None
    outcome: str
    client: str | None
    detail: str | None

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        assert e.id is not None
        return cls(
            id=e.id,
            at=e.at,
            actor=e.actor,
            roles=[r for r in e.roles.split(",") if r],
            action=e.action,
            recording_id=e.recording_id,
            purpose=e.purpose,
            outcome=e.outcome,
            client=e.client,
            detail=e.detail,
        )
