"""Scorecards: browse them and their versions; edit a document with each error shown at its path; check it,
dry-run it on a transcript, publish it as the next version."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from callqa.auth import Role
from console.upstream import UpstreamError
from console.web import Checked, Reviewer, SignedIn, UpstreamDep, render

router = APIRouter(include_in_schema=False)


@router.get("/scorecards")
async def scorecards(request: Request, user: SignedIn, upstream: UpstreamDep) -> Response:
    cards = await upstream.get(user, "scorer", "/v1/scorecards", limit=200)
    return render(request, "scorecards.html", user, cards=cards["items"])


@router.get("/scorecards/{scorecard_id}")
async def scorecard(
    request: Request, scorecard_id: str, user: SignedIn, upstream: UpstreamDep, version: int | None = None
) -> Response:
    items = await upstream.get(user, "scorer", f"/v1/scorecards/{scorecard_id}/versions")  # a list, oldest first
    shown = next((v for v in items if v["version"] == version), None) or max(items, key=lambda v: v["version"])
    return render(
        request,
        "scorecard.html",
        user,
        card=shown,
        versions=items,
        text=json.dumps(shown["document"], ensure_ascii=False, indent=2),
        transcript="",
        outcome=None,
        errors=[],
        can_edit=user.has_any(Role.qa_analyst, Role.supervisor),
    )


def _parse(text: str, what: str) -> tuple[Any, list[dict[str, str]]]:
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [{"field": what, "message": f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"}]


@router.post("/scorecards/{scorecard_id}")
async def edit_scorecard(
    request: Request,
    scorecard_id: str,
    user: Checked,
    _: Reviewer,
    upstream: UpstreamDep,
    action: Annotated[Literal["validate", "dry-run", "publish"], Form()],
    document: Annotated[str, Form(max_length=2_000_000)],
    transcript: Annotated[str, Form(max_length=5_000_000)] = "",
) -> Response:
    versions = await upstream.get(user, "scorer", f"/v1/scorecards/{scorecard_id}/versions")
    latest = max(versions, key=lambda v: v["version"])
    outcome: dict[str, Any] | None = None
    parsed, errors = _parse(document, "document")
    status = 200
    if not errors:
        try:
            if action == "validate":
                outcome = {"valid": await upstream.send(user, "POST", "scorer", "/v1/scorecards/validate", parsed)}
            elif action == "publish":
                outcome = {
                    "published": await upstream.send(user, "PUT", "scorer", f"/v1/scorecards/{scorecard_id}", parsed)
                }
                versions = await upstream.get(user, "scorer", f"/v1/scorecards/{scorecard_id}/versions")
            else:
                doc, errors = _parse(transcript, "transcript")
                if not errors:
                    outcome = {
                        "dry_run": await upstream.send(
                            user, "POST", "scorer", f"/v1/scorecards/{scorecard_id}/dry-run", doc
                        )
                    }
        except UpstreamError as exc:
            errors = exc.field_errors or [{"field": "document", "message": str(exc)}]
            status = 422 if exc.status == 422 else exc.status
    if errors:
        status = 422
    return render(
        request,
        "scorecard.html",
        user,
        status,
        card=latest,
        versions=versions,
        text=document,
        transcript=transcript,
        outcome=outcome,
        errors=errors,
        can_edit=True,
    )
