"""Transcripts owned by the transcriber: an index row per (recording, model version) in SQL,
the document itself in the object store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from callqa.db import utc_column
from callqa.events import utcnow


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and MetaData) of their own, so a table's name only has to be
    unique in this service's database, never among every service imported into one process."""


class TranscriptRecord(Table, table=True):
    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("recording_id", "model_version", name="uq_transcript_recording_model"),)

    id: int | None = Field(default=None, primary_key=True)
    recording_id: str = Field(index=True, max_length=36)
    model_version: str = Field(max_length=200)
    language: str = Field(max_length=20)
    duration_ms: int = Field(sa_type=BigInteger)
    turns: int
    transcript_key: str = Field(max_length=300)
    redacted_audio_key: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
