"""/v1/scheduled-tasks: the periodic tasks' record (when each last ran, what it did, when it runs next)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from callqa.http import PROBLEM_RESPONSES
from coaching.api.deps import TaskReader
from coaching.scheduler import Scheduler
from coaching.schemas import ScheduledTaskOut

router = APIRouter(prefix="/v1/scheduled-tasks", tags=["scheduled tasks"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=list[ScheduledTaskOut], summary="The periodic tasks and their last runs")
def list_tasks(_: TaskReader, request: Request) -> list[ScheduledTaskOut]:
    scheduler: Scheduler = request.app.state.scheduler
    return [ScheduledTaskOut.of(t) for t in scheduler.status()]
