"""/v1/monitoring-detail: the daily monitoring detail, every evaluated call of a day, paged."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from reporting.api.deps import Reader, RunsDep, StoreDep, agent_only, allowed_groups
from reporting.reports import case_of
from reporting.schemas import MonitoredCall
from reporting.store import Scope

router = APIRouter(prefix="/v1/monitoring-detail", tags=["monitoring detail"], responses=PROBLEM_RESPONSES)


@router.get(
    "",
    response_model=Page[MonitoredCall],
    summary="Evaluated calls of one local day (agents: their own; readers limited to groups: those groups)",
    responses={403: {"description": "a group filter outside the groups the caller may see"}},
)
def monitoring_detail(
    principal: Reader,
    store: StoreDep,
    runs: RunsDep,
    page: Annotated[PageParams, Depends(page_params)],
    day: Annotated[date | None, Query(description="local day in the site's time zone; default: yesterday")] = None,
    group: Annotated[PlainText | None, Query(max_length=100)] = None,
    queue: Annotated[PlainText | None, Query(max_length=100)] = None,
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
) -> Page[MonitoredCall]:
    if agent_only(principal):
        agent_id = principal.subject
    groups = allowed_groups(principal, group)
    if day is None:
        day = datetime.now(runs.zone).date() - timedelta(days=1)
    scope = Scope(
        first=day,
        last=day,
        group=group,
        queue=queue,
        agent_id=agent_id,
        groups=tuple(groups) if groups is not None else None,
    )
    found, total = store.evaluations(scope, limit=page.limit, offset=page.offset)
    return Page[MonitoredCall].of([MonitoredCall.model_validate(case_of(e)) for e in found], total, page)
