"""/v1/evaluations: stored evaluations with their evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from callqa.auth import Principal, Role
from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, ProblemError, page_params
from scorer.api.deps import Reader, ScorerDep
from scorer.evaluations import CallFilter
from scorer.tables import EvaluationRecord

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"], responses=PROBLEM_RESPONSES)
STAFF = {Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.admin}


class EvaluationOut(BaseModel):
    id: str
    recording_id: str
    agent_id: str
    group: str | None
    queue: str | None
    started_at: datetime
    scorecard_id: str
    scorecard_version: int
    transcript_version: str
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool
    items: list[dict[str, Any]]
    evidence_purged: bool
    created_at: datetime

    @classmethod
    def of(cls, r: EvaluationRecord) -> EvaluationOut:
        return cls.model_validate(r, from_attributes=True)


def agent_only(principal: Principal) -> bool:
    return not principal.roles & STAFF


@router.get("/{evaluation_id}", response_model=EvaluationOut, summary="One evaluation, with evidence per item")
def get_evaluation(evaluation_id: str, principal: Reader, scorer: ScorerDep) -> EvaluationOut:
    record = scorer.get(evaluation_id)
    if agent_only(principal) and record.agent_id != principal.subject:
        raise ProblemError(403, "Forbidden", "agents may only read their own evaluations")
    return EvaluationOut.of(record)


@router.get("", response_model=Page[EvaluationOut], summary="Search evaluations (newest call first)")
def list_evaluations(
    principal: Reader,
    scorer: ScorerDep,
    page: Annotated[PageParams, Depends(page_params)],
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    group: Annotated[PlainText | None, Query(max_length=100)] = None,
    queue: Annotated[PlainText | None, Query(max_length=100)] = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    passed: bool | None = None,
    scorecard_id: Annotated[PlainText | None, Query(max_length=100)] = None,
) -> Page[EvaluationOut]:
    if agent_only(principal):
        agent_id = principal.subject
    where = CallFilter(started_from=started_from, started_to=started_to, agent_id=agent_id, group=group, queue=queue)
    rows, total = scorer.search(where, passed=passed, scorecard_id=scorecard_id, limit=page.limit, offset=page.offset)
    return Page[EvaluationOut].of([EvaluationOut.of(r) for r in rows], total, page)
