"""/v1/improvement-plans: plans for individual problems (agents: their own), their follow-up and verdict."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Agent, Analyst, ImprovementDep, Reader, problems
from coaching.errors import Invalid
from coaching.improvement import PlanFields
from coaching.schemas import (
    CancelIn,
    CoachedIn,
    ImprovementPlanIn,
    ImprovementPlanOut,
    PlanAcknowledgementIn,
    PlanFieldsIn,
    PlanReassignIn,
)

router = APIRouter(prefix="/v1/improvement-plans", tags=["improvement plans"], responses=PROBLEM_RESPONSES)
PlanId = Annotated[str, Path(max_length=36)]
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


@router.get("/{plan_id}", response_model=ImprovementPlanOut, summary="One plan (agents: their own)")
def get_plan(plan_id: PlanId, principal: Reader, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.get(principal, plan_id))


@router.put(
    "/{plan_id}", response_model=ImprovementPlanOut, summary="Edit a draft or active plan", responses=problems(409)
)
def edit_plan(plan_id: PlanId, body: PlanFieldsIn, principal: Analyst, plans: ImprovementDep) -> ImprovementPlanOut:
    return ImprovementPlanOut.of(plans.edit(principal, plan_id, fields_of(body)))


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
