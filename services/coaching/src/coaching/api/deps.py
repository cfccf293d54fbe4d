"""Dependency aliases so route signatures read like prose; who may call what (see tests/authz_matrix.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from callqa.auth import Principal, Role, require_roles
from coaching.analyses import ProblemAnalyses
from coaching.disputes import Disputes
from coaching.improvement import ImprovementPlans
from coaching.ledger import Ledger
from coaching.library import Library
from coaching.plans import SamplingPlans
from coaching.reviews import Reviews
from coaching.sessions import Calibrations
from coaching.training import TrainingRequests


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_reviews(request: Request) -> Reviews:
    reviews: Reviews = request.app.state.reviews
    return reviews


def get_plans(request: Request) -> SamplingPlans:
    plans: SamplingPlans = request.app.state.plans
    return plans


def get_disputes(request: Request) -> Disputes:
    disputes: Disputes = request.app.state.disputes
    return disputes


def get_calibrations(request: Request) -> Calibrations:
    calibrations: Calibrations = request.app.state.calibrations
    return calibrations


def get_analyses(request: Request) -> ProblemAnalyses:
    analyses: ProblemAnalyses = request.app.state.analyses
    return analyses


def get_improvement(request: Request) -> ImprovementPlans:
    plans: ImprovementPlans = request.app.state.improvement
    return plans


def get_training(request: Request) -> TrainingRequests:
    training: TrainingRequests = request.app.state.training
    return training


def get_library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


LibraryDep = Annotated[Library, Depends(get_library)]
AnalysesDep = Annotated[ProblemAnalyses, Depends(get_analyses)]
ImprovementDep = Annotated[ImprovementPlans, Depends(get_improvement)]
TrainingDep = Annotated[TrainingRequests, Depends(get_training)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ReviewsDep = Annotated[Reviews, Depends(get_reviews)]
PlansDep = Annotated[SamplingPlans, Depends(get_plans)]
DisputesDep = Annotated[Disputes, Depends(get_disputes)]
CalibrationsDep = Annotated[Calibrations, Depends(get_calibrations)]

# Analysts and supervisors run QA: plans, runs, reviews, calibration.
Analyst = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.supervisor))]
# The periodic tasks' record: those who run QA and those who audit it.
TaskReader = Annotated[Principal, Depends(require_roles(Role.supervisor, Role.auditor))]
# Staff who read QA's work (trainers and auditors too).
Staff = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor))]
# Assignments are read by those who do and audit them.
AssignmentReader = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.auditor))]
# Evaluations and appeals: staff all, agents their own released ones.
Reader = Annotated[
    Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.agent))
]
AppealReader = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.auditor, Role.agent))]
Agent = Annotated[Principal, Depends(require_roles(Role.agent))]
# Training: trainers deliver it, supervisors may act for them.
Trainer = Annotated[Principal, Depends(require_roles(Role.trainer, Role.supervisor))]
# Re-checks after training: QA and the trainers.
# The library: trainers and supervisors curate; they and QA assign learning.
Curator = Annotated[Principal, Depends(require_roles(Role.trainer, Role.supervisor))]
Teacher = Annotated[Principal, Depends(require_roles(Role.trainer, Role.supervisor, Role.qa_analyst))]
Rechecker = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.trainer))]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description="the review's ETag: a change based on an older revision is refused (409), none at all (428)",
    ),
]
PlanIfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description="the plan's ETag (its revision): an edit based on an older one is refused (409), none (428)",
        examples=['"3"'],
    ),
]


def problems(*statuses: int) -> dict[int | str, dict[str, object]]:
    """Problem answers a route documents beside 401/403/422 (404 and 400 come by shape)."""
    texts = {
        404: "Not found",
        409: "Conflict: the object's state, an appeal's window or rounds, or a stale revision; `detail` says why",
        428: "If-Match required",
    }
    from callqa.http import PROBLEM_JSON, Problem

    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": texts[s]} for s in statuses}
