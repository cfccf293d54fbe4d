"""/v1/problem-analyses: common and individual problems of a period and scope, with their statistics."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, page_params
from coaching.api.deps import AnalysesDep, Analyst, Staff
from coaching.errors import Invalid
from coaching.observations import Scope
from coaching.schemas import AnalysisIn, AnalysisOut

router = APIRouter(prefix="/v1/problem-analyses", tags=["problems"], responses=PROBLEM_RESPONSES)
AnalysisId = Annotated[str, Path(max_length=36)]
MAX_PERIOD = timedelta(days=3 * 366)


@router.post(
    "",
    response_model=AnalysisOut,
    status_code=201,
    summary="Analyse a period: failure rates per item, group and agent; common and individual problems, ranked",
)
def run_analysis(body: AnalysisIn, principal: Analyst, analyses: AnalysesDep) -> AnalysisOut:
    if body.period_end <= body.period_start:
        raise Invalid("the period ends after it starts", "period_end")
    if body.period_end - body.period_start > MAX_PERIOD:
        raise Invalid(f"a period is at most {MAX_PERIOD.days} days", "period_end")
    scope = Scope(groups=body.groups, queues=body.queues, agents=body.agents, scorecard_id=body.scorecard_id)
    analysis = analyses.run(
        principal,
        start=body.period_start,
        end=body.period_end,
        scope=scope,
        source=body.source,
        params=body.params,
    )
    return AnalysisOut.of(analysis)


@router.get("", response_model=Page[AnalysisOut], summary="Analyses, newest first")
def list_analyses(
    _: Staff, analyses: AnalysesDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[AnalysisOut]:
    rows, total = analyses.search(limit=page.limit, offset=page.offset)
    return Page[AnalysisOut].of([AnalysisOut.of(a) for a in rows], total, page)


@router.get("/{analysis_id}", response_model=AnalysisOut, summary="One analysis")
def get_analysis(analysis_id: AnalysisId, _: Staff, analyses: AnalysesDep) -> AnalysisOut:
    return AnalysisOut.of(analyses.get(analysis_id))
