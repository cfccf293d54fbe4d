"""Tables owned by coaching: its own copy of each evaluation and the chain of its versions, sampling
plans (versioned), runs and their picks, review assignments, appeals, the timeline of everything done to
an evaluation, auto-vs-human agreement per item, and calibration sessions (kept apart from evaluations:
calibration scores never reach an agent). Issue 16: problem analyses, improvement plans, training requests,
transcript references (the transcriber's redacted audio, the customer's first request), the training library,
learning assignments and learning records. Then: plan check-ins, the stored FAQ and the periodic tasks' rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Date, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from callqa.db import utc_column
from callqa.events import utcnow


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and MetaData) of their own, so a table's name only has to be
    unique in this service's database, never among every service imported into one process."""


class EvaluationRecord(Table, table=True):
    """One automatic evaluation as `evaluation.scored` announced it (the id is the scorer's), with the
    facts sampling filters on and the agent-facing state (released version, acknowledgement, rounds)."""

    __tablename__ = "evaluations"

    id: str = Field(primary_key=True, max_length=36)
    recording_id: str = Field(index=True, max_length=36)
    agent_id: str = Field(index=True, max_length=100)
    group: str | None = Field(default=None, index=True, max_length=100)
    queue: str | None = Field(default=None, index=True, max_length=100)
    direction: str | None = Field(default=None, max_length=20)
    duration_ms: int | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    scorecard_id: str = Field(index=True, max_length=100)
    scorecard_version: int
    transcript_version: str = Field(max_length=200)
    pass_threshold: float | None = None
    auto_percentage: float
    auto_failed: bool = Field(index=True)
    failed_items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    latest_version: int = 1
    picked: bool = Field(default=False, index=True, description="picked by a run or assigned for review")
    acknowledged_version: int | None = None
    appeal_rounds: int = 0
    evidence_purged: bool = False
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class EvaluationVersion(Table, table=True):
    """A version of an evaluation, never overwritten: 1 is the automatic one, then one per submitted
    review or resolved appeal (source `human`)."""

    __tablename__ = "evaluation_versions"
    __table_args__ = (UniqueConstraint("evaluation_id", "version", name="uq_evaluation_version"),)

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: str = Field(index=True, max_length=36)
    version: int
    source: str = Field(max_length=20, description="auto | human")
    cause: str = Field(max_length=20, description="scored | review | appeal")
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    author: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    released_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True), description="when it was released (stored)"
    )
    release_scheduled_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True), description="the release time asked for"
    )
    released_by: str | None = Field(default=None, max_length=200, description="who released it: a user or scheduler")


class PlanVersion(Table, table=True):
    __tablename__ = "sampling_plans"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_sampling_plan_version"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(index=True, max_length=100)
    version: int
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class SamplingRun(Table, table=True):
    """An auditable draw: which plan version, which seed, how many calls it drew from, and every pick."""

    __tablename__ = "sampling_runs"

    id: str = Field(primary_key=True, max_length=36)
    plan_id: str = Field(index=True, max_length=100)
    plan_version: int
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    period_end: datetime = Field(sa_column=utc_column(nullable=False))
    population_size: int
    size_cap: int | None = None
    quota: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    picks: int
    unassigned: int
    reviewers: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))


