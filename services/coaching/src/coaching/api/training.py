"""/v1/training-requests: common problems sent to the trainers, delivered, and re-checked after training."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Analyst, Rechecker, Staff, Trainer, TrainingDep, problems
from coaching.schemas import (
    DeliveredIn,
    RecheckIn,
    ScheduleIn,
    TrainingRequestIn,
    TrainingRequestOut,
)

router = APIRouter(prefix="/v1/training-requests", tags=["training"], responses=PROBLEM_RESPONSES)
RequestId = Annotated[str, Path(max_length=36)]


class RecheckOut(BaseModel):
    request: TrainingRequestOut
    review_assignments: list[str]


@router.post(
    "",
    response_model=TrainingRequestOut,
    status_code=201,
    summary="Request training for a common problem (from an analysis, or by hand)",
)
def request_training(body: TrainingRequestIn, principal: Analyst, training: TrainingDep) -> TrainingRequestOut:
    return TrainingRequestOut.of(
        training.create(principal, **body.model_dump(exclude_unset=False))  # every field is a keyword
    )


@router.get("", response_model=Page[TrainingRequestOut], summary="Training requests, newest first")
def list_requests(
    _: Staff,
    training: TrainingDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["requested", "scheduled", "delivered", "verified"] | None = None,
    group: Annotated[PlainText | None, Query(max_length=100)] = None,
    trainer_id: Annotated[PlainText | None, Query(max_length=200)] = None,
) -> Page[TrainingRequestOut]:
    rows, total = training.search(
        status=status, group=group, trainer_id=trainer_id, limit=page.limit, offset=page.offset
    )
    return Page[TrainingRequestOut].of([TrainingRequestOut.of(r) for r in rows], total, page)


@router.get("/{request_id}", response_model=TrainingRequestOut, summary="One training request")
def get_request(request_id: RequestId, _: Staff, training: TrainingDep) -> TrainingRequestOut:
    return TrainingRequestOut.of(training.get(request_id))


@router.post(
    "/{request_id}/schedule", response_model=TrainingRequestOut, summary="Schedule it", responses=problems(409)
)
def schedule(request_id: RequestId, body: ScheduleIn, principal: Trainer, training: TrainingDep) -> TrainingRequestOut:
    return TrainingRequestOut.of(training.schedule(principal, request_id, body.at))


@router.post(
    "/{request_id}/delivered",
    response_model=TrainingRequestOut,
    summary="The training was delivered: the re-check window starts",
    responses=problems(409),
)
def delivered(
    request_id: RequestId, body: DeliveredIn, principal: Trainer, training: TrainingDep
) -> TrainingRequestOut:
    return TrainingRequestOut.of(training.deliver(principal, request_id, body.at))


@router.post(
    "/{request_id}/recheck",
    response_model=RecheckOut,
    summary="Re-check the group's rate after training (verified), and add calls to human review",
    responses=problems(409),
)
def recheck(request_id: RequestId, body: RecheckIn, principal: Rechecker, training: TrainingDep) -> RecheckOut:
    request, assignments = training.recheck(
        principal, request_id, review_calls=body.review_calls, reviewers=list(body.reviewers), seed=body.seed
    )
    return RecheckOut(request=TrainingRequestOut.of(request), review_assignments=[a.id for a in assignments])
