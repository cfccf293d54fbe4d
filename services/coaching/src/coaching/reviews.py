"""Review assignments and the human review they hold.

    pending --open--> in_review --save (If-Match)--> in_review --submit (If-Match)--> submitted
    pending|in_review --reassign--> pending (another reviewer)      pending|in_review --cancel--> cancelled

Only the assigned reviewer opens, edits and submits (never the evaluation's own agent); a stale or missing
revision is refused, so two people editing one review cannot overwrite each other. Submitting appends a
human version to the evaluation (never an overwrite), records per item whether the human agreed with the
auto-scorer, releases it on submit or schedules its release (`Ledger.release_due` releases it when the time
comes), and announces `evaluation.reviewed`.

Every assignment has a due date (`due_days` after it is made, unless given). An open assignment past it is
overdue: the periodic task reminds its reviewer (at most once per `reminder_every`; counted, on the timeline)
and a supervisor may reassign it to another reviewer (counted, on the timeline, never to the call's agent).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, and_, col, func, not_, or_, select

from callqa.auth import Principal, Role
from callqa.db import Database
from callqa.events import utcnow
from coaching import scoring
from coaching.errors import NotFound, NotYours, WrongState, etag_of
from coaching.errors import check_revision as check_revision_of
from coaching.ledger import SCHEDULER, Ledger, lock, note
from coaching.scoring import Decision, Totals
from coaching.tables import EvaluationRecord, EvaluationVersion, ItemAgreement, ReviewAssignment

log = logging.getLogger(__name__)
OPEN_STATES = ("pending", "in_review")


def etag(assignment: ReviewAssignment) -> str:
    return etag_of(assignment.revision)


def check_revision(assignment: ReviewAssignment, if_match: str | None) -> None:
    check_revision_of(assignment.revision, if_match, "review")


def overdue(assignment: ReviewAssignment, now: datetime | None = None) -> bool:
    return assignment.status in OPEN_STATES and assignment.due_at is not None and assignment.due_at < (now or utcnow())


class Reviews:
    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        *,
        release_on_submit: bool = True,
        due_days: int = 3,
        reminder_every: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.release_on_submit = release_on_submit
        self.due_days = due_days
        self.reminder_every = reminder_every

    def _get(self, session: Session, assignment_id: str, *, for_update: bool = False) -> ReviewAssignment:
        statement = select(ReviewAssignment).where(ReviewAssignment.id == assignment_id)
        found = session.exec(lock(statement, session) if for_update else statement).first()
        if found is None:
            raise NotFound("assignment", assignment_id)
        return found

    @staticmethod
    def _own(assignment: ReviewAssignment, principal: Principal) -> None:
        if assignment.reviewer_id != principal.subject and Role.admin not in principal.roles:
            raise NotYours(f"the assignment is {assignment.reviewer_id}'s")

    # --- creating ---------------------------------------------------------------------------------

    def create(
        self,
        session: Session,
        record: EvaluationRecord,
        reviewer_id: str,
        *,
        created_by: str,
        due_at: datetime | None,
        run_id: str | None = None,
    ) -> ReviewAssignment:
        if reviewer_id == record.agent_id:
            raise WrongState("a reviewer may not review their own call")
        assignment = ReviewAssignment(
            id=str(uuid.uuid4()),
            evaluation_id=record.id,
            run_id=run_id,
            reviewer_id=reviewer_id,
            status="pending",
            due_at=due_at,
            created_by=created_by,
        )
        record.picked = True
        session.add(record)
        session.add(assignment)
        note(session, record, created_by, "assigned", reviewer=reviewer_id, run_id=run_id, assignment=assignment.id)
        return assignment

    def assign(
        self, principal: Principal, evaluation_id: str, reviewer_id: str, due_at: datetime | None
    ) -> ReviewAssignment:
        with self.db.session() as session:
            record = self.ledger.record(session, evaluation_id, for_update=True)
            open_ = session.exec(
                select(ReviewAssignment).where(
                    ReviewAssignment.evaluation_id == evaluation_id, col(ReviewAssignment.status).in_(OPEN_STATES)
                )
            ).first()
            if open_ is not None:
                raise WrongState(f"the evaluation already has an open assignment ({open_.id})")
            due_at = due_at or due(self.due_days)
            return self.create(session, record, reviewer_id, created_by=principal.subject, due_at=due_at)

    # --- reading ----------------------------------------------------------------------------------

    def get(self, principal: Principal, assignment_id: str) -> ReviewAssignment:
        with self.db.session() as session:
            return self._get(session, assignment_id)

    def search(
        self,
        *,
        reviewer_id: str | None,
        status: str | None,
        run_id: str | None,
        evaluation_id: str | None,
        limit: int,
        offset: int,
        overdue: bool | None = None,
        open_only: bool = False,
    ) -> tuple[list[ReviewAssignment], int]:
        conditions: list[Any] = []
        is_open = col(ReviewAssignment.status).in_(OPEN_STATES)
        if open_only:
            conditions.append(is_open)
        if overdue is not None:
            late = and_(is_open, col(ReviewAssignment.due_at).is_not(None), col(ReviewAssignment.due_at) < utcnow())
            conditions.append(late if overdue else not_(late))
        for name, value in (
            ("reviewer_id", reviewer_id),
            ("status", status),
            ("run_id", run_id),
            ("evaluation_id", evaluation_id),
        ):
            if value is not None:
                conditions.append(col(getattr(ReviewAssignment, name)) == value)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(ReviewAssignment).where(*conditions)).one()
            rows = session.exec(
                select(ReviewAssignment)
                .where(*conditions)
                .order_by(
                    col(ReviewAssignment.due_at).is_(None),  # due first, undated last (NULLs sort apart per database)
                    col(ReviewAssignment.due_at),
                    col(ReviewAssignment.created_at),
                    col(ReviewAssignment.id),
                )
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def workspace(self, assignment_id: str) -> tuple[ReviewAssignment, EvaluationRecord, EvaluationVersion]:
        """The assignment, its evaluation and the automatic version with its evidence."""
        with self.db.session() as session:
            assignment = self._get(session, assignment_id)
            record = self.ledger.record(session, assignment.evaluation_id)
            auto = self.ledger.version(session, record.id, 1)
        return assignment, record, auto

    # --- transitions ------------------------------------------------------------------------------

    def open(self, principal: Principal, assignment_id: str) -> ReviewAssignment:
        with self.db.session() as session:
            assignment = self._get(session, assignment_id, for_update=True)
            self._own(assignment, principal)
            if assignment.status == "in_review":
                return assignment  # opening again is harmless
            if assignment.status != "pending":
                raise WrongState(f"a {assignment.status} review cannot be opened")
            record = self.ledger.record(session, assignment.evaluation_id)
            assignment.status, assignment.opened_at = "in_review", utcnow()
            assignment.revision += 1
            session.add(assignment)
            note(session, record, principal.subject, "review_opened", assignment=assignment.id)
            return assignment

    def save(
        self,
        principal: Principal,
        assignment_id: str,
        if_match: str | None,
        decisions: Sequence[Decision],
        notes: str | None,
    ) -> ReviewAssignment:
        with self.db.session() as session:
            assignment = self._get(session, assignment_id, for_update=True)
            self._own(assignment, principal)
            if assignment.status != "in_review":
                raise WrongState(f"a {assignment.status} review cannot be edited (open it first)")
            check_revision(assignment, if_match)
            record = self.ledger.record(session, assignment.evaluation_id)
            scoring.check(decisions, self.ledger.version(session, record.id, 1).items)
            assignment.decisions = [asdict(d) for d in decisions]
            assignment.notes = notes
            assignment.revision += 1
            session.add(assignment)
            note(session, record, principal.subject, "review_saved", assignment=assignment.id)
            return assignment

    def submit(
        self,
        principal: Principal,
        assignment_id: str,
        if_match: str | None,
        decisions: Sequence[Decision] | None,
        notes: str | None,
        release_at: datetime | None,
    ) -> tuple[ReviewAssignment, EvaluationVersion]:
        with self.db.session() as session:
            assignment = self._get(session, assignment_id, for_update=True)
            self._own(assignment, principal)
            if assignment.status != "in_review":
                raise WrongState(f"a {assignment.status} review cannot be submitted")
            check_revision(assignment, if_match)
            record = self.ledger.record(session, assignment.evaluation_id, for_update=True)
            auto = self.ledger.version(session, record.id, 1)
            if decisions is None:
                decisions = [Decision(**d) for d in assignment.decisions]
            scoring.check(decisions, auto.items)
            if notes is None:
                notes = assignment.notes
            items = scoring.apply(auto.items, decisions)
            auto_totals = Totals(auto.total_points, auto.max_points, auto.percentage, auto.passed, auto.auto_failed)
            totals = scoring.totals(
                items, max_points=auto.max_points, pass_threshold=self.ledger.pass_threshold(record), auto=auto_totals
            )
            now = utcnow()
            # A future release time is scheduled (the periodic task releases it then); otherwise released now,
            # with the actual time, so an appeal window never starts in the past.
            scheduled = release_at if release_at is not None and release_at > now else None
            wanted = release_at is not None or self.release_on_submit
            released = now if wanted and scheduled is None else None
            version = self.ledger.add_human_version(
                session,
                record,
                items=items,
                totals=totals,
                cause="review",
                author=principal.subject,
                notes=notes,
                released_at=released,
                release_scheduled_at=scheduled,
            )
            for item in items:
                session.add(
                    ItemAgreement(
                        evaluation_id=record.id,
                        version=version.version,
                        scorecard_id=record.scorecard_id,
                        scorecard_version=record.scorecard_version,
                        item_id=item["item_id"],
                        auto_result=item["auto_result"],
                        human_result=item["result"],
                        agreed=item["auto_result"] == item["result"],
                        reviewer_id=principal.subject,
                        at=now,
                    )
                )
            assignment.status, assignment.submitted_at = "submitted", now
            assignment.decisions = [asdict(d) for d in decisions]
            assignment.notes = notes
            assignment.result_version = version.version
            assignment.revision += 1
            session.add(assignment)
            overridden = [i["item_id"] for i in items if i["changed"]]
            note(
                session,
                record,
                principal.subject,
                "review_submitted",
                version=version.version,
                comment=notes,
                assignment=assignment.id,
                overridden=overridden,
                percentage=totals.percentage,
                passed=totals.passed,
            )
            if released is not None:
                note(session, record, principal.subject, "released", version=version.version, at=released.isoformat())
            elif scheduled is not None:
                note(
                    session,
                    record,
                    principal.subject,
                    "release_scheduled",
                    version=version.version,
                    at=scheduled.isoformat(),
                )
            return assignment, version

    def reassign(
        self, principal: Principal, assignment_id: str, reviewer_id: str, reason: str, due_at: datetime | None = None
    ) -> ReviewAssignment:
        """To another reviewer (counted, on the timeline); an overdue one gets a new due date (`due_days` from now
        unless given), and its reminders start again for the new reviewer."""
        now = utcnow()
        with self.db.session() as session:
            assignment = self._get(session, assignment_id, for_update=True)
            if assignment.status not in OPEN_STATES:
                raise WrongState(f"a {assignment.status} assignment cannot be reassigned")
            record = self.ledger.record(session, assignment.evaluation_id)
            if reviewer_id == record.agent_id:
                raise WrongState("a reviewer may not review their own call")
            if reviewer_id == assignment.reviewer_id:
                raise WrongState(f"the assignment is already {reviewer_id}'s")
            before, was_overdue, due_before = assignment.reviewer_id, overdue(assignment, now), assignment.due_at
            if due_at is None and was_overdue:
                due_at = due(self.due_days, now)
            assignment.reviewer_id, assignment.status, assignment.opened_at = reviewer_id, "pending", None
            assignment.decisions, assignment.notes = [], None
            assignment.due_at = due_at or assignment.due_at
            assignment.reassignments += 1
            assignment.last_reminded_at = None
            assignment.revision += 1
            session.add(assignment)
            note(
                session,
                record,
                principal.subject,
                "reassigned",
                comment=reason,
                assignment=assignment.id,
                before=before,
                after=reviewer_id,
                overdue=was_overdue,
                due_before=due_before.isoformat() if due_before else None,
                due_at=assignment.due_at.isoformat() if assignment.due_at else None,
                reassignments=assignment.reassignments,
            )
            return assignment

    def remind_overdue(self, now: datetime | None = None) -> dict[str, int]:
        """The periodic task: remind the reviewer of every overdue open assignment, at most once per
        `reminder_every` (a conditional UPDATE claims each reminder, so replicas never send one twice)."""
        now = now or utcnow()
        cutoff = now - self.reminder_every
        not_recently = or_(
            col(ReviewAssignment.last_reminded_at).is_(None), col(ReviewAssignment.last_reminded_at) <= cutoff
        )
        late = and_(
            col(ReviewAssignment.status).in_(OPEN_STATES),
            col(ReviewAssignment.due_at).is_not(None),
            col(ReviewAssignment.due_at) < now,
            not_recently,
        )
        with self.db.session() as session:
            ids = session.exec(select(ReviewAssignment.id).where(late)).all()
        reminded = 0
        for assignment_id in ids:
            with self.db.session() as session:
                claimed = session.execute(
                    sa.update(ReviewAssignment)
                    .where(col(ReviewAssignment.id) == assignment_id, late)
                    .values(reminders=ReviewAssignment.reminders + 1, last_reminded_at=now)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                assignment = self._get(session, assignment_id)
                record = self.ledger.record(session, assignment.evaluation_id)
                assert assignment.due_at is not None
                note(
                    session,
                    record,
                    SCHEDULER,
                    "reminded",
                    assignment=assignment.id,
                    reviewer=assignment.reviewer_id,
                    due_at=assignment.due_at.isoformat(),
                    reminders=assignment.reminders,
                )
                # the reminder itself: a structured log line (JSON logs) and the reviewer's work queue
                log.info(
                    "review overdue: reminder",
                    extra={
                        "assignment": assignment.id,
                        "reviewer": assignment.reviewer_id,
                        "due_at": assignment.due_at.isoformat(),
                        "reminders": assignment.reminders,
                    },
                )
                reminded += 1
        return {"reminded": reminded}

    def cancel(self, principal: Principal, assignment_id: str, reason: str) -> ReviewAssignment:
        with self.db.session() as session:
            assignment = self._get(session, assignment_id, for_update=True)
            if assignment.status not in OPEN_STATES:
                raise WrongState(f"a {assignment.status} assignment cannot be cancelled")
            record = self.ledger.record(session, assignment.evaluation_id)
            assignment.status, assignment.cancel_reason = "cancelled", reason
            assignment.revision += 1
            session.add(assignment)
            note(session, record, principal.subject, "cancelled", comment=reason, assignment=assignment.id)
            return assignment


def due(days: int, now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(days=days)
