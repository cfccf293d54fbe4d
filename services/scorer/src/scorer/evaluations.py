"""Scoring transcripts: every applicable scorecard, one stored evaluation each, announced once.

Idempotent per recording + scorecard version + transcript version (a unique key): a redelivered
`transcript.ready` or a re-score of an already scored call changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, func, select

from callqa.db import Database
from callqa.events import EvaluationScored, EvaluationScoredEvent, ScoredItem, TranscriptReady, utcnow
from callqa.outbox import enqueue
from callqa.storage import ObjectNotFound, ObjectStore
from callqa.transcripts import TranscriptDocument
from scorer.library import ScorecardLibrary
from scorer.models import EvaluationRecord, RescoreJob, ScorecardVersion, TranscriptSeen

log = logging.getLogger(__name__)
PRODUCER = "scorer"

EVALUATIONS = Counter("callqa_scorer_evaluations_total", "Evaluations stored", ["scorecard", "passed"])
SCORING_SECONDS = Histogram("callqa_scorer_evaluation_seconds", "Time to evaluate one transcript with one card")


class EvaluationNotFound(KeyError):
    pass


@dataclass(frozen=True)
class CallFilter:
    started_from: datetime | None = None
    started_to: datetime | None = None
    agent_id: str | None = None
    group: str | None = None
    queue: str | None = None

    def conditions(self, table: Any) -> list[Any]:
        found = [
            col(getattr(table, name)) == value
            for name in ("agent_id", "group", "queue")
            if (value := getattr(self, name))
        ]
        if self.started_from is not None:
            found.append(col(table.started_at) >= self.started_from)
        if self.started_to is not None:
            found.append(col(table.started_at) < self.started_to)
        return found


class Scorer:
    def __init__(self, db: Database, library: ScorecardLibrary, transcripts: ObjectStore) -> None:
        self.db = db
        self.library = library
        self.transcripts = transcripts

    # --- from the bus -----------------------------------------------------------------------

    def on_transcript(self, ready: TranscriptReady) -> list[EvaluationRecord]:
        seen = self._remember(ready)
        document = self.load(seen, ready.document)
        return [
            self.evaluate_and_store(seen, document, card)
            for card in self.library.applicable(ready.language, ready.queue, ready.group)
        ]

    def _remember(self, ready: TranscriptReady) -> TranscriptSeen:
        seen = TranscriptSeen(
            recording_id=ready.recording_id,
            transcript_version=ready.model_version,
            transcript_key=ready.transcript_key,
            language=ready.language,
            agent_id=ready.agent_id,
            group=ready.group,
            queue=ready.queue,
            started_at=ready.started_at,
        )
        try:
            with self.db.session() as session:
                session.add(seen)
        except IntegrityError:
            pass  # a redelivery: already remembered
        return seen

    def load(self, seen: TranscriptSeen, inline: dict[str, Any] | None = None) -> TranscriptDocument:
        if inline is not None:
            return TranscriptDocument.model_validate(inline)
        if seen.transcript_key is None:
            raise ObjectNotFound(f"transcript of {seen.recording_id}")
        return TranscriptDocument.model_validate_json(self.transcripts.get_bytes(seen.transcript_key))

    def evaluate_and_store(
        self, seen: TranscriptSeen, document: TranscriptDocument, card: ScorecardVersion
    ) -> EvaluationRecord:
        existing = self._existing(seen, card)
        if existing is not None:
            return existing
        with SCORING_SECONDS.time():
            evaluation = self.library.compiled(card).evaluate(document)
        record = EvaluationRecord(
            id=str(uuid.uuid4()),
            recording_id=seen.recording_id,
            agent_id=seen.agent_id,
            group=seen.group,
            queue=seen.queue,
            started_at=seen.started_at,
            scorecard_id=card.scorecard_id,
            scorecard_version=card.version,
            transcript_version=seen.transcript_version,
            total_points=evaluation.total_points,
            max_points=evaluation.max_points,
            percentage=evaluation.percentage,
            passed=evaluation.passed,
            auto_failed=evaluation.auto_failed,
            items=[item.model_dump(mode="json") for item in evaluation.items],
        )
        try:
            with self.db.session() as session:
                session.add(record)
                enqueue(session, scored_event(record))
        except IntegrityError:  # a concurrent replica stored it first
            stored = self._existing(seen, card)
            assert stored is not None
            return stored
        EVALUATIONS.labels(card.scorecard_id, str(record.passed).lower()).inc()
        return record

    def _existing(self, seen: TranscriptSeen, card: ScorecardVersion) -> EvaluationRecord | None:
        with self.db.session() as session:
            return session.exec(
                select(EvaluationRecord).where(
                    EvaluationRecord.recording_id == seen.recording_id,
                    EvaluationRecord.scorecard_id == card.scorecard_id,
                    EvaluationRecord.scorecard_version == card.version,
                    EvaluationRecord.transcript_version == seen.transcript_version,
                )
            ).first()

    def purge(self, recording_id: str) -> int:
        """recording.purged: evidence text goes; scores stay (they carry no words of the call)."""
        with self.db.session() as session:
            records = session.exec(select(EvaluationRecord).where(EvaluationRecord.recording_id == recording_id)).all()
            for record in records:
                record.items = [scrubbed(item) for item in record.items]
                record.evidence_purged = True
                session.add(record)
            session.exec(delete(TranscriptSeen).where(col(TranscriptSeen.recording_id) == recording_id))
        return len(records)

    # --- queries ----------------------------------------------------------------------------

    def get(self, evaluation_id: str) -> EvaluationRecord:
        with self.db.session() as session:
            record = session.get(EvaluationRecord, evaluation_id)
        if record is None:
            raise EvaluationNotFound(evaluation_id)
        return record

    def search(
        self, where: CallFilter, *, passed: bool | None, scorecard_id: str | None, limit: int, offset: int
    ) -> tuple[list[EvaluationRecord], int]:
        conditions = where.conditions(EvaluationRecord)
        if passed is not None:
            conditions.append(col(EvaluationRecord.passed) == passed)
        if scorecard_id is not None:
            conditions.append(col(EvaluationRecord.scorecard_id) == scorecard_id)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(EvaluationRecord).where(*conditions)).one()
            rows = session.exec(
                select(EvaluationRecord)
                .where(*conditions)
                .order_by(col(EvaluationRecord.started_at).desc(), col(EvaluationRecord.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    # --- re-scoring -------------------------------------------------------------------------

    def rescore(self, job_id: str, progress: Callable[[int, int, int], None] | None = None) -> None:
        """Score every remembered transcript matching the job's filter with the job's card version."""
        with self.db.session() as session:
            job = session.get(RescoreJob, job_id)
            assert job is not None
        card = self.library.get(job.scorecard_id, job.scorecard_version)
        where = CallFilter(**job.filters)
        with self.db.session() as session:
            targets = list(session.exec(select(TranscriptSeen).where(*where.conditions(TranscriptSeen))))
        language = card.language
        targets = [t for t in targets if t.language.split("-")[0] == language]
        self._update_job(job_id, status="running", total=len(targets))
        done = failed = 0
        for seen in targets:
            try:
                self.evaluate_and_store(seen, self.load(seen), card)
                done += 1
            except Exception:
                failed += 1
                log.exception("re-score failed", extra={"recording_id": seen.recording_id})
            if (done + failed) % 10 == 0 or done + failed == len(targets):
                self._update_job(job_id, done=done, failed=failed)
                if progress:
                    progress(done, failed, len(targets))
        self._update_job(job_id, status="done", done=done, failed=failed, finished_at=utcnow())

    def _update_job(self, job_id: str, **changes: Any) -> None:
        with self.db.session() as session:
            job = session.get(RescoreJob, job_id)
            assert job is not None
            for name, value in changes.items():
                setattr(job, name, value)
            session.add(job)


def scrubbed(item: dict[str, Any]) -> dict[str, Any]:
    return item | {"evidence": [evidence | {"text": None} for evidence in item.get("evidence", [])]}


def scored_event(record: EvaluationRecord) -> EvaluationScoredEvent:
    return EvaluationScoredEvent(
        correlation_id=record.recording_id,
        producer=PRODUCER,
        payload=EvaluationScored(
            evaluation_id=record.id,
            recording_id=record.recording_id,
            agent_id=record.agent_id,
            group=record.group,
            queue=record.queue,
            started_at=record.started_at,
            scorecard_id=record.scorecard_id,
            scorecard_version=record.scorecard_version,
            transcript_version=record.transcript_version,
            total_points=record.total_points,
            max_points=record.max_points,
            percentage=record.percentage,
            passed=record.passed,
            auto_failed=record.auto_failed,
            items=[ScoredItem.model_validate(item) for item in record.items],
        ),
    )
