"""API request and response models (with OpenAPI examples)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from callqa.http import MAX_INT, NonBlankText, PlainText
from coaching import calibration
from coaching.appeals import Outcome, Resolution
from coaching.problems import AnalysisParams
from coaching.reviews import overdue
from coaching.sampling import PlanDocument
from coaching.scoring import Decision
from coaching.tables import (
    Appeal,
    CalibrationSession,
    EvaluationRecord,
    EvaluationVersion,
    FaqEntryRecord,
    FaqState,
    ImprovementPlan,
    LearningAssignment,
    LearningRecord,
    LibraryItem,
    PlanCheckIn,
    PlanVersion,
    ProblemAnalysis,
    ReviewAssignment,
    SamplingPick,
    SamplingRun,
    ScheduledTask,
    TimelineEntry,
    TrainingRequest,
)

Id = Annotated[NonBlankText, Field(max_length=100)]
Text = Annotated[PlainText, Field(max_length=4000)]
Reason = Annotated[NonBlankText, Field(max_length=2000)]
Result = Literal["pass", "fail", "not_applicable"]
Points = Annotated[float, Field(ge=0, le=1_000_000)]


def _moment(value: datetime) -> datetime:
    """A time the service can count windows from: naive means UTC; years 1970-2200 only."""
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not 1970 <= value.year <= 2200:
        raise ValueError("must be between 1970 and 2200")
    return value


Moment = Annotated[datetime, AfterValidator(_moment)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- sampling plans and runs -------------------------------------------------------------------


class PlanIn(PlanDocument):
    plan_id: Annotated[NonBlankText, Field(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class PlanOut(BaseModel):
    plan_id: str
    version: int
    document: dict[str, Any]
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, p: PlanVersion) -> PlanOut:
        return cls.model_validate(p, from_attributes=True)


class ReviewerIn(Strict):
    id: Id
    capacity: int | None = Field(default=None, ge=0, le=100_000, description="at most this many of the run's picks")


class RunIn(Strict):
    on: date | None = Field(default=None, description="a day in the period to sample (default today, UTC)")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="null: a fresh one, recorded in the run")
    plan_version: int | None = Field(default=None, ge=1, le=MAX_INT, description="null: the latest")
    reviewers: list[ReviewerIn] = Field(default_factory=list, max_length=1000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"on": "2026-11-02", "seed": 42, "reviewers": [{"id": "qa-lin", "capacity": 20}, {"id": "qa-wu"}]}
            ]
        },
    )


class RunOut(BaseModel):
    id: str
    plan_id: str
    plan_version: int
    seed: int
    period_start: datetime
    period_end: datetime
    population_size: int
    size_cap: int | None
    quota: dict[str, Any] | None
    picks: int
    unassigned: int
    reviewers: list[dict[str, Any]]
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, r: SamplingRun) -> RunOut:
        return cls.model_validate(r, from_attributes=True)


class PickOut(BaseModel):
    evaluation_id: str
    agent_id: str
    started_at: datetime
    method: int = Field(description="index of the plan's method that picked the call")
    reason: str
    reviewer_id: str | None
    assignment_id: str | None

    @classmethod
    def of(cls, p: SamplingPick) -> PickOut:
        return cls.model_validate(p, from_attributes=True)


class QuotaIn(Strict):
    qa_staff: int = Field(ge=1, le=10_000)
    effective_hours: float = Field(gt=0, le=24)
    review_overhead_s: float = Field(default=0, ge=0, le=86_400)
    average_handle_time_s: float | None = Field(default=None, gt=0, le=86_400, description="null: observed")
    observed_from: datetime | None = Field(default=None, description="observe handle times from (default: 7 days ago)")
    observed_to: datetime | None = None
    group: Id | None = None
    queue: Id | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"qa_staff": 3, "effective_hours": 6, "review_overhead_s": 120}]},
    )


class QuotaOut(BaseModel):
    daily_capacity: int = Field(description="QA staff × effective hours × 3600 ÷ (handle time + overhead)")
    average_handle_time_s: float
    review_overhead_s: float
    observed_calls: int


# --- assignments and reviews -------------------------------------------------------------------


class AssignmentIn(Strict):
    evaluation_id: Id
    reviewer_id: Id
    due_at: Moment | None = Field(default=None, description="null: `CALLQA_COACHING_REVIEW_DUE_DAYS` from now")


class ReassignIn(Strict):
    reviewer_id: Id
    reason: Annotated[NonBlankText, Field(max_length=500)]
    due_at: Moment | None = Field(
        default=None, description="a new due date; null: kept, or for an overdue one `…_REVIEW_DUE_DAYS` from now"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reviewer_id": "qa-wu", "reason": "qa-lin is on leave; overdue since Monday"},
                {"reviewer_id": "qa-wu", "reason": "rebalance", "due_at": "2026-12-10T09:00:00Z"},
            ]
        },
    )


class CancelIn(Strict):
    reason: Annotated[NonBlankText, Field(max_length=500)]


class DecisionIn(Strict):
    item_id: Id
    decision: Literal["confirm", "override"]
    result: Result | None = Field(default=None, description="override: the human result")
    points: Points | None = Field(default=None, description="override: the points (default: full or none)")
    comment: Text | None = None
    reason: Annotated[PlainText, Field(max_length=2000)] | None = Field(default=None, description="override: why")

    def decision_(self) -> Decision:
        return Decision(
            item_id=self.item_id,
            override=self.decision == "override",
            result=self.result,
            points=self.points,
            comment=self.comment,
            reason=self.reason,
        )


class ReviewIn(Strict):
    items: list[DecisionIn] = Field(default_factory=list, max_length=500, description="undecided items are confirmed")
    notes: Text | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"item_id": "greeting", "decision": "confirm"},
                        {
                            "item_id": "verify_identity",
                            "decision": "override",
                            "result": "pass",
                            "points": 10,
                            "reason": "the agent verified the account number at 00:41",
                        },
                    ],
                    "notes": "good call overall",
                }
            ]
        },
    )


class SubmitIn(Strict):
    items: list[DecisionIn] | None = Field(default=None, max_length=500, description="null: the saved draft")
    notes: Text | None = None
    release_at: Moment | None = Field(
        default=None,
        description="a future time: the release is scheduled and the periodic task releases it then (agents see "
        "nothing before); null or past: released on submit (as `…_RELEASE_ON_SUBMIT` says)",
    )


class AssignmentOut(BaseModel):
    id: str
    evaluation_id: str
    run_id: str | None
    reviewer_id: str
    status: str = Field(description="pending | in_review | submitted | cancelled")
    due_at: datetime | None
    overdue: bool = Field(description="open and past its due date")
    reminders: int = Field(description="reminders sent while overdue (by the periodic task)")
    last_reminded_at: datetime | None
    reassignments: int
    created_by: str
    created_at: datetime
    opened_at: datetime | None
    submitted_at: datetime | None
    decisions: list[dict[str, Any]]
    notes: str | None
    revision: int
    result_version: int | None
    cancel_reason: str | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6b1d0c8e-3f0a-4d4e-9a51-2f5f3c1e7a10",
                    "evaluation_id": "0f8e…",
                    "run_id": None,
                    "reviewer_id": "qa-lin",
                    "status": "pending",
                    "due_at": "2026-12-04T09:00:00Z",
                    "overdue": True,
                    "reminders": 2,
                    "last_reminded_at": "2026-12-06T09:00:00Z",
                    "reassignments": 0,
                    "created_by": "sup-zhao",
                    "created_at": "2026-12-01T09:00:00Z",
                    "opened_at": None,
                    "submitted_at": None,
                    "decisions": [],
                    "notes": None,
                    "revision": 0,
                    "result_version": None,
                    "cancel_reason": None,
                }
            ]
        }
    )

    @classmethod
    def of(cls, a: ReviewAssignment) -> AssignmentOut:
        return cls.model_validate({**a.model_dump(), "overdue": overdue(a)})


# --- evaluations ---------------------------------------------------------------------------------


class VersionOut(BaseModel):
    version: int
    source: str = Field(description="auto | human (calibration scores are never versions)")
    cause: str = Field(description="scored | review | appeal")
    items: list[dict[str, Any]]
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool
    notes: str | None
    author: str
    created_at: datetime
    released_at: datetime | None = Field(description="when it was released to the agent; null: not (yet)")
    release_scheduled_at: datetime | None = Field(
        default=None, description="the release time asked for on submit (the periodic task releases it then)"
    )
    released_by: str | None = Field(default=None, description="who released it: the reviewer, or `scheduler`")

    @classmethod
    def of(cls, v: EvaluationVersion) -> VersionOut:
        return cls.model_validate(v, from_attributes=True)


class EvaluationOut(BaseModel):
    id: str
    recording_id: str
    agent_id: str
    group: str | None
    queue: str | None
    started_at: datetime
    scorecard_id: str
    scorecard_version: int
    evidence_purged: bool
    latest_version: int
    acknowledged_version: int | None
    appeal_rounds: int
    auto: VersionOut | None = Field(description="the automatic version (staff only)")
    human: VersionOut | None = Field(description="the latest human version (staff only)")
    released: VersionOut | None = Field(description="what the agent sees: the latest released version")

    @classmethod
    def of(
        cls,
        r: EvaluationRecord,
        auto: EvaluationVersion | None,
        human: EvaluationVersion | None,
        released: EvaluationVersion | None,
    ) -> EvaluationOut:
        return cls(
            id=r.id,
            recording_id=r.recording_id,
            agent_id=r.agent_id,
            group=r.group,
            queue=r.queue,
            started_at=r.started_at,
            scorecard_id=r.scorecard_id,
            scorecard_version=r.scorecard_version,
            evidence_purged=r.evidence_purged,
            latest_version=r.latest_version,
            acknowledged_version=r.acknowledged_version,
            appeal_rounds=r.appeal_rounds,
            auto=VersionOut.of(auto) if auto else None,
            human=VersionOut.of(human) if human else None,
            released=VersionOut.of(released) if released else None,
        )


class TimelineOut(BaseModel):
    at: datetime
    actor: str
    action: str
    version: int | None
    comment: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, t: TimelineEntry) -> TimelineOut:
        return cls.model_validate(t, from_attributes=True)


class AgreementOut(BaseModel):
    scorecard_id: str
    item_id: str
    reviewed: int
    agreed: int
    overridden: int
    agreement: float = Field(description="share of human reviews that kept the automatic result")


# --- acknowledgement and appeals -----------------------------------------------------------------


class AcknowledgementIn(Strict):
    comment: Text | None = None


class AppealItemIn(Strict):
    item_id: Id
    reason: Reason


class AppealIn(Strict):
    items: list[AppealItemIn] = Field(min_length=1, max_length=200)
    comment: Text | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"items": [{"item_id": "closing", "reason": "I did close the call: 03:12 'thank you for calling'"}]}
            ]
        },
    )


class ResolutionIn(Strict):
    item_id: Id
    outcome: Outcome
    reason: Reason
    result: Result | None = Field(default=None, description="adjusted: the new result")
    points: Points | None = Field(default=None, description="overturned or adjusted: points (default full or none)")

    def resolution(self) -> Resolution:
        return Resolution(self.item_id, self.outcome, self.reason, self.result, self.points)


class ResolveIn(Strict):
    items: list[ResolutionIn] = Field(min_length=1, max_length=200)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"items": [{"item_id": "closing", "outcome": "overturned", "reason": "closing heard at 03:12"}]}
            ]
        },
    )


class AppealOut(BaseModel):
    id: str
    evaluation_id: str
    agent_id: str
    round: int
    version: int
    items: list[dict[str, Any]]
    comment: str | None
    status: str = Field(description="open | resolved")
    assignee: str | None = Field(description="who resolves it; null: any supervisor")
    raised_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolutions: list[dict[str, Any]]
    result_version: int | None

    @classmethod
    def of(cls, a: Appeal) -> AppealOut:
        return cls.model_validate(a, from_attributes=True)


# --- calibration ---------------------------------------------------------------------------------


class CalibrationIn(Strict):
    name: Annotated[NonBlankText, Field(max_length=200)]
    evaluation_ids: list[Id] = Field(min_length=1, max_length=100)
    analysts: list[Id] = Field(min_length=1, max_length=100)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "November billing", "evaluation_ids": ["8d0c…"], "analysts": ["qa-lin", "qa-wu"]}]
        },
    )


class CalibrationOut(BaseModel):
    id: str
    name: str
    lead_id: str
    status: str = Field(description="active | closed")
    evaluation_ids: list[str]
    analysts: list[str]
    submitted: list[str]
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, c: CalibrationSession) -> CalibrationOut:
        return cls.model_validate(c, from_attributes=True)


class ScoreItemIn(Strict):
    item_id: Id
    result: Result
    points: Points
    comment: Text | None = None


class ScoreIn(Strict):
    items: list[ScoreItemIn] = Field(min_length=1, max_length=500)


class CalibrationCallOut(BaseModel):
    evaluation_id: str
    items: list[dict[str, Any]] = Field(description="what to score: no automatic results, no evidence")
    mine: list[dict[str, Any]] = Field(description="the caller's scores so far")


class RaterOut(BaseModel):
    rater: str
    subjects: int
    alignment: float | None
    agreement: float | None
    kappa: float | None = Field(description="Cohen's κ; null below 10 scored items or when undefined")
    kappa_against: str
    kappa_shown: bool


class ItemAgreementOut(BaseModel):
    item_id: str
    subjects: int
    agreement: float | None
    consensus_rate: float
    auto_agreement: float | None


class ReportOut(BaseModel):
    session_id: str
    status: str
    subjects: int
    session_agreement: float | None
    fleiss_kappa: float | None = Field(description="Fleiss' κ across the analysts who submitted")
    analysts: list[RaterOut]
    auto_scorer: RaterOut | None = Field(description="the auto-scorer as one more rater, against the human consensus")
    items: list[ItemAgreementOut]
    notes: list[str]

    @classmethod
    def of(cls, c: CalibrationSession, r: calibration.Report) -> ReportOut:
        return cls(
            session_id=c.id,
            status=c.status,
            subjects=r.subjects,
            session_agreement=r.session_agreement,
            fleiss_kappa=r.fleiss_kappa,
            analysts=[RaterOut.model_validate(a, from_attributes=True) for a in r.analysts],
            auto_scorer=RaterOut.model_validate(r.auto_scorer, from_attributes=True) if r.auto_scorer else None,
            items=[ItemAgreementOut.model_validate(i, from_attributes=True) for i in r.items],
            notes=r.notes,
        )


# --- issue 16: problem analyses, improvement plans, training requests ----------------------------


class AnalysisIn(Strict):
    period_start: Moment = Field(description="calls started at or after this time")
    period_end: Moment = Field(description="...and before this one; the trend compares the period before")
    source: Literal["auto", "human"] = Field("auto", description="automatic scores, or human versions (never mixed)")
    groups: list[Id] = Field(default_factory=list, max_length=200)
    queues: list[Id] = Field(default_factory=list, max_length=200)
    agents: list[Id] = Field(default_factory=list, max_length=2000)
    scorecard_id: Id | None = None
    params: AnalysisParams = Field(default_factory=AnalysisParams)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z", "groups": []}]
        },
    )


class AnalysisOut(BaseModel):
    id: str
    source: str
    period_start: datetime
    period_end: datetime
    scope: dict[str, Any]
    params: dict[str, Any]
    result: dict[str, Any] = Field(description="items: rates per item, group and agent; problems: ranked")
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, a: ProblemAnalysis) -> AnalysisOut:
        return cls.model_validate(a, from_attributes=True)


Goal = Annotated[float, Field(ge=0, le=1)]
Days = Annotated[int, Field(ge=1, le=3650)]


class PlanFieldsIn(Strict):
    coach_id: Id | None = None
    focus_items: list[Id] | None = Field(default=None, min_length=1, max_length=50)
    goal_pass_rate: Goal | None = Field(default=None, description="e.g. 0.9: pass rate on the focus items")
    goal_calls: int | None = Field(default=None, ge=1, le=10_000, description="over the next N calls...")
    goal_days: Days | None = Field(default=None, description="...or the next N days after coaching")
    actions: list[Reason] | None = Field(default=None, max_length=50)
    example_evaluation_ids: list[Id] | None = Field(default=None, max_length=50)
    notes: Text | None = None
    score_source: Literal["auto", "human"] | None = None
    baseline_days: Days | None = Field(default=None, description="the before window: days before coaching")
    max_window_days: Days | None = None
    follow_up_every_days: Days | None = None
    due_at: Moment | None = None


class ImprovementPlanIn(PlanFieldsIn):
    agent_id: Id | None = None
    group: Id | None = None
    scorecard_id: Id | None = None
    analysis_id: Annotated[NonBlankText, Field(max_length=36)] | None = Field(
        default=None, description="propose the plan from this analysis' individual problem (`problem_id`)"
    )
    problem_id: Annotated[NonBlankText, Field(max_length=300)] | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "agent-7",
                    "group": "billing",
                    "scorecard_id": "default-zh",
                    "focus_items": ["closing"],
                    "goal_pass_rate": 0.9,
                    "goal_calls": 20,
                    "actions": ["role-play the closing twice a week"],
                },
                {"analysis_id": "5f0c…", "problem_id": "individual:billing:agent-7:closing", "coach_id": "sup-zhao"},
            ]
        },
    )


class ImprovementPlanOut(BaseModel):
    id: str
    agent_id: str
    group: str | None
    coach_id: str
    scorecard_id: str
    focus_items: list[str]
    goal_pass_rate: float
    goal_calls: int | None
    goal_days: int | None
    actions: list[str]
    example_evaluation_ids: list[str]
    notes: str | None
    score_source: str
    baseline_days: int
    max_window_days: int
    follow_up_every_days: int | None
    due_at: datetime | None
    status: str
    analysis_id: str | None
    problem_id: str | None
    activated_at: datetime | None
    coached_at: datetime | None
    acknowledged_at: datetime | None
    acknowledgement_comment: str | None
    verdict: str | None
    goal_met: bool | None
    evidence: dict[str, Any] | None
    recurrence: dict[str, Any] | None
    reminders: int
    reassignments: int
    cancel_reason: str | None
    revision: int = Field(description="bumped on every change; send it back as If-Match to edit (also the ETag)")
    last_activity_at: datetime
    created_by: str
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, p: ImprovementPlan) -> ImprovementPlanOut:
        return cls.model_validate(p, from_attributes=True)


class CheckInOut(BaseModel):
    plan_id: str
    number: int
    due_at: datetime
    created_at: datetime
    figures: dict[str, Any] = Field(
        description="the agent's interim figures on the focus items since activation (active) or coaching "
        "(in follow-up): calls, passed, pass_rate against goal_pass_rate (on_track), per item calls and failures; "
        "in follow-up also `before`, the baseline window"
    )
    done_at: datetime | None
    done_by: str | None
    notes: str | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan_id": "5f0c2a8e-0d7b-4a55-9a51-2f5f3c1e7a10",
                    "number": 2,
                    "due_at": "2026-12-14T09:00:00Z",
                    "created_at": "2026-12-14T09:04:00Z",
                    "figures": {
                        "since": "2026-12-01T09:00:00Z",
                        "until": "2026-12-14T09:04:00Z",
                        "calls": 18,
                        "passed": 15,
                        "pass_rate": 0.833,
                        "items": {"closing": {"calls": 18, "failed": 3, "fail_rate": 0.167}},
                        "status": "in_follow_up",
                        "score_source": "auto",
                        "goal_pass_rate": 0.9,
                        "on_track": False,
                        "before": {"calls": 20, "passed": 8, "pass_rate": 0.4},
                    },
                    "done_at": None,
                    "done_by": None,
                    "notes": None,
                }
            ]
        }
    )

    @classmethod
    def of(cls, c: PlanCheckIn) -> CheckInOut:
        return cls.model_validate(c, from_attributes=True)


class CheckInDoneIn(Strict):
    notes: Text | None = Field(default=None, examples=["went through three calls; closing script on the desk"])


class CoachedIn(Strict):
    at: Moment | None = Field(default=None, description="when coaching happened (default now; not in the future)")


class PlanAcknowledgementIn(Strict):
    comment: Text | None = None


class PlanReassignIn(Strict):
    coach_id: Id
    reason: Reason


class TrainingRequestIn(Strict):
    analysis_id: Annotated[NonBlankText, Field(max_length=36)] | None = None
    problem_id: Annotated[NonBlankText, Field(max_length=300)] | None = None
    group: Id | None = None
    scorecard_id: Id | None = None
    items: list[Id] | None = Field(default=None, min_length=1, max_length=50)
    trainer_id: Id | None = Field(default=None, description="null: any trainer")
    notes: Text | None = None
    baseline_days: Days = 28
    follow_up_days: Days = 14


class TrainingRequestOut(BaseModel):
    id: str
    group: str
    scorecard_id: str
    items: list[str]
    analysis_id: str | None
    problem_id: str | None
    statistics: dict[str, Any]
    notes: str | None
    trainer_id: str | None
    status: str
    score_source: str
    baseline_days: int
    follow_up_days: int
    scheduled_for: datetime | None
    delivered_at: datetime | None
    recheck: dict[str, Any] | None
    requested_by: str
    requested_at: datetime
    verified_at: datetime | None

    @classmethod
    def of(cls, r: TrainingRequest) -> TrainingRequestOut:
        return cls.model_validate(r, from_attributes=True)


class ScheduleIn(Strict):
    at: Moment


class DeliveredIn(Strict):
    at: Moment | None = Field(default=None, description="when it was delivered (default now; not in the future)")


class RecheckIn(Strict):
    review_calls: int = Field(0, ge=0, le=1000, description="calls after the training to add to human review")
    reviewers: list[Id] = Field(default_factory=list, max_length=100)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)


# --- issue 16: the training library, learning, FAQ ---------------------------------------------------

Ms = Annotated[int, Field(ge=0, le=86_400_000)]


class BreakpointIn(Strict):
    at_ms: Ms = Field(description="playback pauses here")
    question: Reason = Field(description="what trainees are asked at the pause")
    model_reply: Reason = Field(description="the good reply, played or read after the trainees answer")
    reply_end_ms: Ms | None = Field(default=None, description="where the model reply ends in the call")


class LibraryItemFields(Strict):
    kind: Literal["exemplary", "problem"] | None = None
    title: Annotated[NonBlankText, Field(max_length=200)] | None = None
    purpose: Reason | None = None
    summary: Text | None = None
    strengths: list[Reason] | None = Field(default=None, max_length=50)
    weaknesses: list[Reason] | None = Field(default=None, max_length=50)
    breakpoints: list[BreakpointIn] | None = Field(default=None, max_length=100)
    items: list[Id] | None = Field(default=None, max_length=50, description="scorecard items the call teaches")


class LibraryItemIn(LibraryItemFields):
    evaluation_id: Annotated[NonBlankText, Field(max_length=36)]
    kind: Literal["exemplary", "problem"]
    title: Annotated[NonBlankText, Field(max_length=200)]
    purpose: Reason
    breakpoints: list[BreakpointIn] = Field(default_factory=list, max_length=100)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "evaluation_id": "0b9d…",
                    "kind": "exemplary",
                    "title": "Calming an angry customer",
                    "purpose": "how to acknowledge a complaint before solving it",
                    "strengths": ["apologises first"],
                    "breakpoints": [
                        {"at_ms": 12000, "question": "What would you say now?", "model_reply": "I am sorry…"}
                    ],
                }
            ]
        },
    )


class LibraryItemOut(BaseModel):
    id: str
    recording_id: str
    evaluation_id: str | None
    kind: str
    title: str
    purpose: str
    summary: str | None
    strengths: list[str]
    weaknesses: list[str]
    breakpoints: list[dict[str, Any]]
    items: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, i: LibraryItem) -> LibraryItemOut:
        return cls.model_validate(i, from_attributes=True)


class LearningAssignmentIn(Strict):
    library_item_id: Annotated[NonBlankText, Field(max_length=36)]
    agent_ids: list[Id] = Field(min_length=1, max_length=1000)
    plan_id: Annotated[NonBlankText, Field(max_length=36)] | None = None
    due_at: Moment | None = None


class LearningAssignmentOut(BaseModel):
    id: str
    library_item_id: str
    agent_id: str
    plan_id: str | None
    status: str
    due_at: datetime | None
    assigned_by: str
    assigned_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, a: LearningAssignment) -> LearningAssignmentOut:
        return cls.model_validate(a, from_attributes=True)


class LearningRecordIn(Strict):
    """Seed 001's learning record: what I did before, what I learned, how I will improve, and at least two points
    to improve this week."""

    day: date | None = Field(default=None, description="default today (UTC)")
    plan_id: Annotated[NonBlankText, Field(max_length=36)] | None = None
    library_item_id: Annotated[NonBlankText, Field(max_length=36)] | None = None
    did_before: Reason
    learned: Reason
    will_improve: Reason
    points_this_week: list[Annotated[NonBlankText, Field(max_length=500)]] = Field(min_length=2, max_length=20)


class LearningRecordOut(BaseModel):
    id: str
    agent_id: str
    day: date
    plan_id: str | None
    library_item_id: str | None
    did_before: str
    learned: str
    will_improve: str
    points_this_week: list[str]
    created_at: datetime

    @classmethod
    def of(cls, r: LearningRecord) -> LearningRecordOut:
        return cls.model_validate(r, from_attributes=True)


class FaqAnswer(BaseModel):
    text: str
    recording_id: str
    evaluation_id: str | None
    library_item_id: str | None = Field(description="set when the call is an exemplary library item")
    score: float | None


class FaqEntry(BaseModel):
    question: str = Field(description="the request closest to the group's centre")
    calls: int
    examples: list[str]
    answers: list[FaqAnswer]


class FaqOut(BaseModel):
    """The stored FAQ (recomputed by the periodic task when what feeds it changes)."""

    computed_at: datetime | None = Field(description="when the entries were computed; null: never yet")
    stale: bool = Field(description="what feeds the FAQ changed after `computed_at` (the next run recomputes it)")
    calls: int = Field(description="calls with a first request the computation grouped")
    entries: list[FaqEntry]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "computed_at": "2026-12-06T09:05:00Z",
                    "stale": False,
                    "calls": 5,
                    "entries": [
                        {
                            "question": "我想查一下这个月的账单。",
                            "calls": 3,
                            "examples": ["我想查一下这个月的账单。", "查一下我这个月的账单"],
                            "answers": [
                                {
                                    "text": "好的，请提供您的手机号码。",
                                    "recording_id": "0f8e…",
                                    "evaluation_id": "6b1d…",
                                    "library_item_id": "9c2a…",
                                    "score": 100.0,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    @classmethod
    def of(cls, state: FaqState | None, entries: list[FaqEntryRecord]) -> FaqOut:
        computed = state.computed_at if state is not None else None
        return cls(
            computed_at=computed,
            stale=state is None or computed is None or state.changed_at > computed,
            calls=state.calls if state is not None else 0,
            entries=[
                FaqEntry(
                    question=e.question,
                    calls=e.calls,
                    examples=[x["text"] for x in e.examples],
                    answers=[FaqAnswer.model_validate(a) for a in e.answers],
                )
                for e in entries
            ],
        )


class ScheduledTaskOut(BaseModel):
    name: str = Field(description="releases | review-reminders | improvement-plans | faq")
    next_run_at: datetime
    lease_owner: str | None = Field(description="the replica running it now (null: none)")
    lease_until: datetime | None
    runs: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_result: dict[str, Any] | None = Field(description="what the last run did, e.g. {released: 3}")
    last_error: str | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "releases",
                    "next_run_at": "2026-12-06T09:06:00Z",
                    "lease_owner": None,
                    "lease_until": None,
                    "runs": 1440,
                    "last_started_at": "2026-12-06T09:05:00Z",
                    "last_finished_at": "2026-12-06T09:05:00Z",
                    "last_result": {"released": 3},
                    "last_error": None,
                }
            ]
        }
    )

    @classmethod
    def of(cls, t: ScheduledTask) -> ScheduledTaskOut:
        return cls.model_validate(t, from_attributes=True)
