"""Training requests for common problems (seed 004: statistics, a request to the training team, a re-check after
training): requested -> scheduled -> delivered -> verified.

A request is created from a common problem of an analysis (group, item, its statistics) or by hand, and goes to
the trainers (role `trainer`; one named, or any). A trainer schedules and delivers it. After delivery the
group's pass rate on the items over `follow_up_days` is compared with the `baseline_days` before delivery (Fisher's
exact test, one-sided, with the difference and its Newcombe interval): `improved`, `not_improved` or
`insufficient_data`; the request is then `verified`. The re-check can also add calls of the group made after the
training to human review (seed 004's 培训后抽查): a seeded random pick, assigned to the given reviewers.

Events: `coaching.training.requested`, `coaching.training.delivered`, `coaching.training.verified`.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from callqa.auth import Principal, Role
from callqa.db import Database
from callqa.events import (
    PassCount,
    TrainingDelivered,
    TrainingDeliveredEvent,
    TrainingRequested,
    TrainingRequestedEvent,
    TrainingVerified,
    TrainingVerifiedEvent,
    utcnow,
)
from callqa.outbox import enqueue
from coaching.analyses import ProblemAnalyses
from coaching.errors import Invalid, NotFound, NotYours, WrongState
from coaching.followup import FollowUpParams, Window, effect, improved_p
from coaching.ledger import PRODUCER, lock
from coaching.observations import Scope, Source, call_outcomes, observations
from coaching.reviews import OPEN_STATES, Reviews
from coaching.tables import EvaluationRecord, ReviewAssignment, TrainingRequest


class TrainingRequests:
    def __init__(self, db: Database, analyses: ProblemAnalyses, reviews: Reviews, params: FollowUpParams) -> None:
        self.db = db
        self.analyses = analyses
        self.reviews = reviews
        self.params = params

    def create(
        self,
        principal: Principal,
        *,
        analysis_id: str | None,
        problem_id: str | None,
        group: str | None,
        scorecard_id: str | None,
        items: list[str] | None,
        trainer_id: str | None,
        notes: str | None,
        baseline_days: int,
        follow_up_days: int,
    ) -> TrainingRequest:
        statistics: dict[str, Any] = {}
        source: Source = "auto"
        if analysis_id is not None:
            if problem_id is None:
                raise Invalid("name the analysis' problem", "problem_id")
            analysis, problem = self.analyses.problem(analysis_id, problem_id)
            if problem["kind"] != "common":
                raise Invalid("a training request is for a common problem (an individual one: a plan)", "problem_id")
            group = group or problem["group"]
            items = items or [problem["item_id"]]
            scorecard_id = scorecard_id or analysis.scope.get("scorecard_id") or self._scorecard_of(problem)
            source = "human" if analysis.source == "human" else "auto"
            statistics = {
                k: problem.get(k) for k in ("calls", "failures", "rate", "comparison", "criteria", "share", "severity")
            } | {"agents_affected": len(problem.get("agents_affected") or [])}
        for name, value in (("group", group), ("scorecard_id", scorecard_id), ("items", items)):
            if not value:
                raise Invalid(f"a training request needs {name}", name)
        assert group
        assert scorecard_id
        assert items
        request = TrainingRequest(
            id=str(uuid.uuid4()),
            group=group,
            scorecard_id=scorecard_id,
            items=list(items),
            analysis_id=analysis_id,
            problem_id=problem_id,
            statistics=statistics,
            notes=notes,
            trainer_id=trainer_id,
            status="requested",
            score_source=source,
            baseline_days=baseline_days,
            follow_up_days=follow_up_days,
            requested_by=principal.subject,
        )
        with self.db.session() as session:
            session.add(request)
            enqueue(
                session,
                TrainingRequestedEvent(
                    correlation_id=request.id,
                    producer=PRODUCER,
                    payload=TrainingRequested(
                        request_id=request.id,
                        group=group,
                        scorecard_id=scorecard_id,
                        items=request.items,
                        failure_rate=statistics.get("rate"),
                        calls=statistics.get("calls"),
                        agents_affected=statistics.get("agents_affected"),
                        analysis_id=analysis_id,
                        problem_id=problem_id,
                        trainer_id=trainer_id,
                        requested_by=principal.subject,
                        requested_at=request.requested_at,
                    ),
                ),
            )
        return request

    def _scorecard_of(self, problem: dict[str, Any]) -> str:
        for example in problem.get("examples") or []:
            with self.db.session() as session:
                record = session.get(EvaluationRecord, example["evaluation_id"])
            if record is not None:
                return record.scorecard_id
        raise Invalid("the analysis names no scorecard and the problem has no example call", "scorecard_id")

    def schedule(self, principal: Principal, request_id: str, at: datetime) -> TrainingRequest:
        with self.db.session() as session:
            request = self._get(session, request_id, for_update=True)
            self._trainer(principal, request)
            if request.status not in ("requested", "scheduled"):
                raise WrongState(f"a request is scheduled while requested or scheduled; this one is {request.status}")
            request.status, request.scheduled_for = "scheduled", at
            request.trainer_id = request.trainer_id or principal.subject
            session.add(request)
        return request

    def deliver(self, principal: Principal, request_id: str, at: datetime | None) -> TrainingRequest:
        now = utcnow()
        when = at or now
        if when > now:
            raise Invalid("training cannot have been delivered in the future", "delivered_at")
        with self.db.session() as session:
            request = self._get(session, request_id, for_update=True)
            self._trainer(principal, request)
            if request.status not in ("requested", "scheduled"):
                raise WrongState(f"a request is delivered once, after requested or scheduled; it is {request.status}")
            request.status, request.delivered_at = "delivered", when
            request.trainer_id = request.trainer_id or principal.subject
            session.add(request)
            enqueue(
                session,
                TrainingDeliveredEvent(
                    correlation_id=request.id,
                    producer=PRODUCER,
                    payload=TrainingDelivered(
                        request_id=request.id,
                        group=request.group,
                        scorecard_id=request.scorecard_id,
                        items=request.items,
                        trainer_id=request.trainer_id,
                        delivered_at=when,
                        follow_up_until=when + timedelta(days=request.follow_up_days),
                    ),
                ),
            )
        return request

    def recheck(
        self,
        principal: Principal,
        request_id: str,
        *,
        review_calls: int = 0,
        reviewers: list[str] | None = None,
        seed: int | None = None,
        now: datetime | None = None,
    ) -> tuple[TrainingRequest, list[ReviewAssignment]]:
        """The re-check after training (once the follow-up window has ended), and optionally calls for review."""
        now = now or utcnow()
        if review_calls and not reviewers:
            raise Invalid("name the reviewers of the re-check calls", "reviewers")
        with self.db.session() as session:
            request = self._get(session, request_id, for_update=True)
            if request.status != "delivered" or request.delivered_at is None:
                raise WrongState(f"a request is re-checked once delivered; this one is {request.status}")
            after_end = request.delivered_at + timedelta(days=request.follow_up_days)
            if now < after_end:
                raise WrongState(f"the follow-up window ends {after_end.isoformat()}")
            before = self._outcomes(session, request, request.delivered_at - timedelta(days=request.baseline_days))
            after = self._outcomes(session, request, request.delivered_at, after_end)
            result = self._verdict(Window.of([o for _, _, o in before]), Window.of([o for _, _, o in after]))
            assignments = []
            if review_calls:
                ids = sorted({e for _, e, _ in after})
                picked = random.Random(seed).sample(ids, min(review_calls, len(ids)))
                for n, evaluation_id in enumerate(picked):
                    record = session.get(EvaluationRecord, evaluation_id)
                    assert record is not None
                    assert reviewers
                    busy = session.exec(
                        select(ReviewAssignment).where(
                            ReviewAssignment.evaluation_id == evaluation_id,
                            col(ReviewAssignment.status).in_(OPEN_STATES),
                        )
                    ).first()
                    if busy is None:
                        reviewer = [r for r in reviewers if r != record.agent_id] or reviewers
                        assignments.append(
                            self.reviews.create(
                                session, record, reviewer[n % len(reviewer)], created_by=principal.subject, due_at=None
                            )
                        )
            request.recheck = {
                **result,
                "window": {
                    "before_start": (request.delivered_at - timedelta(days=request.baseline_days)).isoformat(),
                    "after_start": request.delivered_at.isoformat(),
                    "after_end": after_end.isoformat(),
                },
                "review_assignments": [a.id for a in assignments],
                "seed": seed,
            }
            request.status, request.verified_at = "verified", now
            session.add(request)
            enqueue(
                session,
                TrainingVerifiedEvent(
                    correlation_id=request.id,
                    producer=PRODUCER,
                    payload=TrainingVerified(
                        request_id=request.id,
                        group=request.group,
                        scorecard_id=request.scorecard_id,
                        items=request.items,
                        verdict=result["verdict"],
                        before=PassCount.model_validate(result["before"]),
                        after=PassCount.model_validate(result["after"]),
                        effect=result["effect"],
                        effect_ci=result["effect_ci"],
                        p_value=result["p_value"],
                        verified_at=now,
                    ),
                ),
            )
        return request, assignments

    def _verdict(self, before: Window, after: Window) -> dict[str, Any]:
        out: dict[str, Any] = {
            "before": before.summary(),
            "after": after.summary(),
            "effect": None,
            "effect_ci": None,
            "p_value": None,
        }
        if before.calls < self.params.min_calls or after.calls < self.params.min_calls:
            return {"verdict": "insufficient_data", **out}
        diff, ci, _ = effect(before, after)
        p = improved_p(before, after)
        out |= {"effect": round(diff, 4), "effect_ci": (round(ci[0], 4), round(ci[1], 4)), "p_value": round(p, 6)}
        return {"verdict": "improved" if p < self.params.alpha else "not_improved", **out}

    def _outcomes(
        self, session: Session, request: TrainingRequest, start: datetime, end: datetime | None = None
    ) -> list[tuple[datetime, str, int]]:
        assert request.delivered_at is not None
        scope = Scope(groups=[request.group], scorecard_id=request.scorecard_id)
        source: Source = "human" if request.score_source == "human" else "auto"
        return call_outcomes(observations(session, scope, start, end or request.delivered_at, source), request.items)

    @staticmethod
    def _trainer(principal: Principal, request: TrainingRequest) -> None:
        if Role.admin in principal.roles or Role.supervisor in principal.roles:
            return
        if request.trainer_id is not None and request.trainer_id != principal.subject:
            raise NotYours(f"the request is {request.trainer_id}'s")

    def _get(self, session: Session, request_id: str, *, for_update: bool = False) -> TrainingRequest:
        statement = select(TrainingRequest).where(TrainingRequest.id == request_id)
        found = session.exec(lock(statement, session) if for_update else statement).first()
        if found is None:
            raise NotFound("training request", request_id)
        return found

    def get(self, request_id: str) -> TrainingRequest:
        with self.db.session() as session:
            return self._get(session, request_id)

    def search(
        self, *, status: str | None, group: str | None, trainer_id: str | None, limit: int, offset: int
    ) -> tuple[list[TrainingRequest], int]:
        conditions: list[Any] = []
        for column, value in (
            (TrainingRequest.status, status),
            (TrainingRequest.group, group),
            (TrainingRequest.trainer_id, trainer_id),
        ):
            if value is not None:
                conditions.append(col(column) == value)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(TrainingRequest).where(*conditions)).one()
            rows = session.exec(
                select(TrainingRequest)
                .where(*conditions)
                .order_by(col(TrainingRequest.requested_at).desc(), col(TrainingRequest.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)
