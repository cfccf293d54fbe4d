"""Reports: run one (period and filters), the dashboard of a run (figures and charts drawn on the server as SVG from
its frozen result: pass-rate trend with the forecast and its interval, pass rate per group, A/B/C problem counts, most
failed items, automatic vs human scores), and the reporting service's downloads (audited there, as the signed-in
user)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.charts import bar_chart, trend_chart
from console.upstream import UpstreamError
from console.web import Checked, SignedIn, UpstreamDep, render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/reports")
async def reports(request: Request, user: SignedIn, upstream: UpstreamDep) -> Response:
    runs = await upstream.get(user, "reporting", "/v1/report-runs", limit=50)
    return render(request, "reports.html", user, runs=runs["items"], errors=[], form={})


@router.post("/reports")
async def run_report(
    request: Request,
    user: Checked,
    upstream: UpstreamDep,
    kind: Annotated[Literal["daily", "weekly", "monthly"], Form()],
    day: Annotated[str, Form(max_length=10)] = "",
    group: Annotated[str, Form(max_length=100)] = "",
    queue: Annotated[str, Form(max_length=100)] = "",
    agent: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    body = {
        "kind": kind,
        "day": day or None,
        "group": group.strip() or None,
        "queue": queue.strip() or None,
        # Agents report on themselves (reporting would refuse anyone else).
        "agent_id": (agent.strip() or None) if user.is_staff else user.subject,
    }
    try:
        run = await upstream.send(user, "POST", "reporting", "/v1/report-runs", body)
    except UpstreamError as exc:
        if exc.status != 422:
            raise
        # The reporting service names the field at fault: shown beside the form, the filters kept.
        runs = await upstream.get(user, "reporting", "/v1/report-runs", limit=50)
        return render(
            request,
            "reports.html",
            user,
            422,
            runs=runs["items"],
            errors=exc.field_errors or [{"field": "", "message": str(exc)}],
            form=body,
        )
    return see_other(f"/reports/{run['id']}")


def charts(result: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's charts from a run's frozen result (the reporting service's JSON, read as it is)."""
    summary = result.get("summary") or {}
    problems = summary.get("problems") or {}

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.1f}%"

    groups = result.get("groups") or []
    items = result.get("top_failed_items") or []
    sources = summary.get("by_source") or {}
    return {
        "trend": trend_chart(result.get("trend") or [], result.get("forecast")),
        "groups": bar_chart(
            [
                (g.get("group") or "—", g.get("pass_rate") or 0.0, f"{pct(g.get('pass_rate'))} ({g.get('calls', 0)})")
                for g in groups
            ],
            maximum=1.0,
        ),
        "problems": bar_chart([(s, float(problems.get(s, 0)), str(problems.get(s, 0))) for s in ("A", "B", "C")]),
        "items": bar_chart(
            [
                (
                    f"{i.get('section')}/{i.get('item_id')}",
                    float(i.get("failed", 0)),
                    f"{i.get('failed', 0)} ({pct(i.get('failure_rate'))})",
                )
                for i in items
            ]
        ),
        "sources": bar_chart([(s, float(sources.get(s, 0)), str(sources.get(s, 0))) for s in ("auto", "human")]),
    }


@router.get("/reports/{run_id}")
async def dashboard(request: Request, run_id: str, user: SignedIn, upstream: UpstreamDep) -> Response:
    run = await upstream.get(user, "reporting", f"/v1/report-runs/{run_id}")
    result = run.get("result") or {}
    return render(request, "report.html", user, run=run, result=result, charts=charts(result))


@router.get("/reports/{run_id}/download")
async def download(
    run_id: str, user: SignedIn, upstream: UpstreamDep, format: Literal["html", "csv", "xlsx", "pdf"] = "pdf"
) -> Response:
    answer = await upstream.call(
        user, "GET", "reporting", f"/v1/report-runs/{run_id}/download", params={"format": format}
    )
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "content-disposition"}
    return Response(answer.content, media_type=answer.headers.get("content-type"), headers=headers)
