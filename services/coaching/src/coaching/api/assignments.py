"""/v1/assignments: review assignments and the human review each holds (ETag / If-Match on changes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Analyst, AssignmentReader, IfMatch, ReviewsDep, Supervisor, problems
from coaching.reviews import etag
from coaching.schemas import (
    AssignmentIn,
    AssignmentOut,
    CancelIn,
    ReassignIn,
    ReviewIn,
    SubmitIn,
    VersionOut,
)

router = APIRouter(prefix="/v1/assignments", tags=["review"], responses=PROBLEM_RESPONSES)
AssignmentId = Annotated[str, Path(max_length=36)]
ETAG = {"ETag": {"description": "the review's revision, for If-Match", "schema": {"type": "string"}}}


class ReviewOut(BaseModel):
    """What a reviewer works on: the assignment (with the draft) and the automatic evaluation with its evidence."""

    assignment: AssignmentOut
    evaluation_id: str
    recording_id: str
    agent_id: str
    scorecard_id: str
    scorecard_version: int
    auto: VersionOut


class SubmittedOut(BaseModel):
    assignment: AssignmentOut
    version: VersionOut


def review_out(reviews: Any, assignment_id: str, response: Response) -> ReviewOut:
    assignment, record, auto = reviews.workspace(assignment_id)
    response.headers["ETag"] = etag(assignment)
    return ReviewOut(
        assignment=AssignmentOut.of(assignment),
        evaluation_id=record.id,
        recording_id=record.recording_id,
        agent_id=record.agent_id,
        scorecard_id=record.scorecard_id,
        scorecard_version=record.scorecard_version,
        auto=VersionOut.of(auto),
    )


OVERDUE = Query(description="true: open assignments past their due date; false: all others")


@router.get("", response_model=Page[AssignmentOut], summary="Assignments (due first)")
def list_assignments(
    _: AssignmentReader,
    reviews: ReviewsDep,
    page: Annotated[PageParams, Depends(page_params)],
    reviewer_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    status: Literal["pending", "in_review", "submitted", "cancelled"] | None = None,
    run_id: Annotated[PlainText | None, Query(max_length=36)] = None,
    evaluation_id: Annotated[PlainText | None, Query(max_length=36)] = None,
    overdue: Annotated[bool | None, OVERDUE] = None,
) -> Page[AssignmentOut]:
    rows, total = reviews.search(
        reviewer_id=reviewer_id,
        status=status,
        run_id=run_id,
        evaluation_id=evaluation_id,
        overdue=overdue,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[AssignmentOut].of([AssignmentOut.of(a) for a in rows], total, page)


@router.get(
    "/queue",
    response_model=Page[AssignmentOut],
    summary="My work queue: my open assignments, due first, each with `overdue` and its reminders",
)
def work_queue(
    principal: Analyst,
    reviews: ReviewsDep,
    page: Annotated[PageParams, Depends(page_params)],
    overdue: Annotated[bool | None, OVERDUE] = None,
) -> Page[AssignmentOut]:
    rows, total = reviews.search(
        reviewer_id=principal.subject,
        status=None,
        run_id=None,
        evaluation_id=None,
        overdue=overdue,
        open_only=True,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[AssignmentOut].of([AssignmentOut.of(a) for a in rows], total, page)


@router.post(
    "", response_model=AssignmentOut, status_code=201, summary="Assign a call for review", responses=problems(404, 409)
)
def create_assignment(body: AssignmentIn, principal: Supervisor, reviews: ReviewsDep) -> AssignmentOut:
    return AssignmentOut.of(reviews.assign(principal, body.evaluation_id, body.reviewer_id, body.due_at))


@router.get(
    "/{assignment_id}",
    response_model=ReviewOut,
    summary="An assignment with the automatic evaluation",
    responses={200: {"headers": ETAG}},
)
def get_assignment(
    assignment_id: AssignmentId, _: AssignmentReader, reviews: ReviewsDep, response: Response
) -> ReviewOut:
    return review_out(reviews, assignment_id, response)


@router.post(
    "/{assignment_id}/open",
    response_model=ReviewOut,
    summary="Start the review (pending -> in_review); the reviewer only",
    responses=problems(409) | {200: {"headers": ETAG}},
)
def open_review(assignment_id: AssignmentId, principal: Analyst, reviews: ReviewsDep, response: Response) -> ReviewOut:
    reviews.open(principal, assignment_id)
    return review_out(reviews, assignment_id, response)


@router.put(
    "/{assignment_id}/review",
    response_model=ReviewOut,
    summary="Save the draft: confirm or override items (a reason for each override), notes",
    responses=problems(409, 428) | {200: {"headers": ETAG}},
)
def save_review(
    assignment_id: AssignmentId,
    body: ReviewIn,
    principal: Analyst,
    reviews: ReviewsDep,
    response: Response,
    if_match: IfMatch = None,
) -> ReviewOut:
    decisions = [d.decision_() for d in body.items]
    reviews.save(principal, assignment_id, if_match, decisions, body.notes)
    return review_out(reviews, assignment_id, response)


@router.post(
    "/{assignment_id}/submit",
    response_model=SubmittedOut,
    summary="Submit: a new human version of the evaluation, released on submit or at `release_at`",
    responses=problems(409, 428),
)
def submit_review(
    assignment_id: AssignmentId, body: SubmitIn, principal: Analyst, reviews: ReviewsDep, if_match: IfMatch = None
) -> SubmittedOut:
    decisions = [d.decision_() for d in body.items] if body.items is not None else None
    assignment, version = reviews.submit(principal, assignment_id, if_match, decisions, body.notes, body.release_at)
    return SubmittedOut(assignment=AssignmentOut.of(assignment), version=VersionOut.of(version))


@router.post(
    "/{assignment_id}/reassign",
    response_model=AssignmentOut,
    summary="Give it to another reviewer (an overdue one gets a new due date); counted and on the timeline",
    responses=problems(404, 409),
)
def reassign(
    assignment_id: AssignmentId, body: ReassignIn, principal: Supervisor, reviews: ReviewsDep
) -> AssignmentOut:
    return AssignmentOut.of(reviews.reassign(principal, assignment_id, body.reviewer_id, body.reason, body.due_at))


@router.post(
    "/{assignment_id}/cancel",
    response_model=AssignmentOut,
    summary="Cancel an open assignment",
    responses=problems(409),
)
def cancel(assignment_id: AssignmentId, body: CancelIn, principal: Supervisor, reviews: ReviewsDep) -> AssignmentOut:
    return AssignmentOut.of(reviews.cancel(principal, assignment_id, body.reason))
