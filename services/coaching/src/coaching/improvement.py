"""Improvement plans for individual problems, and their verified follow-up.

    draft --activate--> active --coached--> in_follow_up --(window ends: verdict)--> closed
      └──────────────────┴── cancel --> cancelled;  idle for `idle_days` --> expired

A plan is written by a coach or proposed from a problem analysis (agent, group, item, example calls filled in)
and edited while draft or active. `coached` says when coaching happened: the agent's calls in the
`baseline_days` before it are the *before* window; the *after* window is the next `goal_days` days or the next
`goal_calls` calls (at most `max_window_days`). When the after window has ended, `coaching.followup.verify`
compares the agent's pass rate on the focus items before and after, against the rest of the group over the same
windows, and closes the plan with `improved`, `not_improved` or `insufficient_data` and the evidence. A closed,
improved plan gets a recurrence check `recurrence_days` after its window: did the problem come back?

Creating a plan announces `coaching.plan.created`; closing, cancelling or expiring it `coaching.plan.closed`
(through the outbox, in the same transaction as the change).

Every change bumps the plan's `revision` (its ETag): an edit must send it as If-Match, so two coaches editing one
plan cannot overwrite each other (stale: 409, none: 428). A plan with `follow_up_every_days` gets a check-in every
that many days while active (from activation) or in follow-up (from coaching): the periodic task (`sweep`) makes
it with the agent's interim figures on the focus items and counts it as a reminder to the coach, who records it
done with notes. Check-ins are not activity: a plan nobody works on still expires.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, and_, col, func, or_, select

from callqa.auth import Principal
from callqa.db import Database
from callqa.events import PassCount, PlanClosed, PlanClosedEvent, PlanCreated, PlanCreatedEvent, utcnow
from callqa.outbox import enqueue
from coaching.analyses import ProblemAnalyses
from coaching.errors import Invalid, NotFound, NotYours, WrongState, check_revision
from coaching.followup import FollowUpParams, Window, recurrence, verify
from coaching.ledger import PRODUCER, is_staff, lock
from coaching.observations import Scope, Source, call_outcomes, observations
from coaching.tables import EvaluationRecord, ImprovementPlan, PlanCheckIn

log = logging.getLogger(__name__)

EDITABLE = ("draft", "active")
OPEN = ("draft", "active", "in_follow_up")
ENDED = ("closed", "cancelled", "expired")


@dataclass
class PlanFields:
    """What a coach writes; `None` keeps the current value on an edit."""

    agent_id: str | None = None
    group: str | None = None
    coach_id: str | None = None
    scorecard_id: str | None = None
    focus_items: list[str] | None = None
    goal_pass_rate: float | None = None
    goal_calls: int | None = None
    goal_days: int | None = None
    actions: list[str] | None = None
    example_evaluation_ids: list[str] | None = None
    notes: str | None = None
    score_source: Source | None = None
    baseline_days: int | None = None
    max_window_days: int | None = None
    follow_up_every_days: int | None = None
    due_at: datetime | None = None


class ImprovementPlans:
    def __init__(
        self,
        db: Database,
        analyses: ProblemAnalyses,
        params: FollowUpParams,
        *,
        idle_days: int = 90,
        recurrence_days: int = 30,
    ) -> None:
        self.db = db
        self.analyses = analyses
        self.params = params
        self.idle_days = idle_days
        self.recurrence_days = recurrence_days

    # --- writing ----------------------------------------------------------------------------------

    def create(
        self, principal: Principal, fields: PlanFields, *, origin: tuple[str, str] | None = None
    ) -> ImprovementPlan:
        """A draft plan (`origin`: the analysis and problem it was proposed from)."""
        missing = [n for n in ("agent_id", "scorecard_id", "focus_items") if not getattr(fields, n)]
        if missing:
            raise Invalid(f"a plan needs {', '.join(missing)}", missing[0])
        now = utcnow()
        plan = ImprovementPlan(
            id=str(uuid.uuid4()),
            agent_id=fields.agent_id or "",
            coach_id=fields.coach_id or principal.subject,
            scorecard_id=fields.scorecard_id or "",
            focus_items=[],
            goal_pass_rate=0.9,
            goal_calls=20,
            status="draft",
            analysis_id=origin[0] if origin else None,
            problem_id=origin[1] if origin else None,
            created_by=principal.subject,
            created_at=now,
            last_activity_at=now,
        )
        self._apply(plan, fields)
        self._check_goal(plan)
        with self.db.session() as session:
            self._check_examples(session, plan)
            session.add(plan)
            enqueue(session, self._created_event(plan))
        return plan

    def propose(self, principal: Principal, analysis_id: str, problem_id: str, fields: PlanFields) -> ImprovementPlan:
        """A draft for an individual problem of an analysis: agent, group, item, examples from the problem."""
        analysis, problem = self.analyses.problem(analysis_id, problem_id)
        if problem["kind"] != "individual":
            raise Invalid(
                "only an individual problem gets an improvement plan (a common one: a training request)", "problem_id"
            )
        scorecard_id = analysis.scope.get("scorecard_id") or self._scorecard_of(problem)
        proposed = PlanFields(
            agent_id=problem["agent_id"],
            group=problem["group"],
            scorecard_id=scorecard_id,
            focus_items=[problem["item_id"]],
            actions=[f"listen to the example calls on '{problem['item_id']}' with the coach"],
            example_evaluation_ids=[e["evaluation_id"] for e in problem["examples"]],
            score_source="human" if analysis.source == "human" else "auto",
        )
        for name, value in vars(fields).items():
            if value is not None:
                setattr(proposed, name, value)
        return self.create(principal, proposed, origin=(analysis_id, problem_id))

    def _scorecard_of(self, problem: dict[str, Any]) -> str:
        examples = problem.get("examples") or []
        if examples:
            with self.db.session() as session:
                record = session.get(EvaluationRecord, examples[0]["evaluation_id"])
                if record is not None:
                    return record.scorecard_id
        raise Invalid("the analysis names no scorecard and the problem has no example call", "scorecard_id")

    def edit(self, principal: Principal, plan_id: str, fields: PlanFields, if_match: str | None) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            check_revision(plan.revision, if_match, "plan")
            if plan.status not in EDITABLE:
                raise WrongState(f"a plan is edited while draft or active; this one is {plan.status}")
            self._apply(plan, fields)
            self._check_goal(plan)
            self._check_examples(session, plan)
            plan.last_activity_at = utcnow()
            plan.revision += 1
            session.add(plan)
        return plan

    def activate(self, principal: Principal, plan_id: str) -> ImprovementPlan:
        return self._move(plan_id, ("draft",), "active", activated_at=utcnow())

    def coached(self, principal: Principal, plan_id: str, at: datetime | None) -> ImprovementPlan:
        now = utcnow()
        when = at or now
        if when > now:
            raise Invalid("coaching cannot have happened in the future", "at")
        return self._move(plan_id, ("active",), "in_follow_up", coached_at=when)

    def acknowledge(self, principal: Principal, plan_id: str, comment: str | None) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            if plan.agent_id != principal.subject:
                raise NotYours("only the plan's agent acknowledges it")
            if plan.status not in ("active", "in_follow_up"):
                raise WrongState(f"a plan is acknowledged while active or in follow-up; this one is {plan.status}")
            if plan.acknowledged_at is not None:
                raise WrongState("the plan is already acknowledged")
            plan.acknowledged_at, plan.acknowledgement_comment = utcnow(), comment
            plan.last_activity_at = plan.acknowledged_at
            plan.revision += 1
            session.add(plan)
        return plan

    def remind(self, principal: Principal, plan_id: str) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            if plan.status not in OPEN:
                raise WrongState(f"the plan is {plan.status}")
            plan.reminders += 1
            plan.revision += 1
            session.add(plan)
        return plan

    def reassign(self, principal: Principal, plan_id: str, coach_id: str) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            if plan.status not in OPEN:
                raise WrongState(f"the plan is {plan.status}")
            if coach_id == plan.agent_id:
                raise Invalid("an agent does not coach themselves", "coach_id")
            plan.coach_id, plan.reassignments, plan.last_activity_at = coach_id, plan.reassignments + 1, utcnow()
            plan.revision += 1
            session.add(plan)
        return plan

    def cancel(self, principal: Principal, plan_id: str, reason: str) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            if plan.status not in OPEN:
                raise WrongState(f"the plan is {plan.status}")
            self._end(session, plan, "cancelled", utcnow())
            plan.cancel_reason = reason
        return plan

    # --- follow-up --------------------------------------------------------------------------------

    def check(self, plan_id: str, now: datetime | None = None) -> ImprovementPlan:
        """Close a plan whose follow-up window has ended (verdict), or run a due recurrence check."""
        now = now or utcnow()
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            if plan.status == "in_follow_up":
                ends, why = self._window_end(session, plan, now)
                if ends is None:
                    raise WrongState(f"the follow-up window has not ended: {why}")
                self._close(session, plan, ends, now)
            elif plan.status == "closed" and plan.verdict == "improved" and plan.recurrence is None:
                if not self._recurrence(session, plan, now):
                    due = (plan.evidence or {}).get("window", {}).get("after_end")
                    raise WrongState(f"the recurrence check is due {self.recurrence_days} days after {due}")
            else:
                raise WrongState(f"nothing to check on a plan that is {plan.status}")
        return plan

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """What the periodic task runs: expire idle plans, close plans whose window ended, run recurrence checks,
        make due check-ins.

        Each plan in a transaction of its own, locked and re-checked there, so replicas sweeping at once never
        close (or announce) a plan twice."""
        now = now or utcnow()
        counts = {"expired": 0, "closed": 0, "recurrence_checked": 0, "check_ins": 0}
        with self.db.session() as session:
            candidates = session.exec(
                select(ImprovementPlan.id).where(  # (a JSON column's None is stored as JSON null: checked below)
                    or_(
                        col(ImprovementPlan.status).in_((*EDITABLE, "in_follow_up")),
                        and_(ImprovementPlan.status == "closed", ImprovementPlan.verdict == "improved"),
                    )
                )
            ).all()
        for plan_id in candidates:
            with self.db.session() as session:
                plan = self._get(session, plan_id, for_update=True)
                if plan.status in EDITABLE and plan.last_activity_at < now - timedelta(days=self.idle_days):
                    self._end(session, plan, "expired", now)
                    counts["expired"] += 1
                    continue
                if plan.status == "in_follow_up":
                    ends, _ = self._window_end(session, plan, now)
                    if ends is not None:
                        self._close(session, plan, ends, now)
                        counts["closed"] += 1
                        continue
                if plan.status == "closed" and plan.verdict == "improved" and plan.recurrence is None:
                    counts["recurrence_checked"] += int(self._recurrence(session, plan, now))
                    continue
                if plan.status in ("active", "in_follow_up") and plan.follow_up_every_days:
                    counts["check_ins"] += int(self._check_in(session, plan, now))
        return counts

    # --- check-ins --------------------------------------------------------------------------------

    def _check_in(self, session: Session, plan: ImprovementPlan, now: datetime) -> bool:
        """Make the plan's next check-in if one is due (one per sweep: missed periods are skipped, not piled up)."""
        assert plan.follow_up_every_days
        anchor = plan.coached_at if plan.status == "in_follow_up" else plan.activated_at
        if anchor is None:
            return False
        every = timedelta(days=plan.follow_up_every_days)
        last = session.exec(
            select(PlanCheckIn).where(PlanCheckIn.plan_id == plan.id).order_by(col(PlanCheckIn.number).desc())
        ).first()
        due_at = (last.due_at if last is not None and last.due_at >= anchor else anchor) + every
        if due_at > now:
            return False
        while due_at + every <= now:
            due_at += every
        check_in = PlanCheckIn(
            plan_id=plan.id,
            number=(last.number + 1) if last is not None else 1,
            due_at=due_at,
            created_at=now,
            figures=self._interim(session, plan, anchor, now),
        )
        plan.reminders += 1  # the check-in reminds the coach; not activity (an idle plan still expires)
        plan.revision += 1
        try:
            with session.begin_nested():  # the unique (plan, number) is the backstop against a second maker
                session.add(check_in)
                session.add(plan)
        except IntegrityError:
            return False
        log.info(
            "plan check-in due",
            extra={"plan": plan.id, "coach": plan.coach_id, "number": check_in.number, "reminders": plan.reminders},
        )
        return True

    def _interim(self, session: Session, plan: ImprovementPlan, start: datetime, end: datetime) -> dict[str, Any]:
        """The agent's figures on the focus items since `start`: calls, passes and the rate against the goal, per
        item failures; in follow-up also the before window (the same as the verdict's)."""
        source: Source = "human" if plan.score_source == "human" else "auto"
        scope = Scope(agents=[plan.agent_id], scorecard_id=plan.scorecard_id)

        def figures(since: datetime, until: datetime) -> dict[str, Any]:
            found = observations(session, scope, since, until, source)
            calls = call_outcomes(found, plan.focus_items)
            passed = sum(o for _, _, o in calls)
            items: dict[str, dict[str, Any]] = {}
            for item in plan.focus_items:
                applicable = [o for o in found if o.item_id == item and o.applicable]
                failed = sum(1 for o in applicable if o.failed)
                items[item] = {
                    "calls": len(applicable),
                    "failed": failed,
                    "fail_rate": failed / len(applicable) if applicable else None,
                }
            rate = passed / len(calls) if calls else None
            return {
                "since": since.isoformat(),
                "until": until.isoformat(),
                "calls": len(calls),
                "passed": passed,
                "pass_rate": rate,
                "items": items,
            }

        out = figures(start, end)
        rate = out["pass_rate"]
        out |= {
            "status": plan.status,
            "score_source": source,
            "goal_pass_rate": plan.goal_pass_rate,
            "on_track": None if rate is None else rate >= plan.goal_pass_rate,
        }
        if plan.status == "in_follow_up" and plan.coached_at is not None:
            out["before"] = figures(plan.coached_at - timedelta(days=plan.baseline_days), plan.coached_at)
        return out

    def check_ins(
        self, principal: Principal, plan_id: str, *, limit: int, offset: int
    ) -> tuple[list[PlanCheckIn], int]:
        self.get(principal, plan_id)  # 404, or 403 for another agent's plan
        with self.db.session() as session:
            condition = PlanCheckIn.plan_id == plan_id
            total = session.exec(select(func.count()).select_from(PlanCheckIn).where(condition)).one()
            rows = session.exec(
                select(PlanCheckIn).where(condition).order_by(col(PlanCheckIn.number)).offset(offset).limit(limit)
            ).all()
        return list(rows), int(total)

    def check_in_done(self, principal: Principal, plan_id: str, number: int, notes: str | None) -> PlanCheckIn:
        """The coach has held the check-in (activity: the plan is not idle)."""
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            found = session.exec(
                select(PlanCheckIn).where(PlanCheckIn.plan_id == plan_id, PlanCheckIn.number == number)
            ).first()
            if found is None:
                raise NotFound("check-in", f"{plan_id}/{number}")
            if found.done_at is not None:
                raise WrongState(f"check-in {number} was recorded done by {found.done_by}")
            if plan.status in ENDED:
                raise WrongState(f"the plan is {plan.status}")
            now = utcnow()
            found.done_at, found.done_by, found.notes = now, principal.subject, notes
            plan.last_activity_at = now
            plan.revision += 1
            session.add(found)
            session.add(plan)
        return found

    def _outcomes(
        self, session: Session, plan: ImprovementPlan, start: datetime, end: datetime, *, group: bool
    ) -> list[tuple[datetime, str, int]]:
        if group:
            if not plan.group:
                return []
            scope = Scope(groups=[plan.group], scorecard_id=plan.scorecard_id, exclude_agents=[plan.agent_id])
        else:
            scope = Scope(agents=[plan.agent_id], scorecard_id=plan.scorecard_id)
        source: Source = "human" if plan.score_source == "human" else "auto"
        return call_outcomes(observations(session, scope, start, end, source), plan.focus_items)

    def _window_end(self, session: Session, plan: ImprovementPlan, now: datetime) -> tuple[datetime | None, str]:
        """When the after window ended (None: not yet, with why)."""
        assert plan.coached_at is not None
        start = plan.coached_at
        cap = start + timedelta(days=plan.max_window_days)
        if plan.goal_days:
            end = min(start + timedelta(days=plan.goal_days), cap)
            return (end, "") if now >= end else (None, f"it ends {end.isoformat()}")
        calls = self._outcomes(session, plan, start, min(now, cap), group=False)
        if plan.goal_calls and len(calls) >= plan.goal_calls:
            return calls[plan.goal_calls - 1][0] + timedelta(microseconds=1), ""
        if now >= cap:
            return cap, ""
        return None, f"{len(calls)} of {plan.goal_calls} calls so far; it ends by {cap.isoformat()} at the latest"

    def _close(self, session: Session, plan: ImprovementPlan, after_end: datetime, now: datetime) -> None:
        assert plan.coached_at is not None
        before_start = plan.coached_at - timedelta(days=plan.baseline_days)
        windows = {
            "before_start": before_start.isoformat(),
            "before_end": plan.coached_at.isoformat(),
            "after_start": plan.coached_at.isoformat(),
            "after_end": after_end.isoformat(),
        }
        agent_before = self._outcomes(session, plan, before_start, plan.coached_at, group=False)
        agent_after = self._outcomes(session, plan, plan.coached_at, after_end, group=False)
        if plan.goal_calls and not plan.goal_days:
            agent_after = agent_after[: plan.goal_calls]
        group_before = self._outcomes(session, plan, before_start, plan.coached_at, group=True)
        group_after = self._outcomes(session, plan, plan.coached_at, after_end, group=True)
        result = verify(
            Window.of([o for _, _, o in agent_before]),
            Window.of([o for _, _, o in agent_after]),
            Window.of([o for _, _, o in group_before]),
            Window.of([o for _, _, o in group_after]),
            self.params,
        )
        after_rate = result["after"]["rate"]
        plan.goal_met = None if after_rate is None else after_rate >= plan.goal_pass_rate
        plan.verdict = result["verdict"]
        plan.evidence = {
            **result,
            "window": windows,
            "after_calls": [e for _, e, _ in agent_after],
            "score_source": plan.score_source,
        }
        self._end(session, plan, "closed", now)

    def _recurrence(self, session: Session, plan: ImprovementPlan, now: datetime) -> bool:
        window = (plan.evidence or {}).get("window") or {}
        if not window:
            return False
        after_start = datetime.fromisoformat(window["after_start"])
        after_end = datetime.fromisoformat(window["after_end"])
        later_end = after_end + timedelta(days=self.recurrence_days)
        if now < later_end:
            return False
        after = self._outcomes(session, plan, after_start, after_end, group=False)
        later = self._outcomes(session, plan, after_end, later_end, group=False)
        found = recurrence(Window.of([o for _, _, o in after]), Window.of([o for _, _, o in later]), self.params)
        plan.recurrence = {**found, "checked_at": now.isoformat(), "until": later_end.isoformat()}
        plan.revision += 1
        session.add(plan)
        return True

    # --- reading ----------------------------------------------------------------------------------

    def get(self, principal: Principal, plan_id: str) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id)
        if not is_staff(principal) and plan.agent_id != principal.subject:
            raise NotYours("agents see only their own plans")
        return plan

    def search(
        self,
        principal: Principal,
        *,
        agent_id: str | None,
        coach_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[ImprovementPlan], int]:
        conditions: list[Any] = []
        if not is_staff(principal):
            agent_id = principal.subject
        for column, value in (
            (ImprovementPlan.agent_id, agent_id),
            (ImprovementPlan.coach_id, coach_id),
            (ImprovementPlan.status, status),
        ):
            if value is not None:
                conditions.append(col(column) == value)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(ImprovementPlan).where(*conditions)).one()
            rows = session.exec(
                select(ImprovementPlan)
                .where(*conditions)
                .order_by(col(ImprovementPlan.created_at).desc(), col(ImprovementPlan.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    # --- inside -----------------------------------------------------------------------------------

    def _get(self, session: Session, plan_id: str, *, for_update: bool = False) -> ImprovementPlan:
        statement = select(ImprovementPlan).where(ImprovementPlan.id == plan_id)
        found = session.exec(lock(statement, session) if for_update else statement).first()
        if found is None:
            raise NotFound("improvement plan", plan_id)
        return found

    def _move(self, plan_id: str, sources: tuple[str, ...], target: str, **changes: Any) -> ImprovementPlan:
        with self.db.session() as session:
            plan = self._get(session, plan_id, for_update=True)
            if plan.status not in sources:
                raise WrongState(f"a plan becomes {target} from {' or '.join(sources)}; this one is {plan.status}")
            plan.status = target
            for name, value in changes.items():
                setattr(plan, name, value)
            plan.last_activity_at = utcnow()
            plan.revision += 1
            session.add(plan)
        return plan

    @staticmethod
    def _apply(plan: ImprovementPlan, fields: PlanFields) -> None:
        for name, value in vars(fields).items():
            if value is None:
                continue
            setattr(plan, name, list(value) if isinstance(value, list) else value)
        if fields.goal_days is not None and fields.goal_calls is None:
            plan.goal_calls = None
        if fields.goal_calls is not None and fields.goal_days is None:
            plan.goal_days = None

    @staticmethod
    def _check_goal(plan: ImprovementPlan) -> None:
        if not plan.focus_items:
            raise Invalid("a plan needs at least one focus item", "focus_items")
        if plan.agent_id == plan.coach_id:
            raise Invalid("an agent does not coach themselves", "coach_id")
        if not plan.goal_calls and not plan.goal_days:
            raise Invalid("the goal needs a number of calls or of days after coaching", "goal")

    @staticmethod
    def _check_examples(session: Session, plan: ImprovementPlan) -> None:
        for evaluation_id in plan.example_evaluation_ids:
            record = session.get(EvaluationRecord, evaluation_id)
            if record is None:
                raise Invalid(f"example evaluation {evaluation_id!r} is unknown", "example_evaluation_ids")
            if record.agent_id != plan.agent_id:
                raise Invalid(
                    f"example evaluation {evaluation_id!r} is not one of the agent's calls", "example_evaluation_ids"
                )

    def _end(self, session: Session, plan: ImprovementPlan, status: str, now: datetime) -> None:
        plan.status, plan.closed_at, plan.last_activity_at = status, now, now
        plan.revision += 1
        session.add(plan)
        evidence = plan.evidence or {}

        def count(name: str) -> PassCount | None:
            found = evidence.get(name)
            return PassCount.model_validate(found) if found else None

        enqueue(
            session,
            PlanClosedEvent(
                correlation_id=plan.id,
                producer=PRODUCER,
                payload=PlanClosed(
                    plan_id=plan.id,
                    agent_id=plan.agent_id,
                    group=plan.group,
                    coach_id=plan.coach_id,
                    scorecard_id=plan.scorecard_id,
                    focus_items=plan.focus_items,
                    status=status,
                    verdict=plan.verdict,
                    goal_met=plan.goal_met,
                    before=count("before"),
                    after=count("after"),
                    group_before=count("group_before"),
                    group_after=count("group_after"),
                    effect=evidence.get("effect"),
                    effect_ci=evidence.get("effect_ci"),
                    difference_in_differences=evidence.get("difference_in_differences"),
                    did_ci=evidence.get("did_ci"),
                    p_value=evidence.get("p_value"),
                    did_p_value=evidence.get("did_p_value"),
                    reminders=plan.reminders,
                    reassignments=plan.reassignments,
                    created_at=plan.created_at,
                    closed_at=now,
                ),
            ),
        )

    @staticmethod
    def _created_event(plan: ImprovementPlan) -> PlanCreatedEvent:
        return PlanCreatedEvent(
            correlation_id=plan.id,
            producer=PRODUCER,
            payload=PlanCreated(
                plan_id=plan.id,
                agent_id=plan.agent_id,
                group=plan.group,
                coach_id=plan.coach_id,
                scorecard_id=plan.scorecard_id,
                focus_items=plan.focus_items,
                goal_pass_rate=plan.goal_pass_rate,
                goal_calls=plan.goal_calls,
                goal_days=plan.goal_days,
                status="draft",
                analysis_id=plan.analysis_id,
                problem_id=plan.problem_id,
                due_at=plan.due_at,
                created_by=plan.created_by,
                created_at=plan.created_at,
            ),
        )
