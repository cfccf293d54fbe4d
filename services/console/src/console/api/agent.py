"""The agent's home: my released evaluations; acknowledge one, or appeal items with reasons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.upstream import UpstreamError
from console.web import AgentUser, Checked, PageRefused, UpstreamDep, render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/me")
async def agent_home(request: Request, user: AgentUser, upstream: UpstreamDep, sent: str | None = None) -> Response:
    page = await upstream.get(user, "coaching", "/v1/evaluations", agent_id=user.subject, limit=100)
    released = [e for e in page["items"] if e.get("released")]
    appeals = await upstream.get(user, "coaching", "/v1/appeals", limit=100)
    return render(request, "me.html", user, evaluations=released, appeals=appeals["items"], sent=sent)


@router.post("/evaluations/{evaluation_id}/acknowledge")
async def acknowledge(
    evaluation_id: str,
    user: Checked,
    upstream: UpstreamDep,
    comment: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form()] = "/me",
) -> Response:
    body = {"comment": comment or None}
    await upstream.send(user, "POST", "coaching", f"/v1/evaluations/{evaluation_id}/acknowledgement", body)
    return see_other(back if back.startswith("/") and not back.startswith("//") else "/me")


@router.post("/evaluations/{evaluation_id}/appeal")
async def appeal(evaluation_id: str, request: Request, user: Checked, upstream: UpstreamDep) -> Response:
    form = await request.form()
    items = [
        {"item_id": str(i), "reason": str(form.get(f"reason.{i}", "")).strip()} for i in form.getlist("appeal_item")
    ]
    if not items:
        raise PageRefused(422, "error.title", "choose at least one item to appeal")
    try:
        await upstream.send(user, "POST", "coaching", f"/v1/evaluations/{evaluation_id}/appeals", {"items": items})
    except UpstreamError as exc:
        raise PageRefused(exc.status, "error.title", str(exc)) from exc
    back = str(form.get("back", "/me"))
    return see_other((back if back.startswith("/") and not back.startswith("//") else "/me") + "?sent=appeal")
