"""/v1/report-runs: compute a report (frozen), read it, rerun it, download it (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from callqa.auth import Principal
from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, ProblemError, page_params
from reporting.api.deps import Reader, RunsDep, agent_only, allowed_groups
from reporting.periods import PeriodKind
from reporting.render import MEDIA_TYPES, Format
from reporting.reports import Definition, ReportType
from reporting.runs import confined_to
from reporting.schemas import ReportRequest, RunOut
from reporting.tables import ReportRun

router = APIRouter(prefix="/v1/report-runs", tags=["report runs"], responses=PROBLEM_RESPONSES)


FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "an agent's run about someone else, or groups outside the caller's"}
}


def readable(run: ReportRun, principal: Principal) -> ReportRun:
    if agent_only(principal) and run.agent_id != principal.subject:
        raise ProblemError(403, "Forbidden", "agents may only read reports about themselves")
    if principal.groups is not None:
        groups = confined_to(Definition.model_validate(run.definition))
        if groups is None or not set(groups) <= principal.groups:
            raise ProblemError(403, "Forbidden", "this run covers groups you may not see")
    return run


@router.post(
    "",
    response_model=RunOut,
    status_code=201,
    summary="Compute a report now and keep it (frozen)",
    responses={403: {"description": "a group filter outside the groups the caller may see"}},
)
def create_run(request: ReportRequest, principal: Reader, runs: RunsDep) -> RunOut:
    agent_id = principal.subject if agent_only(principal) else request.agent_id
    definition = runs.definition(
        request.kind,
        request.day,
        report=request.report,
        groups=allowed_groups(principal, request.group),
        time_zone=request.time_zone,
        group=request.group,
        queue=request.queue,
        agent_id=agent_id,
        scorecard_versions=request.scorecard_versions,
    )
    return RunOut.of(runs.run(definition, principal.subject))


@router.get(
    "",
    response_model=Page[RunOut],
    summary="Run history, newest first (results left out; readers limited to groups: runs confined to them)",
)
def list_runs(
    principal: Reader,
    runs: RunsDep,
    page: Annotated[PageParams, Depends(page_params)],
    kind: PeriodKind | None = None,
    report: ReportType | None = None,
    schedule_id: Annotated[PlainText | None, Query(max_length=36)] = None,
) -> Page[RunOut]:
    agent = principal.subject if agent_only(principal) else None
    groups = sorted(principal.groups) if principal.groups is not None else None
    found, total = runs.search(
        kind=kind,
        report=report,
        schedule_id=schedule_id,
        agent_id=agent,
        groups=groups,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[RunOut].of([RunOut.of(r, with_result=False) for r in found], total, page)


@router.get(
    "/{run_id}", response_model=RunOut, summary="One run with its frozen definition and result", responses=FORBIDDEN
)
def get_run(run_id: str, principal: Reader, runs: RunsDep) -> RunOut:
    return RunOut.of(readable(runs.get(run_id), principal))


@router.post(
    "/{run_id}/rerun",
    response_model=RunOut,
    status_code=201,
    summary="Compute a run's frozen definition again",
    responses=FORBIDDEN,
)
def rerun(run_id: str, principal: Reader, runs: RunsDep) -> RunOut:
    readable(runs.get(run_id), principal)
    return RunOut.of(runs.rerun(run_id, principal.subject))


@router.get(
    "/{run_id}/download",
    summary="The run as HTML (charts), CSV, XLSX or PDF; every download is audited",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES[f].split(";")[0]: {} for f in Format}}, **FORBIDDEN},
)
def download(run_id: str, principal: Reader, runs: RunsDep, format: Format = Format.html) -> Response:
    run = readable(runs.get(run_id), principal)
    content, media_type, name = runs.download(run, format, principal.subject, [r.value for r in principal.roles])
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})