class SamplingPick(Table, table=True):
    __tablename__ = "sampling_picks"
    __table_args__ = (UniqueConstraint("run_id", "evaluation_id", name="uq_sampling_pick"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=36)
    evaluation_id: str = Field(max_length=36)
    agent_id: str = Field(max_length=100)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    method: int
    reason: str = Field(max_length=300)
    reviewer_id: str | None = Field(default=None, max_length=200)
    assignment_id: str | None = Field(default=None, max_length=36)


class ReviewAssignment(Table, table=True):
    """A call to review, and the review itself: pending -> in_review -> submitted (or cancelled).
    `revision` is the optimistic-concurrency version of the draft (the ETag)."""

    __tablename__ = "review_assignments"

    id: str = Field(primary_key=True, max_length=36)
    evaluation_id: str = Field(index=True, max_length=36)
    run_id: str | None = Field(default=None, index=True, max_length=36)
    reviewer_id: str = Field(index=True, max_length=200)
    status: str = Field(index=True, max_length=20)
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    opened_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    decisions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    revision: int = 0
    result_version: int | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    reminders: int = Field(default=0, description="reminders sent while overdue")
    last_reminded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reassignments: int = 0


class Appeal(Table, table=True):
    """An agent's appeal of items of one released version: open -> resolved."""

    __tablename__ = "appeals"

    id: str = Field(primary_key=True, max_length=36)
    evaluation_id: str = Field(index=True, max_length=36)
    agent_id: str = Field(index=True, max_length=100)
    round: int
    version: int = Field(description="the appealed version")
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(index=True, max_length=20)
    assignee: str | None = Field(default=None, index=True, max_length=200, description="null: any supervisor")
    raised_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    resolved_by: str | None = Field(default=None, max_length=200)
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    resolutions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    result_version: int | None = None


class TimelineEntry(Table, table=True):
    """Everything done to an evaluation, by whom and when (append-only)."""

    __tablename__ = "timeline"

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: str = Field(index=True, max_length=36)
    recording_id: str = Field(index=True, max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=40)
    version: int | None = None
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ItemAgreement(Table, table=True):
    """Per item of a submitted review: did the human agree with the auto-scorer?"""

    __tablename__ = "item_agreement"
    __table_args__ = (UniqueConstraint("evaluation_id", "version", "item_id", name="uq_item_agreement"),)

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: str = Field(index=True, max_length=36)
    version: int
    scorecard_id: str = Field(index=True, max_length=100)
    scorecard_version: int
    item_id: str = Field(max_length=100)
    auto_result: str = Field(max_length=20)
    human_result: str = Field(max_length=20)
    agreed: bool
    reviewer_id: str = Field(max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class CalibrationSession(Table, table=True):
    """active -> closed. Analysts score blind; the lead sets the reference."""

    __tablename__ = "calibration_sessions"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    lead_id: str = Field(index=True, max_length=200)
    status: str = Field(max_length=20)
    evaluation_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    analysts: list[str] = Field(sa_column=Column(JSON, nullable=False))
    submitted: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class CalibrationScore(Table, table=True):
    """One rater's scores of one call in a session (the lead's are the reference)."""

    __tablename__ = "calibration_scores"
    __table_args__ = (UniqueConstraint("session_id", "evaluation_id", "rater_id", name="uq_calibration_score"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(index=True, max_length=36)
    evaluation_id: str = Field(index=True, max_length=36)
    rater_id: str = Field(max_length=200)
    is_reference: bool = False
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class PurgedRecording(Table, table=True):
    """Recordings already purged, so an evaluation that arrives later comes in without its words."""

    __tablename__ = "purged_recordings"

    recording_id: str = Field(primary_key=True, max_length=36)
    purged_at: datetime = Field(sa_column=utc_column(nullable=False))


# --- issue 16: problems, plans, training, library ---------------------------------------------------


class ProblemAnalysis(Table, table=True):
    """One problem analysis as computed (its scope, parameters and result are frozen with it)."""

    __tablename__ = "problem_analyses"

    id: str = Field(primary_key=True, max_length=36)
    source: str = Field(max_length=20, description="auto | human")
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    period_end: datetime = Field(sa_column=utc_column(nullable=False))
    scope: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))


class ImprovementPlan(Table, table=True):
    """An agent's plan for an individual problem: draft -> active -> in_follow_up -> closed (with a verdict),
    or cancelled / expired."""

    __tablename__ = "improvement_plans"

    id: str = Field(primary_key=True, max_length=36)
    agent_id: str = Field(index=True, max_length=100)
    group: str | None = Field(default=None, index=True, max_length=100)
    coach_id: str = Field(index=True, max_length=200)
    scorecard_id: str = Field(max_length=100)
    focus_items: list[str] = Field(sa_column=Column(JSON, nullable=False))
    goal_pass_rate: float
    goal_calls: int | None = None
    goal_days: int | None = None
    actions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    example_evaluation_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    score_source: str = Field(default="auto", max_length=20, description="auto | human: the scores compared")
    baseline_days: int = 28
    max_window_days: int = 60
    follow_up_every_days: int | None = None
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    status: str = Field(index=True, max_length=20)
    analysis_id: str | None = Field(default=None, max_length=36)
    problem_id: str | None = Field(default=None, max_length=300)
    activated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    coached_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    acknowledgement_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    verdict: str | None = Field(default=None, max_length=20)
    goal_met: bool | None = None
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    recurrence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reminders: int = 0
    reassignments: int = 0
    cancel_reason: str | None = Field(default=None, max_length=2000)
    revision: int = Field(default=0, description="optimistic-concurrency version (the ETag): bumped on every change")
    last_activity_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PlanCheckIn(Table, table=True):
    """A scheduled follow-up check-in of a plan (every `follow_up_every_days`), made by the periodic task with
    the agent's interim figures on the focus items; the coach records it done with notes."""

    __tablename__ = "plan_check_ins"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_plan_check_in"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(index=True, max_length=36)
    number: int
    due_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    figures: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    done_by: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class TrainingRequest(Table, table=True):
    """A group's common problem sent to the trainers: requested -> scheduled -> delivered -> verified."""

    __tablename__ = "training_requests"

    id: str = Field(primary_key=True, max_length=36)
    group: str = Field(index=True, max_length=100)
    scorecard_id: str = Field(max_length=100)
    items: list[str] = Field(sa_column=Column(JSON, nullable=False))
    analysis_id: str | None = Field(default=None, max_length=36)
    problem_id: str | None = Field(default=None, max_length=300)
    statistics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    trainer_id: str | None = Field(default=None, index=True, max_length=200)
    status: str = Field(index=True, max_length=20)
    score_source: str = Field(default="auto", max_length=20)
    baseline_days: int = 28
    follow_up_days: int = 14
    scheduled_for: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    recheck: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))
    verified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class TranscriptRef(Table, table=True):
    """What coaching keeps of `transcript.ready`: where the transcript and its redacted audio are (in the
    transcriber's bucket) and the customer's first request with the agent's answer (for the FAQ)."""

    __tablename__ = "transcripts"

    recording_id: str = Field(primary_key=True, max_length=36)
    model_version: str = Field(max_length=200)
    transcript_key: str = Field(max_length=500)
    redacted_audio_key: str | None = Field(default=None, max_length=500)
    language: str = Field(max_length=20)
    agent_id: str = Field(index=True, max_length=100)
    group: str | None = Field(default=None, max_length=100)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    duration_ms: int
    first_request: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    first_answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class LibraryItem(Table, table=True):
    """A call curated for training (seed 001): exemplary or problem, with breakpoints."""

    __tablename__ = "library_items"

    id: str = Field(primary_key=True, max_length=36)
    recording_id: str = Field(index=True, max_length=36)
    evaluation_id: str | None = Field(default=None, max_length=36)
    kind: str = Field(index=True, max_length=20, description="exemplary | problem")
    title: str = Field(max_length=200)
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    strengths: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    weaknesses: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    breakpoints: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class LearningAssignment(Table, table=True):
    """A library item given to an agent to study: assigned -> completed."""

    __tablename__ = "learning_assignments"

    id: str = Field(primary_key=True, max_length=36)
    library_item_id: str = Field(index=True, max_length=36)
    agent_id: str = Field(index=True, max_length=100)
    plan_id: str | None = Field(default=None, index=True, max_length=36)
    status: str = Field(max_length=20)
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    assigned_by: str = Field(max_length=200)
    assigned_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class LearningRecord(Table, table=True):
    """Seed 001's learning record form, written by the agent, linked to a plan or a library item."""

    __tablename__ = "learning_records"

    id: str = Field(primary_key=True, max_length=36)
    agent_id: str = Field(index=True, max_length=100)
    day: date = Field(sa_column=Column(Date, nullable=False))
    plan_id: str | None = Field(default=None, index=True, max_length=36)
    library_item_id: str | None = Field(default=None, max_length=36)
    did_before: str = Field(sa_column=Column(Text, nullable=False))
    learned: str = Field(sa_column=Column(Text, nullable=False))
    will_improve: str = Field(sa_column=Column(Text, nullable=False))
    points_this_week: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class FaqEntryRecord(Table, table=True):
    """The materialised FAQ: one row per group of first requests, as last computed (`faq_state`)."""

    __tablename__ = "faq_entries"

    id: int | None = Field(default=None, primary_key=True)
    position: int
    question: str = Field(sa_column=Column(Text, nullable=False))
    question_recording_id: str = Field(max_length=36)
    calls: int
    examples: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    answers: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    recording_ids: list[str] = Field(sa_column=Column(JSON, nullable=False), description="every call of the group")
    computed_at: datetime = Field(sa_column=utc_column(nullable=False))


class FaqState(Table, table=True):
    """One row: when the FAQ's inputs last changed and when it was last computed (stale while changed later)."""

    __tablename__ = "faq_state"

    id: int = Field(default=1, primary_key=True)
    changed_at: datetime = Field(sa_column=utc_column(nullable=False))
    computed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    calls: int = 0


class ScheduledTask(Table, table=True):
    """A periodic task of the service. Replicas share the row: one claims a due run with a conditional UPDATE
    (a lease), so each run happens once however many replicas tick; a lease left by a dead replica expires."""

    __tablename__ = "scheduled_tasks"

    name: str = Field(primary_key=True, max_length=100)
    next_run_at: datetime = Field(sa_column=utc_column(nullable=False))
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    runs: int = 0
    last_started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
