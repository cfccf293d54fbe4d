"""Scorecards: browse them and their versions; edit a document with each error shown at its path (the line of the
field the scorer names, the cursor taken there); check it, dry-run the draft on a chosen call's transcript (or a pasted
one) without saving it, publish it as the next version."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from callqa.auth import Role
from console.calls import CallFilter, CallIndex
from console.i18n import translate
from console.identity import User
from console.paths import layout, line_of
from console.upstream import Upstream, UpstreamError
from console.web import Checked, Reviewer, SignedIn, UpstreamDep, language, render

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
    can_edit = user.has_any(Role.qa_analyst, Role.supervisor)
    return render(
        request,
        "scorecard.html",
        user,
        card=shown,
        versions=items,
        text=json.dumps(shown["document"], ensure_ascii=False, indent=2),
        transcript="",
        call="",
        calls=await recent_calls(request) if can_edit else [],
        outcome=None,
        errors=[],
        can_edit=can_edit,
    )


def _parse(text: str, what: str) -> tuple[Any, list[dict[str, Any]]]:
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        message = f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        return None, [{"field": what, "message": message, "line": exc.lineno if what == "document" else None}]


async def recent_calls(request: Request) -> list[Any]:
    """Calls to dry-run a draft on: the latest ones with a transcript in the index."""
    index: CallIndex = request.app.state.index
    found, _ = await asyncio.to_thread(index.search, CallFilter(), limit=50)
    return [f.call for f in found if f.call.text][:20]


async def call_transcript(
    request: Request, user: User, upstream: Upstream, recording_id: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The chosen call's transcript from the index, once recorder-ingest has agreed the user may see the call."""
    try:
        await upstream.get(user, "ingest", f"/v1/recordings/{recording_id}")
    except UpstreamError as exc:
        if exc.status not in (403, 404):
            raise
        return None, [{"field": "call", "message": str(exc)}]
    index: CallIndex = request.app.state.index
    entry = await asyncio.to_thread(index.get, recording_id)
    if entry is None or not entry.document:
        message = f"{recording_id}: {translate(language(request), 'cards.no_call_transcript')}"
        return None, [{"field": "call", "message": message}]
    return entry.document, []


def at_their_lines(text: str, parsed: Any, errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The document laid out again (as the editor shows it) and each error with the line of its path."""
    if not isinstance(parsed, dict | list):
        return text, errors
    laid_out, where = layout(parsed)

    def line(error: dict[str, Any]) -> int | None:
        field = str(error.get("field", ""))
        if error.get("line") or field.partition(".")[0] in ("transcript", "call"):
            return error.get("line")  # not a path in the document
        return line_of(where, field)

    return laid_out, [e | {"line": line(e)} for e in errors]


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
    call: Annotated[str, Form(max_length=64)] = "",
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
                if call:
                    doc, errors = await call_transcript(request, user, upstream, call)
                else:
                    doc, errors = _parse(transcript, "transcript")
                if not errors:
                    body = {"scorecard": parsed, "transcript": doc}
                    outcome = {"dry_run": await upstream.send(user, "POST", "scorer", "/v1/scorecards/dry-run", body)}
        except UpstreamError as exc:
            if exc.status not in (400, 409, 422):
                raise
            errors = exc.field_errors or [{"field": "document", "message": str(exc)}]
    if errors:
        status = 422
    text, errors = at_their_lines(document, parsed, errors) if errors else (document, errors)
    return render(
        request,
        "scorecard.html",
        user,
        status,
        card=latest,
        versions=versions,
        text=text,
        transcript=transcript,
        call=call,
        calls=await recent_calls(request),
        outcome=outcome,
        errors=errors,
        can_edit=True,
    )
