"""Coaching's copy of each evaluation and the chain of its versions.

`evaluation.scored` adds an evaluation with version 1 (source `auto`), idempotently (the scorer's id is
the key: a replay changes nothing). Reviews and appeals add human versions, never overwrite one; each
human version is announced as `evaluation.reviewed` through the outbox. `recording.purged` erases the
words of the call (evidence text, notes, comments, reasons) from everything of that recording.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from callqa.auth import Principal, Role
from callqa.db import Database
from callqa.events import (
    EvaluationReviewed,
    EvaluationReviewedEvent,
    EvaluationScored,
    ItemResult,
    RecordingPurged,
    ReviewedItem,
    utcnow,
)
from callqa.outbox import enqueue
from coaching.errors import NotFound, NotYours
from coaching.scoring import Totals
from coaching.tables import (
    Appeal,
    CalibrationScore,
    EvaluationRecord,
    EvaluationVersion,
    ItemAgreement,
    PurgedRecording,
    ReviewAssignment,
    TimelineEntry,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
PRODUCER = "coaching"
SCHEDULER = "scheduler"  # the actor of what the periodic tasks do
STAFF = frozenset({Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.admin})
PURGED_TEXT_KEYS = ("comment", "override_reason", "reason", "text")


def is_staff(principal: Principal) -> bool:
    return bool(principal.roles & STAFF)


def scrub_item(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: (None if k in PURGED_TEXT_KEYS else v) for k, v in item.items()}
    if "evidence" in out:
        out["evidence"] = [{**e, "text": None} for e in out["evidence"] or []]
    return out


def scrub(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [scrub_item(dict(i)) for i in items]


@dataclass(frozen=True)
class EvaluationFilter:
    agent_id: str | None = None
    group: str | None = None
    queue: str | None = None
    scorecard_id: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    reviewed: bool | None = None


def lock(statement: SelectOfScalar[T], session: Session) -> SelectOfScalar[T]:
    """SELECT ... FOR UPDATE on PostgreSQL (SQLite serialises writers anyway)."""
    return statement if session.get_bind().dialect.name == "sqlite" else statement.with_for_update()


class Ledger:
    def __init__(self, db: Database, *, release_automatic: bool = False, default_pass_threshold: float = 80.0) -> None:
        self.db = db
        self.release_automatic = release_automatic
        self.default_pass_threshold = default_pass_threshold

    # --- from the bus ---------------------------------------------------------------------------

    def on_evaluation_scored(self, scored: EvaluationScored) -> bool:
        """Store a new automatic evaluation; False when it was already there (a duplicate or replay)."""
        items = [item.model_dump(mode="json") for item in scored.items]
        now = utcnow()
        try:
            with self.db.session() as session:
                if session.get(EvaluationRecord, scored.evaluation_id) is not None:
                    return False
                purged = session.get(PurgedRecording, scored.recording_id) is not None
                if purged:
                    items = scrub(items)
                session.add(
                    EvaluationRecord(
                        id=scored.evaluation_id,
                        recording_id=scored.recording_id,
                        agent_id=scored.agent_id,
                        group=scored.group,
                        queue=scored.queue,
                        direction=scored.direction,
                        duration_ms=scored.duration_ms,
                        tags=list(scored.tags),
                        started_at=scored.started_at,
                        scorecard_id=scored.scorecard_id,
                        scorecard_version=scored.scorecard_version,
                        transcript_version=scored.transcript_version,
                        pass_threshold=scored.pass_threshold,
                        auto_percentage=scored.percentage,
                        auto_failed=scored.auto_failed,
                        failed_items=[i.item_id for i in scored.items if i.result is ItemResult.failed],
                        evidence_purged=purged,
                    )
                )
                session.add(
                    EvaluationVersion(
                        evaluation_id=scored.evaluation_id,
                        version=1,
                        source="auto",
                        cause="scored",
                        items=items,
                        total_points=scored.total_points,
                        max_points=scored.max_points,
                        percentage=scored.percentage,
                        passed=scored.passed,
                        auto_failed=scored.auto_failed,
                        author="scorer",
                        released_at=now if self.release_automatic else None,
                    )
                )
                session.add(
                    TimelineEntry(
                        evaluation_id=scored.evaluation_id,
                        recording_id=scored.recording_id,
                        actor="scorer",
                        action="scored",
                        version=1,
                        detail={"percentage": scored.percentage, "passed": scored.passed},
                    )
                )
        except IntegrityError:  # a concurrent consumer stored it first
            return False
        return True

    def on_recording_purged(self, purged: RecordingPurged) -> int:
        """Erase the call's words from every object of the recording; scores stay. Returns evaluations touched."""
        rid = purged.recording_id
        with self.db.session() as session:
            if session.get(PurgedRecording, rid) is None:
                session.add(PurgedRecording(recording_id=rid, purged_at=purged.purged_at))
            records = session.exec(select(EvaluationRecord).where(EvaluationRecord.recording_id == rid)).all()
            ids = [r.id for r in records]
            for record in records:
                record.evidence_purged = True
                session.add(record)
            if not ids:
                return 0
            for version in session.exec(select(EvaluationVersion).where(col(EvaluationVersion.evaluation_id).in_(ids))):
                version.items, version.notes = scrub(version.items), None
                session.add(version)
            for assignment in session.exec(
                select(ReviewAssignment).where(col(ReviewAssignment.evaluation_id).in_(ids))
            ):
                assignment.decisions, assignment.notes = scrub(assignment.decisions), None
                session.add(assignment)
            for appeal in session.exec(select(Appeal).where(col(Appeal.evaluation_id).in_(ids))):
                appeal.items, appeal.resolutions, appeal.comment = scrub(appeal.items), scrub(appeal.resolutions), None
                session.add(appeal)
            for score in session.exec(select(CalibrationScore).where(col(CalibrationScore.evaluation_id).in_(ids))):
                score.items = scrub(score.items)
                session.add(score)
            session.execute(
                sa.update(TimelineEntry).where(col(TimelineEntry.evaluation_id).in_(ids)).values(comment=None)
            )
            for evaluation_id in ids:
                session.add(
                    TimelineEntry(
                        evaluation_id=evaluation_id,
                        recording_id=rid,
                        actor="recorder-ingest",
                        action="purged",
                        detail={"reason": purged.reason.value},
                    )
                )
        return len(ids)

    # --- reading --------------------------------------------------------------------------------

    def record(self, session: Session, evaluation_id: str, *, for_update: bool = False) -> EvaluationRecord:
        statement = select(EvaluationRecord).where(EvaluationRecord.id == evaluation_id)
        found = session.exec(lock(statement, session) if for_update else statement).first()
        if found is None:
            raise NotFound("evaluation", evaluation_id)
        return found

    def version(self, session: Session, evaluation_id: str, version: int) -> EvaluationVersion:
        found = session.exec(
            select(EvaluationVersion).where(
                EvaluationVersion.evaluation_id == evaluation_id, EvaluationVersion.version == version
            )
        ).first()
        if found is None:
            raise NotFound("version", f"{evaluation_id}/{version}")
        return found

    def latest(self, session: Session, evaluation_id: str, source: str) -> EvaluationVersion | None:
        return session.exec(
            select(EvaluationVersion)
            .where(EvaluationVersion.evaluation_id == evaluation_id, EvaluationVersion.source == source)
            .order_by(col(EvaluationVersion.version).desc())
        ).first()

    def released(self, session: Session, evaluation_id: str) -> EvaluationVersion | None:
        """The latest version agents may see: one with a stored release (on submit, or by the scheduled release)."""
        return session.exec(
            select(EvaluationVersion)
            .where(EvaluationVersion.evaluation_id == evaluation_id, col(EvaluationVersion.released_at).is_not(None))
            .order_by(col(EvaluationVersion.version).desc())
        ).first()

    def visible(self, session: Session, principal: Principal, evaluation_id: str) -> EvaluationRecord:
        """The evaluation if the caller may see it: staff all, an agent only their own and released ones."""
        record = self.record(session, evaluation_id)
        if is_staff(principal):
            return record
        if record.agent_id != principal.subject:
            raise NotYours("agents may only see their own evaluations")
        if self.released(session, evaluation_id) is None:
            raise NotFound("evaluation", evaluation_id)  # unreleased: does not exist for the agent
        return record

    def search(
        self, principal: Principal, where: EvaluationFilter, *, limit: int, offset: int
    ) -> tuple[list[EvaluationRecord], int]:
        conditions: list[Any] = []
        agent_id = where.agent_id
        if not is_staff(principal):
            agent_id = principal.subject
            released = (
                select(EvaluationVersion.evaluation_id)
                .where(col(EvaluationVersion.released_at).is_not(None))
                .scalar_subquery()
            )
            conditions.append(col(EvaluationRecord.id).in_(released))
        for name, value in (
            ("agent_id", agent_id),
            ("group", where.group),
            ("queue", where.queue),
            ("scorecard_id", where.scorecard_id),
        ):
            if value is not None:
                conditions.append(col(getattr(EvaluationRecord, name)) == value)
        if where.started_from is not None:
            conditions.append(col(EvaluationRecord.started_at) >= where.started_from)
        if where.started_to is not None:
            conditions.append(col(EvaluationRecord.started_at) < where.started_to)
        if where.reviewed is not None:
            reviewed = col(EvaluationRecord.latest_version) > 1
            conditions.append(reviewed if where.reviewed else ~reviewed)
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

    def versions(
        self, principal: Principal, evaluation_id: str, *, limit: int, offset: int
    ) -> tuple[list[EvaluationVersion], int]:
        with self.db.session() as session:
            self.visible(session, principal, evaluation_id)
            conditions: list[Any] = [EvaluationVersion.evaluation_id == evaluation_id]
            if not is_staff(principal):
                conditions.append(col(EvaluationVersion.released_at).is_not(None))
            total = session.exec(select(func.count()).select_from(EvaluationVersion).where(*conditions)).one()
            rows = session.exec(
                select(EvaluationVersion)
                .where(*conditions)
                .order_by(col(EvaluationVersion.version))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    AGENT_HIDDEN_ACTIONS = (
        "assigned",
        "review_opened",
        "review_saved",
        "reassigned",
        "cancelled",
        "reminded",
        "release_scheduled",
    )

    def timeline(
        self, principal: Principal, evaluation_id: str, *, limit: int, offset: int
    ) -> tuple[list[TimelineEntry], int]:
        with self.db.session() as session:
            self.visible(session, principal, evaluation_id)
            conditions: list[Any] = [TimelineEntry.evaluation_id == evaluation_id]
            if not is_staff(principal):  # an agent's timeline: what was released to them and what they did
                conditions.append(col(TimelineEntry.action).not_in(self.AGENT_HIDDEN_ACTIONS))
            total = session.exec(select(func.count()).select_from(TimelineEntry).where(*conditions)).one()
            rows = session.exec(
                select(TimelineEntry).where(*conditions).order_by(col(TimelineEntry.id)).offset(offset).limit(limit)
            ).all()
        return list(rows), int(total)

    def agreement(
        self, scorecard_id: str | None, *, limit: int, offset: int
    ) -> tuple[list[tuple[str, str, int, int, int]], int]:
        """Per (scorecard, item): reviews, agreements and overrides of the auto-scorer by humans."""
        key = (col(ItemAgreement.scorecard_id), col(ItemAgreement.item_id))
        conditions = [] if scorecard_id is None else [col(ItemAgreement.scorecard_id) == scorecard_id]
        with self.db.session() as session:
            total = session.exec(
                select(func.count()).select_from(select(*key).where(*conditions).group_by(*key).subquery())
            ).one()
            rows = session.exec(
                select(*key, func.count(), func.sum(sa.case((col(ItemAgreement.agreed), 1), else_=0)))
                .where(*conditions)
                .group_by(*key)
                .order_by(*key)
                .offset(offset)
                .limit(limit)
            ).all()
        return [(s, i, int(n), int(a or 0), int(n) - int(a or 0)) for s, i, n, a in rows], int(total)

    # --- scheduled release ------------------------------------------------------------------------

    def release_due(self, now: datetime | None = None) -> dict[str, int]:
        """Release every version whose scheduled release time has come (the periodic task): the release is stored
        with its time and `released_by` = scheduler, and the timeline says so. A conditional UPDATE per version,
        so two replicas never release (or note) one twice."""
        now = now or utcnow()
        with self.db.session() as session:
            due = session.exec(
                select(EvaluationVersion.id, EvaluationVersion.evaluation_id).where(
                    col(EvaluationVersion.released_at).is_(None),
                    col(EvaluationVersion.release_scheduled_at).is_not(None),
                    col(EvaluationVersion.release_scheduled_at) <= now,
                )
            ).all()
        released = 0
        for version_id, evaluation_id in due:
            with self.db.session() as session:
                changed = session.execute(
                    sa.update(EvaluationVersion)
                    .where(col(EvaluationVersion.id) == version_id, col(EvaluationVersion.released_at).is_(None))
                    .values(released_at=now, released_by=SCHEDULER)
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                version = session.get(EvaluationVersion, version_id)
                assert version is not None
                assert version.release_scheduled_at is not None
                record = self.record(session, evaluation_id)
                note(
                    session,
                    record,
                    SCHEDULER,
                    "released",
                    version=version.version,
                    at=now.isoformat(),
                    scheduled_at=version.release_scheduled_at.isoformat(),
                )
                announce(session, record, version)  # now with its release time: agents (and search) may see it
                released += 1
        return {"released": released}

    # --- writing human versions -------------------------------------------------------------------

    def pass_threshold(self, record: EvaluationRecord) -> float:
        return record.pass_threshold if record.pass_threshold is not None else self.default_pass_threshold

    def add_human_version(
        self,
        session: Session,
        record: EvaluationRecord,
        *,
        items: list[dict[str, Any]],
        totals: Totals,
        cause: str,
        author: str,
        notes: str | None,
        released_at: datetime | None,
        release_scheduled_at: datetime | None = None,
    ) -> EvaluationVersion:
        """Append a human version to `record` (locked by the caller) and announce it, in the caller's transaction.
        `released_at`: released now (by `author`); else `release_scheduled_at`: released later by `release_due`."""
        now = utcnow()
        record.latest_version += 1
        version = EvaluationVersion(
            evaluation_id=record.id,
            version=record.latest_version,
            source="human",
            cause=cause,
            items=items,
            total_points=totals.total_points,
            max_points=totals.max_points,
            percentage=totals.percentage,
            passed=totals.passed,
            auto_failed=totals.auto_failed,
            notes=notes,
            author=author,
            created_at=now,
            released_at=released_at,
            release_scheduled_at=release_scheduled_at,
            released_by=author if released_at is not None else None,
        )
        session.add(record)
        session.add(version)
        announce(session, record, version)
        return version


def announce(session: Session, record: EvaluationRecord, version: EvaluationVersion) -> None:
    """Publish a human version (in the caller's transaction): when it is written, and again when a scheduled
    release is made. `released_at` is null until agents can see it, so the console indexes it only then;
    consumers keep one copy per version, so the second announcement changes nothing else."""
    enqueue(
        session,
        EvaluationReviewedEvent(
            correlation_id=record.recording_id,
            producer=PRODUCER,
            payload=EvaluationReviewed(
                evaluation_id=record.id,
                recording_id=record.recording_id,
                agent_id=record.agent_id,
                group=record.group,
                queue=record.queue,
                started_at=record.started_at,
                scorecard_id=record.scorecard_id,
                scorecard_version=record.scorecard_version,
                version=version.version,
                cause="appeal" if version.cause == "appeal" else "review",
                reviewer_id=version.author,
                reviewed_at=version.created_at,
                released_at=version.released_at,
                total_points=version.total_points,
                max_points=version.max_points,
                percentage=version.percentage,
                passed=version.passed,
                auto_failed=version.auto_failed,
                items=[
                    ReviewedItem(
                        item_id=i["item_id"],
                        section=i.get("section", ""),
                        result=i["result"],
                        points=i["points"],
                        auto_result=i.get("auto_result", i["result"]),
                        auto_points=i.get("auto_points", i["points"]),
                        changed=bool(i.get("changed", False)),
                        severity=i.get("severity"),
                    )
                    for i in version.items
                ],
            ),
        ),
    )


def note(
    session: Session,
    record: EvaluationRecord,
    actor: str,
    action: str,
    *,
    version: int | None = None,
    comment: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        TimelineEntry(
            evaluation_id=record.id,
            recording_id=record.recording_id,
            actor=actor,
            action=action,
            version=version,
            comment=comment,
            detail=detail,
        )
    )
