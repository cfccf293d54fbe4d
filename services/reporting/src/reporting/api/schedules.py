"""/v1/schedules: daily, weekly and monthly runs in the site's time zone, e-mailed to recipients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from callqa.auth import Principal
from callqa.http import PROBLEM_RESPONSES, Page, PageParams, ProblemError, page_params
from reporting.api.deps import Planner, SchedulesDep, allowed_groups
from reporting.schemas import ScheduleIn, ScheduleOut
from reporting.tables import Schedule

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "a schedule of someone else, for a caller limited to some groups"}
}


def own(schedule: Schedule, principal: Principal) -> Schedule:
    """A planner limited to some groups sees only the schedules it made (others may cover other groups)."""
    if principal.groups is not None and schedule.created_by != principal.subject:
        raise ProblemError(403, "Forbidden", "this schedule was made by someone else")
    return schedule


router = APIRouter(prefix="/v1/schedules", tags=["schedules"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    response_model=ScheduleOut,
    status_code=201,
    summary="Schedule a report (its runs are confined to the groups the caller may see)",
    responses={403: {"description": "a group filter outside the groups the caller may see"}},
)
def create_schedule(body: ScheduleIn, principal: Planner, schedules: SchedulesDep) -> ScheduleOut:
    filters: dict[str, object] = body.filters.model_dump(exclude_none=True) | {"report": body.report.value}
    groups = allowed_groups(principal, body.filters.group)
    if groups is not None:
        filters["groups"] = groups
    schedule = schedules.create(
        name=body.name,
        kind=body.kind,
        at_time=body.at_time,
        filters=filters,
        recipients=list(body.recipients),
        formats=list(body.formats),
        created_by=principal.subject,
    )
    return ScheduleOut.of(schedule)


@router.get("", response_model=Page[ScheduleOut], summary="Schedules")
def list_schedules(
    principal: Planner, schedules: SchedulesDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[ScheduleOut]:
    mine = principal.subject if principal.groups is not None else None
    found, total = schedules.search(page.limit, page.offset, created_by=mine)
    return Page[ScheduleOut].of([ScheduleOut.of(s) for s in found], total, page)


@router.get("/{schedule_id}", response_model=ScheduleOut, summary="One schedule and its next run", responses=FORBIDDEN)
def get_schedule(schedule_id: str, principal: Planner, schedules: SchedulesDep) -> ScheduleOut:
    return ScheduleOut.of(own(schedules.get(schedule_id), principal))


@router.delete(
    "/{schedule_id}", status_code=204, response_class=Response, summary="Stop a schedule", responses=FORBIDDEN
)
def delete_schedule(schedule_id: str, principal: Planner, schedules: SchedulesDep) -> Response:
    own(schedules.get(schedule_id), principal)
    schedules.delete(schedule_id)
    return Response(status_code=204)
