"""Reports: run one, the dashboard of a run (figures and charts drawn from its frozen result), and the reporting
service's downloads (audited there, as the signed-in user)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.web import Checked, SignedIn, UpstreamDep, render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/reports")
async def reports(request: Request, user: SignedIn, upstream: UpstreamDep) -> Response:
    runs = await upstream.get(user, "reporting", "/v1/report-runs", limit=50)
    return render(request, "reports.html", user, runs=runs["items"])


@router.post("/reports")
async def run_report(
    user: Checked,
    upstream: UpstreamDep,
    kind: Annotated[Literal["daily", "weekly", "monthly"], Form()],
    day: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    body = {"kind": kind, "day": day or None}
    if not user.is_staff:
        body["agent_id"] = user.subject  # agents report on themselves
    run = await upstream.send(user, "POST", "reporting", "/v1/report-runs", body)
    return see_other(f"/reports/{run['id']}")


@router.get("/reports/{run_id}")
async def dashboard(request: Request, run_id: str, user: SignedIn, upstream: UpstreamDep) -> Response:
    run = await upstream.get(user, "reporting", f"/v1/report-runs/{run_id}")
    return render(request, "report.html", user, run=run, result=run.get("result") or {})


@router.get("/reports/{run_id}/download")
async def download(
    run_id: str, user: SignedIn, upstream: UpstreamDep, format: Literal["html", "csv", "xlsx", "pdf"] = "pdf"
) -> Response:
    answer = await upstream.call(
        user, "GET", "reporting", f"/v1/report-runs/{run_id}/download", params={"format": format}
    )
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "content-disposition"}
    return Response(answer.content, media_type=answer.headers.get("content-type"), headers=headers)
