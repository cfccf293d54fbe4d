"""Sampling plans (versioned) and their runs.

A run loads the automatic evaluations of the plan's period, draws with `sampling.draw` under a seed
(given, or a fresh random one that the run records), stores every pick with its reason, and spreads the
picks over the reviewers as review assignments with due dates, in one transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from callqa.auth import Principal
from callqa.db import Database
from callqa.events import utcnow
from coaching import quota as quotas
from coaching import sampling
from coaching.errors import NotFound
from coaching.ledger import Ledger
from coaching.reviews import Reviews, due
from coaching.sampling import Call, Firsts, PlanDocument, Reviewer
from coaching.tables import EvaluationRecord, PlanVersion, SamplingPick, SamplingRun

MAX_SEED = 2**63 - 1


class PlanExists(Exception):
    pass


class SamplingPlans:
    def __init__(self, db: Database, ledger: Ledger, reviews: Reviews) -> None:
        self.db = db
        self.ledger = ledger
        self.reviews = reviews

    # --- plans ------------------------------------------------------------------------------------

    def create(self, principal: Principal, plan_id: str, document: PlanDocument) -> PlanVersion:
        with self.db.session() as session:
            if session.exec(select(PlanVersion.id).where(PlanVersion.plan_id == plan_id)).first() is not None:
                raise PlanExists(f"sampling plan {plan_id!r} exists: PUT a new version")
            plan = PlanVersion(
                plan_id=plan_id, version=1, document=document.model_dump(mode="json"), created_by=principal.subject
            )
            session.add(plan)
        return plan

    def revise(self, principal: Principal, plan_id: str, document: PlanDocument) -> PlanVersion:
        with self.db.session() as session:
            current = self.latest(session, plan_id)
            plan = PlanVersion(
                plan_id=plan_id,
                version=current.version + 1,
                document=document.model_dump(mode="json"),
                created_by=principal.subject,
            )
            session.add(plan)
        return plan

    def latest(self, session: Session, plan_id: str) -> PlanVersion:
        found = session.exec(
            select(PlanVersion).where(PlanVersion.plan_id == plan_id).order_by(col(PlanVersion.version).desc())
        ).first()
        if found is None:
            raise NotFound("sampling plan", plan_id)
        return found

    def get(self, plan_id: str, version: int | None = None) -> PlanVersion:
        with self.db.session() as session:
            if version is None:
                return self.latest(session, plan_id)
            found = session.exec(
                select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.version == version)
            ).first()
        if found is None:
            raise NotFound("sampling plan version", f"{plan_id}/{version}")
        return found

    def search(self, *, limit: int, offset: int) -> tuple[list[PlanVersion], int]:
        latest = (
            select(PlanVersion.plan_id, func.max(PlanVersion.version).label("v"))
            .group_by(PlanVersion.plan_id)
            .subquery()
        )
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(latest)).one()
            rows = session.exec(
                select(PlanVersion)
                .join(latest, (col(PlanVersion.plan_id) == latest.c.plan_id) & (col(PlanVersion.version) == latest.c.v))
                .order_by(col(PlanVersion.plan_id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def versions(self, plan_id: str, *, limit: int, offset: int) -> tuple[list[PlanVersion], int]:
        with self.db.session() as session:
            self.latest(session, plan_id)
            where = PlanVersion.plan_id == plan_id
            total = session.exec(select(func.count()).select_from(PlanVersion).where(where)).one()
            rows = session.exec(
                select(PlanVersion).where(where).order_by(col(PlanVersion.version)).offset(offset).limit(limit)
            ).all()
        return list(rows), int(total)

    # --- the population ---------------------------------------------------------------------------

    def population(
        self, session: Session, start: datetime, end: datetime, *, exclude_picked: bool, scorecard_id: str | None = None
    ) -> list[Call]:
        columns = (
            EvaluationRecord.id,
            EvaluationRecord.agent_id,
            EvaluationRecord.started_at,
            EvaluationRecord.group,
            EvaluationRecord.queue,
            EvaluationRecord.direction,
            EvaluationRecord.duration_ms,
            EvaluationRecord.tags,
            EvaluationRecord.scorecard_id,
            EvaluationRecord.auto_percentage,
            EvaluationRecord.auto_failed,
            EvaluationRecord.failed_items,
        )
        conditions: list[Any] = [col(EvaluationRecord.started_at) >= start, col(EvaluationRecord.started_at) < end]
        if exclude_picked:
            conditions.append(col(EvaluationRecord.picked).is_(False))
        if scorecard_id is not None:
            conditions.append(col(EvaluationRecord.scorecard_id) == scorecard_id)
        rows = session.execute(sa.select(*[col(c) for c in columns]).where(*conditions)).all()
        return [
            Call(
                evaluation_id=r[0],
                agent_id=r[1],
                started_at=r[2],
                group=r[3],
                queue=r[4],
                direction=r[5],
                duration_ms=r[6],
                tags=tuple(r[7] or ()),
                scorecard_id=r[8],
                percentage=r[9],
                auto_failed=r[10],
                failed_items=frozenset(r[11] or ()),
            )
            for r in rows
        ]

    def firsts(self, session: Session) -> Firsts:
        agents = session.exec(
            select(EvaluationRecord.agent_id, func.min(EvaluationRecord.started_at)).group_by(EvaluationRecord.agent_id)
        ).all()
        queues = session.exec(
            select(EvaluationRecord.queue, func.min(EvaluationRecord.started_at))
            .where(col(EvaluationRecord.queue).is_not(None))
            .group_by(EvaluationRecord.queue)
        ).all()
        return Firsts(
            agents={a: _aware(t) for a, t in agents if t is not None},
            queues={q: _aware(t) for q, t in queues if q is not None and t is not None},
        )

    def quota(
        self,
        q: sampling.QuotaInput,
        scope: sampling.Scope,
        start: datetime,
        end: datetime,
    ) -> quotas.Quota:
        observed: list[int] = []
        if q.average_handle_time_s is None:
            with self.db.session() as session:
                calls = self.population(session, start, end, exclude_picked=False, scorecard_id=scope.scorecard_id)
            observed = [c.duration_ms for c in calls if c.duration_ms is not None and sampling.in_scope(c, scope)]
        return quotas.quota(q.qa_staff, q.effective_hours, q.review_overhead_s, q.average_handle_time_s, observed)

    # --- runs -------------------------------------------------------------------------------------

    def run(
        self,
        principal: Principal,
        plan_id: str,
        *,
        on: date | None,
        seed: int | None,
        reviewers: Sequence[Reviewer],
        plan_version: int | None = None,
    ) -> SamplingRun:
        plan = self.get(plan_id, plan_version)
        document = PlanDocument.model_validate(plan.document)
        start, end = document.period.window(on or utcnow().date())
        seed = seed if seed is not None else secrets.randbelow(MAX_SEED)
        days = max(1, (end - start).days)
        size, quota_detail = document.size, None
        if document.quota is not None:
            found = self.quota(document.quota, document.scope, start, end)
            size = found.daily_capacity * days
            quota_detail = asdict(found) | {"days": days}
        now = utcnow()
        with self.db.session() as session:
            population = self.population(
                session, start, end, exclude_picked=document.exclude_reviewed, scorecard_id=document.scope.scorecard_id
            )
            picks, scoped = sampling.draw(document, population, seed, size=size, firsts=self.firsts(session))
            assigned = sampling.distribute(picks, reviewers)
            run = SamplingRun(
                id=str(uuid.uuid4()),
                plan_id=plan_id,
                plan_version=plan.version,
                seed=seed,
                period_start=start,
                period_end=end,
                population_size=scoped,
                size_cap=size,
                quota=quota_detail,
                picks=len(picks),
                unassigned=sum(1 for r in assigned.values() if r is None),
                reviewers=[asdict(r) for r in reviewers],
                created_by=principal.subject,
                created_at=now,
            )
            session.add(run)
            due_at = due(document.due_days, now)
            records = (
                {
                    r.id: r
                    for r in session.exec(
                        select(EvaluationRecord).where(col(EvaluationRecord.id).in_([p.evaluation_id for p in picks]))
                    )
                }
                if picks
                else {}
            )
            for pick in picks:
                reviewer = assigned.get(pick.evaluation_id)
                assignment_id = None
                record = records[pick.evaluation_id]
                record.picked = True
                session.add(record)
                if reviewer is not None:
                    assignment = self.reviews.create(
                        session, record, reviewer, created_by=principal.subject, due_at=due_at, run_id=run.id
                    )
                    assignment_id = assignment.id
                session.add(
                    SamplingPick(
                        run_id=run.id,
                        evaluation_id=pick.evaluation_id,
                        agent_id=pick.agent_id,
                        started_at=pick.started_at,
                        method=pick.method,
                        reason=pick.reason[:300],
                        reviewer_id=reviewer,
                        assignment_id=assignment_id,
                    )
                )
        return run

    def get_run(self, run_id: str) -> SamplingRun:
        with self.db.session() as session:
            run = session.get(SamplingRun, run_id)
        if run is None:
            raise NotFound("sampling run", run_id)
        return run

    def runs(self, plan_id: str | None, *, limit: int, offset: int) -> tuple[list[SamplingRun], int]:
        conditions = [] if plan_id is None else [col(SamplingRun.plan_id) == plan_id]
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(SamplingRun).where(*conditions)).one()
            rows = session.exec(
                select(SamplingRun)
                .where(*conditions)
                .order_by(col(SamplingRun.created_at).desc(), col(SamplingRun.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def picks(self, run_id: str, *, limit: int, offset: int) -> tuple[list[SamplingPick], int]:
        with self.db.session() as session:
            if session.get(SamplingRun, run_id) is None:
                raise NotFound("sampling run", run_id)
            where = SamplingPick.run_id == run_id
            total = session.exec(select(func.count()).select_from(SamplingPick).where(where)).one()
            rows = session.exec(
                select(SamplingPick)
                .where(where)
                .order_by(col(SamplingPick.started_at), col(SamplingPick.evaluation_id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)


def _aware(value: datetime) -> datetime:
    """SQLite hands aggregates back naive (no column type to convert them): they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
