"""/v1/appeals: open and resolved appeals (agents: their own), and their resolution item by item."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Analyst, AppealReader, DisputesDep, problems
from coaching.schemas import AppealOut, ResolveIn, VersionOut

router = APIRouter(prefix="/v1/appeals", tags=["appeals"], responses=PROBLEM_RESPONSES)
AppealId = Annotated[str, Path(max_length=36)]


class ResolvedOut(BaseModel):
    appeal: AppealOut
    version: VersionOut | None  # the new version, null when every item was upheld


@router.get("", response_model=Page[AppealOut], summary="Appeals, oldest first (agents: their own)")
def list_appeals(
    principal: AppealReader,
    disputes: DisputesDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["open", "resolved"] | None = None,
    assignee: Annotated[PlainText | None, Query(max_length=100)] = None,
    evaluation_id: Annotated[PlainText | None, Query(max_length=36)] = None,
) -> Page[AppealOut]:
    rows, total = disputes.search(
        principal, status=status, assignee=assignee, evaluation_id=evaluation_id, limit=page.limit, offset=page.offset
    )
    return Page[AppealOut].of([AppealOut.of(a) for a in rows], total, page)


@router.get("/{appeal_id}", response_model=AppealOut, summary="One appeal")
def get_appeal(appeal_id: AppealId, principal: AppealReader, disputes: DisputesDep) -> AppealOut:
    return AppealOut.of(disputes.get(principal, appeal_id))


@router.post(
    "/{appeal_id}/resolution",
    response_model=ResolvedOut,
    summary="Resolve every appealed item: upheld, overturned or adjusted, each with a reason",
    responses=problems(409),
)
def resolve(appeal_id: AppealId, body: ResolveIn, principal: Analyst, disputes: DisputesDep) -> ResolvedOut:
    appeal, version = disputes.resolve(principal, appeal_id, [r.resolution() for r in body.items])
    return ResolvedOut(appeal=AppealOut.of(appeal), version=VersionOut.of(version) if version else None)
