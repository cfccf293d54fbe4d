"""/v1/improvement-plans: plans for individual problems (agents: their own), their follow-up and verdict."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Agent, Analyst, ImprovementDep, PlanIfMatch, Reader, problems
from coaching.errors import Invalid, etag_of
from coaching.improvement import PlanFields
from coaching.schemas import (
    CancelIn,
    CheckInDoneIn,
    CheckInOut,
    CoachedIn,
    ImprovementPlanIn,
    ImprovementPlanOut,
    PlanAcknowledgementIn,
    PlanFieldsIn,
    PlanReassignIn,
)

router = APIRouter(prefix="/v1/improvement-plans", tags=["improvement plans"], responses=PROBLEM_RESPONSES)
PlanId = Annotated[str, Path(max_length=36)]
ETAG = {"ETag": {"description": "the plan's revision, for If-Match on an edit", "schema": {"type": "string"}}}
WITH_ETAG: dict[int | str, dict[str, Any]] = {200: {"headers": ETAG}}


def tagged(plan: Any, response: Response) -> ImprovementPlanOut:
    response.headers["ETag"] = etag_of(plan.revision)
    return ImprovementPlanOut.of(plan)


Status = Literal["draft", "active", "in_follow_up", "closed", "cancelled", "expired"]


def fields_of(body: PlanFieldsIn) -> PlanFields:
    values = body.model_dump(exclude_unset=True, exclude={"analysis_id", "problem_id"})
    return PlanFields(**values)


@router.post(
    "",
    response_model=ImprovementPlanOut,
    status_code=201,
    summary="Create a draft plan, or propose one from an analysis' individual problem",
)
def create_plan(body: ImprovementPlanIn, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    fields = fields_of(body)
    if body.analysis_id is not None:
        if body.problem_id is None:
            raise Invalid("name the analysis' problem", "problem_id")
        return ImprovementPlanOut.of(plans.propose(principal, body.analysis_id, body.problem_id, fields))
    return ImprovementPlanOut.of(plans.create(principal, fields))


@router.get("", response_model=Page[ImprovementPlanOut], summary="Plans, newest first (agents: their own)")
def list_plans(
    principal: Reader,
    plans: ImprovementDep,
    page: Annotated[PageParams, Depends(page_params)],
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    coach_id: Annotated[PlainText | None, Query(max_length=200)] = None,
    status: Status | None = None,
) -> Page[ImprovementPlanOut]:
    rows, total = plans.search(
        principal, agent_id=agent_id, coach_id=coach_id, status=status, limit=page.limit, offset=page.offset
    )
    return Page[ImprovementPlanOut].of([ImprovementPlanOut.of(p) for p in rows], total, page)


@router.get(
    "/{plan_id}", response_model=ImprovementPlanOut, summary="One plan (agents: their own)", responses=WITH_ETAG
)
def get_plan(plan_id: PlanId, principal: Reader, plans: ImprovementDep, response: Response) -> ImprovementPlanOut:
    return tagged(plans.get(principal, plan_id), response)


@router.put(
    "/{plan_id}",
    response_model=ImprovementPlanOut,
    summary="Edit a draft or active plan, with If-Match (the plan's ETag): stale 409, none 428",
    responses=problems(404, 409, 428) | WITH_ETAG,
)
def edit_plan(
    plan_id: PlanId,
    body: PlanFieldsIn,
    principal: Analyst,
    plans: ImprovementDep,
    response: Response,
    if_match: PlanIfMatch = None,
) -> ImprovementPlanOut:
    return tagged(plans.edit(principal, plan_id, fields_of(body), if_match), response)


@router.get(
    "/{plan_id}/check-ins",
    response_model=Page[CheckInOut],
    summary="The plan's check-ins (every `follow_up_every_days`, made by the periodic task), oldest first",
)
def list_check_ins(
    plan_id: PlanId,
    principal: Reader,
    plans: ImprovementDep,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[CheckInOut]:
    rows, total = plans.check_ins(principal, plan_id, limit=page.limit, offset=page.offset)
    return Page[CheckInOut].of([CheckInOut.of(c) for c in rows], total, page)


@router.post(
    "/{plan_id}/check-ins/{number}/done",
    response_model=CheckInOut,
    summary="The coach held the check-in: notes (activity: the plan is not idle)",
    responses=problems(404, 409),
)
def check_in_done(
    plan_id: PlanId,
    number: Annotated[int, Path(ge=1, le=100_000)],
    body: CheckInDoneIn,
    principal: Analyst,
    plans: ImprovementDep,
) -> CheckInOut:
    return CheckInOut.of(plans.check_in_done(principal, plan_id, number, body.notes))


@router.post(
    "/{plan_id}/activate", response_model=ImprovementPlanOut, summary="draft -> active", responses=problems(409)
)
def activate(plan_id: PlanId, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.activate(principal, plan_id))


@router.post(
    "/{plan_id}/coached",
    response_model=ImprovementPlanOut,
    summary="Coaching happened: active -> in_follow_up; the before and after windows are counted from it",
    responses=problems(409),
)
def coached(plan_id: PlanId, body: CoachedIn, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.coached(principal, plan_id, body.at))


@router.post(
    "/{plan_id}/follow-up",
    response_model=ImprovementPlanOut,
    summary="Close a plan whose window ended with its verdict, or run its due recurrence check",
    responses=problems(409),
)
def follow_up(plan_id: PlanId, _: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.check(plan_id))


@router.post(
    "/{plan_id}/acknowledgement",
    response_model=ImprovementPlanOut,
    summary="The plan's agent acknowledges it",
    responses=problems(409),
)
def acknowledge(
    plan_id: PlanId, body: PlanAcknowledgementIn, principal: Agent, plans: ImprovementDep
) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.acknowledge(principal, plan_id, body.comment))


@router.post(
    "/{plan_id}/reminders", response_model=ImprovementPlanOut, summary="Remind (counted)", responses=problems(409)
)
def remind(plan_id: PlanId, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.remind(principal, plan_id))


@router.post(
    "/{plan_id}/reassign",
    response_model=ImprovementPlanOut,
    summary="Give the plan to another coach (counted)",
    responses=problems(409),
)
def reassign(plan_id: PlanId, body: PlanReassignIn, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.reassign(principal, plan_id, body.coach_id))


@router.post("/{plan_id}/cancel", response_model=ImprovementPlanOut, summary="Cancel", responses=problems(409))
def cancel(plan_id: PlanId, body: CancelIn, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.cancel(principal, plan_id, body.reason))
