"""Tables owned by recorder-ingest: recordings and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from callqa.db import utc_column
from callqa.events import utcnow


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and MetaData) of their own, so a table's name only has to be
    unique in this service's database, never among every service imported into one process."""


class RecordingStatus(StrEnum):
    stored = "stored"
    audio_not_retained = "audio_not_retained"  # consent declined: metadata only
    purged = "purged"  # retention expired or erased: audio gone, tombstone kept


class Recording(Table, table=True):
    __tablename__ = "recordings"

    id: str = Field(primary_key=True, max_length=36)
    call_id: str = Field(unique=True, max_length=200)
    platform: str | None = Field(default=None, max_length=100)
    agent_id: str = Field(index=True, max_length=100)
    group: str | None = Field(default=None, index=True, max_length=100)
    queue: str | None = Field(default=None, index=True, max_length=100)
    direction: str = Field(max_length=10)
    started_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    channel_layout: str = Field(max_length=20)
    language: str | None = Field(default=None, max_length=20)
    tags: str = Field(default=",", max_length=1000, description="',a,b,' so one LIKE finds a tag")

    customer_number_hash: str | None = Field(default=None, index=True, max_length=64)
    customer_number_encrypted: str | None = Field(default=None, max_length=500)

    consent_status: str = Field(index=True, max_length=20)
    consent_method: str | None = Field(default=None, max_length=30)
    consent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    consent_outcome: str = Field(max_length=300)

    retention_policy: str = Field(max_length=50)
    retain_until: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    legal_hold: bool = Field(default=False, index=True)
    legal_hold_reason: str | None = Field(default=None, max_length=500)
    legal_hold_by: str | None = Field(default=None, max_length=200)
    legal_hold_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    status: str = Field(index=True, max_length=30, description="a RecordingStatus value")
    audio_key: str | None = Field(default=None, max_length=300)
    audio_sha256: str = Field(max_length=64)
    audio_size: int = Field(sa_type=BigInteger)  # BIGINT, as migration 0002 made them
    container: str = Field(max_length=30)
    codec: str = Field(max_length=30)
    channels: int
    sample_rate: int
    duration_ms: int = Field(sa_type=BigInteger)

    purged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    purge_reason: str | None = Field(default=None, max_length=50)
    # Set while the retention purge cannot delete the audio (a PurgeBlock value, a readable detail, when
    # it last tried); cleared when the purge succeeds.
    purge_blocked_reason: str | None = Field(default=None, max_length=50)
    purge_blocked_detail: str | None = Field(default=None, max_length=500)
    purge_blocked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]


class PurgeBlock(StrEnum):
    """Why an expired recording's audio could not be purged (the `reason` label of the failure metric)."""

    retention_not_expired = "retention_not_expired"  # the store's retain-until date is later than ours
    legal_hold_in_store = "legal_hold_in_store"  # the object is held in the store, not in the database
    object_locked = "object_locked"  # the store refused for another lock reason
    store_unavailable = "store_unavailable"
    error = "error"


class AuditAction(StrEnum):
    audio_stream = "audio.stream"
    audio_url = "audio.url"
    legal_hold_set = "legal_hold.set"
    legal_hold_released = "legal_hold.released"
    erasure = "recording.erased"


class AuditEntry(Table, table=True):
    """Who touched which recording, when and why. Triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))
    actor: str = Field(index=True, max_length=200)
    roles: str = Field(max_length=200)
    action: str = Field(index=True, max_length=40)
    recording_id: str | None = Field(default=None, index=True, max_length=36)
    purpose: str | None = Field(default=None, max_length=300)
    outcome: str = Field(max_length=20, description="allowed | denied | failed")
    client: str | None = Field(default=None, max_length=100)
    detail: str | None = Field(default=None, max_length=1000)
