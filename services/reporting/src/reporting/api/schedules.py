"""/v1/schedules: daily, weekly and monthly runs in the site's time zone, e-mailed to recipients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, page_params
from reporting.api.deps import Planner, SchedulesDep
from reporting.schemas import ScheduleIn, ScheduleOut

router = APIRouter(prefix="/v1/schedules", tags=["schedules"], responses=PROBLEM_RESPONSES)


@router.post("", response_model=ScheduleOut, status_code=201, summary="Schedule a report")
def create_schedule(body: ScheduleIn, principal: Planner, schedules: SchedulesDep) -> ScheduleOut:
    schedule = schedules.create(
        name=body.name,
        kind=body.kind,
        at_time=body.at_time,
        filters=body.filters.model_dump(exclude_none=True),
        recipients=list(body.recipients),
        formats=list(body.formats),
        created_by=principal.subject,
    )
    return ScheduleOut.of(schedule)


@router.get("", response_model=Page[ScheduleOut], summary="Schedules")
def list_schedules(
    _principal: Planner, schedules: SchedulesDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[ScheduleOut]:
    found, total = schedules.search(page.limit, page.offset)
    return Page[ScheduleOut].of([ScheduleOut.of(s) for s in found], total, page)


@router.get("/{schedule_id}", response_model=ScheduleOut, summary="One schedule and its next run")
def get_schedule(schedule_id: str, _principal: Planner, schedules: SchedulesDep) -> ScheduleOut:
    return ScheduleOut.of(schedules.get(schedule_id))


@router.delete("/{schedule_id}", status_code=204, response_class=Response, summary="Stop a schedule")
def delete_schedule(schedule_id: str, _principal: Planner, schedules: SchedulesDep) -> Response:
    schedules.delete(schedule_id)
    return Response(status_code=204)
