"""The scorer's API models: what its endpoints take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callqa.http import MAX_INT
from callqa.transcripts import TranscriptDocument
from scorer.tables import EvaluationRecord, RescoreJob, ScorecardVersion


class ScorecardOut(BaseModel):
    id: str
    version: int
    name: str
    language: str
    created_by: str
    created_at: datetime
    document: dict[str, Any]

    @classmethod
    def of(cls, row: ScorecardVersion) -> ScorecardOut:
        return cls(
            id=row.scorecard_id,
            version=row.version,
            name=row.name,
            language=row.language,
            created_by=row.created_by,
            created_at=row.created_at,
            document=row.document,
        )


class Validation(BaseModel):
    valid: bool
    items: int


class DraftDryRun(BaseModel):
    """A draft scorecard (not saved) and the transcript to score with it: the scorecard editor's try-out."""

    model_config = ConfigDict(extra="forbid")

    scorecard: dict[str, Any] = Field(description="a scorecard document, as POST /v1/scorecards takes it")
    transcript: TranscriptDocument


class RescoreRequest(BaseModel):
    version: int | None = Field(None, ge=1, le=MAX_INT, description="default: the latest version")
    started_from: datetime | None = None
    started_to: datetime | None = None
    agent_id: str | None = None
    group: str | None = None
    queue: str | None = None


class JobOut(BaseModel):
    id: str
    scorecard_id: str
    scorecard_version: int
    status: str
    total: int
    done: int
    failed: int
    progress: float = Field(description="0..1")
    error: str | None = Field(
        description="why the job ended `failed` (calls that failed to score only count in `failed`)",
        examples=["scorecard billing-zh v3 no longer exists"],
    )
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: RescoreJob) -> JobOut:
        progress = 1.0 if job.status == "done" else (job.done + job.failed) / job.total if job.total else 0.0
        return cls(
            id=job.id,
            scorecard_id=job.scorecard_id,
            scorecard_version=job.scorecard_version,
            status=job.status,
            total=job.total,
            done=job.done,
            failed=job.failed,
            progress=round(progress, 3),
            error=job.error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


class EvaluationOut(BaseModel):
    id: str
    recording_id: str
    agent_id: str
    group: str | None
    queue: str | None
    started_at: datetime
    scorecard_id: str
    scorecard_version: int
    transcript_version: str
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool
    items: list[dict[str, Any]]
    evidence_purged: bool
    created_at: datetime

    @classmethod
    def of(cls, r: EvaluationRecord) -> EvaluationOut:
        return cls.model_validate(r, from_attributes=True)
