"""Scoring transcripts: every applicable scorecard, one stored evaluation each, announced once.

Idempotent per recording + scorecard version + transcript version (a unique key): a redelivered
`transcript.ready` or a re-score of an already scored call changes nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import or_, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, delete, func, select

from callqa.db import Database
from callqa.events import EvaluationScored, EvaluationScoredEvent, ScoredItem, TranscriptReady, utcnow
from callqa.outbox import enqueue
from callqa.storage import ObjectNotFound, ObjectStore
from callqa.transcripts import TranscriptDocument
from scorer.library import ScorecardLibrary, ScorecardNotFound
from scorer.tables import EvaluationRecord, RescoreJob, ScorecardVersion, TranscriptSeen

log = logging.getLogger(__name__)
PRODUCER = "scorer"

EVALUATIONS = Counter("callqa_scorer_evaluations_total", "Evaluations stored", ["scorecard", "passed"])
# A call no scorecard applies to (its language, queue or group) is a gap in QA coverage, not a success.
UNSCORED = Counter("callqa_scorer_unscored_total", "Transcripts that got no evaluation, by why", ["reason"])
SCORING_SECONDS = Histogram("callqa_scorer_evaluation_seconds", "Time to evaluate one transcript with one card")
UNFINISHED = ("queued", "running")  # re-score job statuses that still need a run
ERROR_LIMIT = 1000  # RescoreJob.error's length


class EvaluationNotFound(KeyError):
    pass


class ClaimLost(Exception):
    """The re-score job is no longer this run's: its lease ran out and another run took it over."""


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

    @classmethod
    def from_json(cls, filters: dict[str, Any]) -> CallFilter:
        """A re-score job's stored filters: its JSON column hands the timestamps back as ISO strings."""
        times = {
            name: datetime.fromisoformat(value)
            for name in ("started_from", "started_to")
            if isinstance(value := filters.get(name), str)
        }
        return cls(**(filters | times))


