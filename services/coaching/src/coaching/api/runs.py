"""/v1/sampling-runs: what each run drew, from how many calls, with which seed, and why each call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import PlansDep, Staff
from coaching.schemas import PickOut, RunOut

router = APIRouter(prefix="/v1/sampling-runs", tags=["sampling"], responses=PROBLEM_RESPONSES)
RunId = Annotated[str, Path(max_length=36)]


@router.get("", response_model=Page[RunOut], summary="Sampling runs, newest first")
def list_runs(
    _: Staff,
    plans: PlansDep,
    page: Annotated[PageParams, Depends(page_params)],
    plan_id: Annotated[PlainText | None, Query(max_length=100)] = None,
) -> Page[RunOut]:
    rows, total = plans.runs(plan_id, limit=page.limit, offset=page.offset)
    return Page[RunOut].of([RunOut.of(r) for r in rows], total, page)


@router.get("/{run_id}", response_model=RunOut, summary="One run: plan version, seed, population, size")
def get_run(run_id: RunId, _: Staff, plans: PlansDep) -> RunOut:
    return RunOut.of(plans.get_run(run_id))


@router.get("/{run_id}/picks", response_model=Page[PickOut], summary="Every pick of a run with its reason")
def run_picks(
    run_id: RunId, _: Staff, plans: PlansDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[PickOut]:
    rows, total = plans.picks(run_id, limit=page.limit, offset=page.offset)
    return Page[PickOut].of([PickOut.of(p) for p in rows], total, page)
