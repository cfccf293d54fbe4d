"""Work queues: my review assignments with due dates, my calibration sessions, appeals waiting for me (and their
resolution, item by item)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from callqa.auth import Role
from console.web import Checked, SignedIn, UpstreamDep, render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/work")
async def my_work(request: Request, user: SignedIn, upstream: UpstreamDep) -> Response:
    reviewer = user.has_any(Role.qa_analyst, Role.supervisor)
    assignments: list[dict[str, Any]] = []
    calibrations: list[dict[str, Any]] = []
    appeals: list[dict[str, Any]] = []
    if reviewer:
        pending, in_review, sessions, mine, anyone = await asyncio.gather(
            upstream.get(user, "coaching", "/v1/assignments", reviewer_id=user.subject, status="pending", limit=200),
            upstream.get(user, "coaching", "/v1/assignments", reviewer_id=user.subject, status="in_review", limit=200),
            upstream.get(user, "coaching", "/v1/calibrations", limit=200),
            upstream.get(user, "coaching", "/v1/appeals", status="open", assignee=user.subject, limit=200),
            upstream.get(user, "coaching", "/v1/appeals", status="open", limit=200),
        )
        assignments = sorted(pending["items"] + in_review["items"], key=lambda a: a["due_at"] or "9999")
        calibrations = [
            c
            for c in sessions["items"]
            if c["status"] == "active"
            and (user.subject in c["analysts"] or c["lead_id"] == user.subject or user.has_any(Role.supervisor))
        ]
        appeals = mine["items"]
        if user.has_any(Role.supervisor):  # appeals routed to any supervisor
            appeals += [a for a in anyone["items"] if a["assignee"] is None]
    return render(request, "work.html", user, assignments=assignments, calibrations=calibrations, appeals=appeals)


@router.post("/appeals/{appeal_id}/resolve")
async def resolve_appeal(appeal_id: str, request: Request, user: Checked, upstream: UpstreamDep) -> Response:
    form = await request.form()
    items = []
    for item_id in form.getlist("item"):
        resolution: dict[str, Any] = {
            "item_id": str(item_id),
            "outcome": str(form.get(f"outcome.{item_id}", "upheld")),
            "reason": str(form.get(f"reason.{item_id}", "")).strip(),
        }
        if resolution["outcome"] == "adjusted":
            resolution["result"] = str(form.get(f"result.{item_id}", "pass"))
        items.append(resolution)
    await upstream.send(user, "POST", "coaching", f"/v1/appeals/{appeal_id}/resolution", {"items": items})
    return see_other("/work#appeals")


@router.get("/work/evaluations/{evaluation_id}")
async def open_evaluation(evaluation_id: str, user: SignedIn, upstream: UpstreamDep) -> Response:
    """From a queue to the call page of the evaluation."""
    evaluation = await upstream.get(user, "coaching", f"/v1/evaluations/{evaluation_id}")
    return see_other(f"/calls/{evaluation['recording_id']}?evaluation={evaluation_id}#review")