class Scorer:
    def __init__(
        self, db: Database, library: ScorecardLibrary, transcripts: ObjectStore, *, rescore_lease_s: float = 60.0
    ) -> None:
        self.db = db
        self.library = library
        self.transcripts = transcripts
        self.lease = timedelta(seconds=rescore_lease_s)

    # --- from the bus -----------------------------------------------------------------------

    def on_transcript(self, ready: TranscriptReady) -> list[EvaluationRecord]:
        seen, first = self._remember(ready)
        document = self.load(seen, ready.document)
        cards = self.library.applicable(ready.language, ready.queue, ready.group)
        if not cards:
            if first:  # counted once per transcript, not again for a redelivery
                UNSCORED.labels("no_applicable_scorecard").inc()
            log.warning(
                "no scorecard applies to the call: it is not evaluated",
                extra={
                    "recording_id": ready.recording_id,
                    "language": ready.language,
                    "queue": ready.queue,
                    "group": ready.group,
                    "reason": "no_applicable_scorecard",
                },
            )
        return [self.evaluate_and_store(seen, document, card) for card in cards]

    def _remember(self, ready: TranscriptReady) -> tuple[TranscriptSeen, bool]:
        """Store where the transcript is; True the first time, False for a redelivery."""
        seen = TranscriptSeen(
            recording_id=ready.recording_id,
            transcript_version=ready.model_version,
            transcript_key=ready.transcript_key,
            language=ready.language,
            agent_id=ready.agent_id,
            group=ready.group,
            queue=ready.queue,
            started_at=ready.started_at,
            direction=ready.direction,
            duration_ms=ready.duration_ms,
            tags=ready.tags,
        )
        try:
            with self.db.session() as session:
                session.add(seen)
        except IntegrityError:
            return seen, False  # a redelivery: already remembered
        return seen, True

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
                enqueue(session, scored_event(record, seen, self.library.compiled(card).card.pass_threshold))
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
    # A job is worked on by the one run that holds its claim (`claimed_by`); each write of that run
    # is conditional on the claim and renews its lease. A run that dies stops renewing, so any replica
    # may then claim the job with a conditional UPDATE that only one claimant can win (on SQLite and on
    # PostgreSQL alike), and a run whose job was taken over finds out at its next write and stops.

    def start_job(self, job: RescoreJob) -> str:
        """Store a new job already claimed by the run about to start, so no replica resumes it meanwhile."""
        claim = new_claim()
        job.claimed_by, job.lease_expires_at = claim, utcnow() + self.lease
        with self.db.session() as session:
            session.add(job)
        return claim

    def claim_orphaned_jobs(self) -> list[tuple[str, str]]:
        """Claim the unfinished jobs no live run holds (their process crashed or stopped): (job id, claim)
        of each job won. Resuming is running the job again: re-scoring is idempotent per recording +
        scorecard version + transcript version, so what the earlier run stored is found, not redone."""
        now = utcnow()
        orphaned = (
            col(RescoreJob.status).in_(UNFINISHED),
            or_(col(RescoreJob.lease_expires_at).is_(None), col(RescoreJob.lease_expires_at) < now),
        )
        with self.db.session() as session:
            ids = session.exec(select(RescoreJob.id).where(*orphaned).order_by(col(RescoreJob.created_at))).all()
        won = []
        for job_id in ids:
            claim = new_claim()
            with self.db.session() as session:
                result = session.exec(
                    update(RescoreJob)
                    .where(col(RescoreJob.id) == job_id, *orphaned)
                    .values(claimed_by=claim, lease_expires_at=now + self.lease)
                )
            if result.rowcount == 1:
                won.append((job_id, claim))
        return won

    def rescore(
        self,
        job_id: str,
        claim: str,
        *,
        stop: threading.Event | None = None,
        progress: Callable[[int, int, int], None] | None = None,
    ) -> None:
        """Score every remembered transcript matching the job's filter with the job's card version.

        The job ends `done`, or `failed` with the reason when anything escapes the run (a call that
        fails to score only counts in `failed`). On `stop` it is released as it is, `running`, for the
        next replica or start-up to resume."""
        try:
            self._rescore(job_id, claim, stop, progress)
        except ClaimLost:
            log.warning("re-score job taken over by another run; this one stops", extra={"job_id": job_id})
        except Exception as exc:
            log.exception("re-score job failed", extra={"job_id": job_id})
            try:
                self._update_job(
                    job_id, claim, release=True, status="failed", error=describe(exc), finished_at=utcnow()
                )
            except Exception:  # e.g. the database is down: the lease runs out and a replica resumes the job
                log.exception("could not record the failure of a re-score job", extra={"job_id": job_id})

    def _rescore(
        self, job_id: str, claim: str, stop: threading.Event | None, progress: Callable[[int, int, int], None] | None
    ) -> None:
        with self.db.session() as session:
            job = session.get(RescoreJob, job_id)
        if job is None:
            raise ClaimLost(job_id)
        card = self.library.get(job.scorecard_id, job.scorecard_version)
        where = CallFilter.from_json(job.filters)
        with self.db.session() as session:
            targets = list(session.exec(select(TranscriptSeen).where(*where.conditions(TranscriptSeen))))
        language = card.language
        targets = [t for t in targets if t.language.split("-")[0] == language]
        # Counts start afresh when a job is resumed: the calls an earlier run scored are counted again.
        self._update_job(job_id, claim, status="running", total=len(targets), done=0, failed=0)
        done = failed = 0
        written = time.monotonic()
        for seen in targets:
            if stop is not None and stop.is_set():
                self._update_job(job_id, claim, release=True, done=done, failed=failed)
                log.info("re-score job released for the next start", extra={"job_id": job_id})
                return
            try:
                self.evaluate_and_store(seen, self.load(seen), card)
                done += 1
            except Exception:
                failed += 1
                log.exception("re-score failed", extra={"recording_id": seen.recording_id})
            # Written every 10 calls, and often enough that slow calls do not let the lease run out.
            renew = time.monotonic() - written > self.lease.total_seconds() / 3
            if (done + failed) % 10 == 0 or done + failed == len(targets) or renew:
                self._update_job(job_id, claim, done=done, failed=failed)
                written = time.monotonic()
                if progress:
                    progress(done, failed, len(targets))
        self._update_job(job_id, claim, release=True, status="done", done=done, failed=failed, finished_at=utcnow())

    def _update_job(self, job_id: str, claim: str, *, release: bool = False, **changes: Any) -> None:
        """Write as the run holding `claim`, renewing its lease (or releasing the job); ClaimLost if it
        no longer holds it."""
        lease = (
            {"claimed_by": None, "lease_expires_at": None} if release else {"lease_expires_at": utcnow() + self.lease}
        )
        with self.db.session() as session:
            result = session.exec(
                update(RescoreJob)
                .where(col(RescoreJob.id) == job_id, col(RescoreJob.claimed_by) == claim)
                .values(**changes, **lease)
            )
        if result.rowcount != 1:
            raise ClaimLost(job_id)


def new_claim() -> str:
    """Unique per run, and says where the run is to whoever reads the table."""
    return f"{socket.gethostname()[:50]}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def describe(exc: Exception) -> str:
    """One readable line for a failed job's `error` (the database's own message, not SQLAlchemy's SQL)."""
    if isinstance(exc, ScorecardNotFound):
        return f"scorecard {exc.args[0]} no longer exists"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}"[:ERROR_LIMIT] if lines else type(cause).__name__


def scrubbed(item: dict[str, Any]) -> dict[str, Any]:
    return item | {"evidence": [evidence | {"text": None} for evidence in item.get("evidence", [])]}


def scored_event(record: EvaluationRecord, seen: TranscriptSeen, pass_threshold: float) -> EvaluationScoredEvent:
    """The event of a stored evaluation, with the call facts its transcript brought (for sampling)."""
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
            direction=seen.direction,
            duration_ms=seen.duration_ms,
            tags=seen.tags,
            pass_threshold=pass_threshold,
        ),
    )
