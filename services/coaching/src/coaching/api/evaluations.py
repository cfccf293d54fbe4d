"""/v1/evaluations: coaching's evaluations with their versions and timeline (agents: their own released
ones); acknowledgement and appeals by the agent; /v1/auto-scorer/agreement: humans vs the auto-scorer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Agent, DisputesDep, LedgerDep, Reader, Staff, problems
from coaching.ledger import EvaluationFilter, is_staff
from coaching.schemas import (
    AcknowledgementIn,
    AgreementOut,
    AppealIn,
    AppealOut,
    EvaluationOut,
    TimelineOut,
    VersionOut,
)

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"], responses=PROBLEM_RESPONSES)
agreement = APIRouter(prefix="/v1/auto-scorer", tags=["evaluations"], responses=PROBLEM_RESPONSES)
EvaluationId = Annotated[str, Path(max_length=36)]


def evaluation_out(ledger: LedgerDep, principal: Reader, evaluation_id: str) -> EvaluationOut:
    with ledger.db.session() as session:
        record = ledger.visible(session, principal, evaluation_id)
        released = ledger.released(session, record.id)
        if is_staff(principal):
            return EvaluationOut.of(
                record, ledger.latest(session, record.id, "auto"), ledger.latest(session, record.id, "human"), released
            )
        return EvaluationOut.of(record, None, None, released)


@router.get("", response_model=Page[EvaluationOut], summary="Search evaluations (newest call first)")
def list_evaluations(
    principal: Reader,
    ledger: LedgerDep,
    page: Annotated[PageParams, Depends(page_params)],
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    group: Annotated[PlainText | None, Query(max_length=100)] = None,
    queue: Annotated[PlainText | None, Query(max_length=100)] = None,
    scorecard_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    reviewed: bool | None = Query(None, description="has a human version"),
) -> Page[EvaluationOut]:
    where = EvaluationFilter(agent_id, group, queue, scorecard_id, started_from, started_to, reviewed)
    rows, total = ledger.search(principal, where, limit=page.limit, offset=page.offset)
    return Page[EvaluationOut].of([evaluation_out(ledger, principal, r.id) for r in rows], total, page)


@router.get(
    "/{evaluation_id}", response_model=EvaluationOut, summary="One evaluation: auto, human and released versions apart"
)
def get_evaluation(evaluation_id: EvaluationId, principal: Reader, ledger: LedgerDep) -> EvaluationOut:
    return evaluation_out(ledger, principal, evaluation_id)


@router.get(
    "/{evaluation_id}/versions",
    response_model=Page[VersionOut],
    summary="The chain of versions (agents: released ones)",
)
def list_versions(
    evaluation_id: EvaluationId, principal: Reader, ledger: LedgerDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[VersionOut]:
    rows, total = ledger.versions(principal, evaluation_id, limit=page.limit, offset=page.offset)
    return Page[VersionOut].of([VersionOut.of(v) for v in rows], total, page)


@router.get("/{evaluation_id}/timeline", response_model=Page[TimelineOut], summary="Who did what and when")
def timeline(
    evaluation_id: EvaluationId, principal: Reader, ledger: LedgerDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[TimelineOut]:
    rows, total = ledger.timeline(principal, evaluation_id, limit=page.limit, offset=page.offset)
    return Page[TimelineOut].of([TimelineOut.of(t) for t in rows], total, page)


@router.post(
    "/{evaluation_id}/acknowledgement",
    response_model=EvaluationOut,
    summary="The agent acknowledges the released evaluation (final: no appeal after it)",
    responses=problems(409),
)
def acknowledge(
    evaluation_id: EvaluationId, body: AcknowledgementIn, principal: Agent, disputes: DisputesDep, ledger: LedgerDep
) -> EvaluationOut:
    disputes.acknowledge(principal, evaluation_id, body.comment)
    return evaluation_out(ledger, principal, evaluation_id)


@router.post(
    "/{evaluation_id}/appeals",
    response_model=AppealOut,
    status_code=201,
    summary="The agent appeals items, each with a reason, within the window and the rounds",
    responses=problems(409),
)
def appeal(evaluation_id: EvaluationId, body: AppealIn, principal: Agent, disputes: DisputesDep) -> AppealOut:
    items = [(i.item_id, i.reason) for i in body.items]
    return AppealOut.of(disputes.appeal(principal, evaluation_id, items, body.comment))


@agreement.get(
    "/agreement",
    response_model=Page[AgreementOut],
    summary="Per scorecard item: how often human reviewers kept the automatic result",
)
def auto_scorer_agreement(
    _: Staff,
    ledger: LedgerDep,
    page: Annotated[PageParams, Depends(page_params)],
    scorecard_id: Annotated[PlainText | None, Query(max_length=100)] = None,
) -> Page[AgreementOut]:
    rows, total = ledger.agreement(scorecard_id, limit=page.limit, offset=page.offset)
    items = [
        AgreementOut(scorecard_id=s, item_id=i, reviewed=n, agreed=a, overridden=o, agreement=a / n if n else 0.0)
        for s, i, n, a, o in rows
    ]
    return Page[AgreementOut].of(items, total, page)
