"""Tables owned by the scorer: versioned scorecards, transcripts seen, evaluations, re-score jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from callqa.db import utc_column
from callqa.events import utcnow


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and MetaData) of their own, so a table's name only has to be
    unique in this service's database, never among every service imported into one process."""


class ScorecardVersion(Table, table=True):
    """Every edit is a new row; evaluations name the exact (scorecard_id, version) they used."""

    __tablename__ = "scorecard_versions"
    __table_args__ = (UniqueConstraint("scorecard_id", "version", name="uq_scorecard_version"),)

    id: int | None = Field(default=None, primary_key=True)
    scorecard_id: str = Field(index=True, max_length=100)
    version: int
    name: str = Field(max_length=200)
    language: str = Field(max_length=20)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class TranscriptSeen(Table, table=True):
    """Where each transcript lives, so a new scorecard version can re-score past calls."""

    __tablename__ = "transcripts_seen"
    __table_args__ = (UniqueConstraint("recording_id", "transcript_version", name="uq_transcript_seen"),)

    id: int | None = Field(default=None, primary_key=True)
    recording_id: str = Field(index=True, max_length=36)
    transcript_version: str = Field(max_length=200)
    transcript_key: str | None = Field(default=None, max_length=300)
    language: str = Field(max_length=20)
    agent_id: str = Field(index=True, max_length=100)
    group: str | None = Field(default=None, index=True, max_length=100)
    queue: str | None = Field(default=None, index=True, max_length=100)
    started_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    direction: str | None = Field(default=None, max_length=20)
    duration_ms: int | None = Field(default=None, sa_type=BigInteger)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))


class EvaluationRecord(Table, table=True):
    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint(
            "recording_id", "scorecard_id", "scorecard_version", "transcript_version", name="uq_evaluation_identity"
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    recording_id: str = Field(index=True, max_length=36)
    agent_id: str = Field(index=True, max_length=100)
    group: str | None = Field(default=None, index=True, max_length=100)
    queue: str | None = Field(default=None, index=True, max_length=100)
    started_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    scorecard_id: str = Field(index=True, max_length=100)
    scorecard_version: int
    transcript_version: str = Field(max_length=200)
    total_points: float
    max_points: float
    percentage: float
    passed: bool = Field(index=True)
    auto_failed: bool
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    evidence_purged: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class RescoreJob(Table, table=True):
    __tablename__ = "rescore_jobs"

    id: str = Field(primary_key=True, max_length=36)
    scorecard_id: str = Field(max_length=100)
    scorecard_version: int
    filters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=20, description="queued | running | done | failed")
    total: int = 0
    done: int = 0
    failed: int = 0
    error: str | None = Field(default=None, max_length=1000)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The run working on an unfinished job and until when it holds it (every write of the run renews
    # the lease); a job with no claimant or an expired lease is resumed by the next replica to look.
    claimed_by: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
