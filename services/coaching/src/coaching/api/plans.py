"""/v1/sampling-plans: versioned sampling plans and their runs; /v1/quota: seed 004's quota calculator."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from callqa.events import utcnow
from callqa.http import MAX_INT, PROBLEM_RESPONSES, Page, PageParams, page_params
from coaching.api.deps import Analyst, PlansDep, Staff, problems
from coaching.sampling import PlanDocument, Reviewer, Scope
from coaching.schemas import PlanIn, PlanOut, QuotaIn, QuotaOut, RunIn, RunOut

router = APIRouter(prefix="/v1/sampling-plans", tags=["sampling"], responses=PROBLEM_RESPONSES)
quota = APIRouter(prefix="/v1/quota", tags=["sampling"], responses=PROBLEM_RESPONSES)
PlanId = Annotated[str, Path(max_length=100)]


@router.post(
    "", response_model=PlanOut, status_code=201, summary="Create a sampling plan (version 1)", responses=problems(409)
)
def create_plan(body: PlanIn, principal: Analyst, plans: PlansDep) -> PlanOut:
    document = PlanDocument.model_validate(body.model_dump(exclude={"plan_id"}))
    return PlanOut.of(plans.create(principal, body.plan_id, document))


@router.get("", response_model=Page[PlanOut], summary="Sampling plans (latest version of each)")
def list_plans(_: Staff, plans: PlansDep, page: Annotated[PageParams, Depends(page_params)]) -> Page[PlanOut]:
    rows, total = plans.search(limit=page.limit, offset=page.offset)
    return Page[PlanOut].of([PlanOut.of(p) for p in rows], total, page)


@router.get("/{plan_id}", response_model=PlanOut, summary="The latest version of a plan")
def get_plan(plan_id: PlanId, _: Staff, plans: PlansDep) -> PlanOut:
    return PlanOut.of(plans.get(plan_id))


@router.put("/{plan_id}", response_model=PlanOut, summary="Edit a plan: a new version; runs keep theirs")
def revise_plan(plan_id: PlanId, body: PlanDocument, principal: Analyst, plans: PlansDep) -> PlanOut:
    return PlanOut.of(plans.revise(principal, plan_id, body))


@router.get("/{plan_id}/versions", response_model=Page[PlanOut], summary="Every version of a plan")
def plan_versions(
    plan_id: PlanId, _: Staff, plans: PlansDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[PlanOut]:
    rows, total = plans.versions(plan_id, limit=page.limit, offset=page.offset)
    return Page[PlanOut].of([PlanOut.of(p) for p in rows], total, page)


@router.get("/{plan_id}/versions/{version}", response_model=PlanOut, summary="One version of a plan")
def plan_version(
    plan_id: PlanId, version: Annotated[int, Path(ge=1, le=MAX_INT)], _: Staff, plans: PlansDep
) -> PlanOut:
    return PlanOut.of(plans.get(plan_id, version))


@router.post(
    "/{plan_id}/runs",
    response_model=RunOut,
    status_code=201,
    summary="Run the plan: draw the calls (seeded, auditable) and assign them to reviewers",
    responses=problems(409),
)
def run_plan(plan_id: PlanId, body: RunIn, principal: Analyst, plans: PlansDep) -> RunOut:
    reviewers = [Reviewer(r.id, r.capacity) for r in body.reviewers]
    run = plans.run(principal, plan_id, on=body.on, seed=body.seed, reviewers=reviewers, plan_version=body.plan_version)
    return RunOut.of(run)


@quota.post(
    "", response_model=QuotaOut, summary="Daily review capacity: staff × hours × 3600 ÷ (handle time + overhead)"
)
def compute_quota(body: QuotaIn, _: Analyst, plans: PlansDep) -> QuotaOut:
    end = body.observed_to or utcnow()
    start = body.observed_from or end - timedelta(days=7)
    scope = Scope(groups=[body.group] if body.group else [], queues=[body.queue] if body.queue else [])
    from coaching.sampling import QuotaInput

    found = plans.quota(
        QuotaInput(
            qa_staff=body.qa_staff,
            effective_hours=body.effective_hours,
            review_overhead_s=body.review_overhead_s,
            average_handle_time_s=body.average_handle_time_s,
        ),
        scope,
        start,
        end,
    )
    return QuotaOut(
        daily_capacity=found.daily_capacity,
        average_handle_time_s=found.average_handle_time_s,
        review_overhead_s=found.review_overhead_s,
        observed_calls=found.observed_calls,
    )
