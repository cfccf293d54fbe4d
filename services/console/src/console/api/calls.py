"""Find calls (the index, with every filter and the words said), and the call page: audio (recorder-ingest's
audited audio, proxied with the user's identity), transcript, evaluation with evidence that seeks, the review
form (override with reason), version history, appeal timeline, legal hold."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse

from callqa.auth import Role
from console.calls import CallFilter, CallIndex
from console.identity import User
from console.upstream import Upstream, UpstreamError
from console.web import Checked, PageRefused, SignedIn, UpstreamDep, render, see_other

router = APIRouter(include_in_schema=False)
PAGE = 50


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise PageRefused(422, "error.title", f"not a date: {value!r}") from exc


def _number(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise PageRefused(422, "error.title", f"not a number: {value!r}") from exc


@router.get("/calls")
def find_calls(
    request: Request,
    user: SignedIn,
    agent: Annotated[str | None, Query(max_length=100)] = None,
    group: Annotated[str | None, Query(max_length=100)] = None,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    started_from: str | None = None,
    started_to: str | None = None,
    score_min: str | None = None,
    score_max: str | None = None,
    passed: str | None = None,
    failed_item: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    words: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    index: CallIndex = request.app.state.index
    where = CallFilter(
        # Agents find only their own calls, as every service answers them.
        agent_id=agent if user.is_staff else user.subject,
        group=group or None,
        queue=queue or None,
        started_from=_date(started_from),
        started_to=_date(started_to),
        score_min=_number(score_min),
        score_max=_number(score_max),
        passed={"true": True, "false": False}.get(passed or ""),
        failed_item=failed_item or None,
        tag=tag or None,
        words=(words or "").strip() or None,
    )
    found, total = index.search(where, limit=PAGE, offset=offset)
    query = {k: v for k, v in request.query_params.items() if k != "offset"}
    return render(
        request, "calls.html", user, found=found, total=total, offset=offset, page=PAGE, query=query, form=query
    )


async def coaching_evaluations(upstream: Upstream, user: User, recording: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's evaluations in coaching (one per scorecard): found by its agent and start time."""
    started = datetime.fromisoformat(recording["started_at"])
    page = await upstream.get(
        user,
        "coaching",
        "/v1/evaluations",
        agent_id=recording["agent_id"],
        started_from=started.isoformat(),
        started_to=(started + timedelta(seconds=1)).isoformat(),
        limit=100,
    )
    return [e for e in page["items"] if e["recording_id"] == recording["id"]]


def shown_version(evaluation: dict[str, Any], user: User) -> dict[str, Any] | None:
    """Staff see the latest human version (else the automatic one); agents the released one. Items keep the
    automatic evidence where the human version carries none."""
    version = (evaluation.get("human") or evaluation.get("auto")) if user.is_staff else evaluation.get("released")
    if version is None:
        return None
    auto_items = {i["item_id"]: i for i in (evaluation.get("auto") or {}).get("items", [])}
    items = []
    for item in version["items"]:
        evidence = item.get("evidence") or auto_items.get(item["item_id"], {}).get("evidence") or []
        items.append({**item, "evidence": [e for e in evidence if isinstance(e, dict)]})
    return {**version, "items": items}


async def _optional(call: Any) -> Any:
    try:
        return await call
    except UpstreamError as exc:
        if exc.status in (403, 404):
            return None
        raise


@router.get("/calls/{recording_id}")
async def call_page(
    request: Request,
    recording_id: str,
    user: SignedIn,
    upstream: UpstreamDep,
    evaluation: str | None = None,
    done: int | None = None,
    sent: str | None = None,
) -> Response:
    # recorder-ingest decides who may open the call (agents: their own); nothing else is read before it agrees.
    recording = await upstream.get(user, "ingest", f"/v1/recordings/{recording_id}")
    index: CallIndex = request.app.state.index
    entry, evaluations = await asyncio.gather(
        asyncio.to_thread(index.get, recording_id), coaching_evaluations(upstream, user, recording)
    )
    chosen = next((e for e in evaluations if e["id"] == evaluation), evaluations[0] if evaluations else None)
    context: dict[str, Any] = {"versions": [], "timeline": [], "appeals": [], "assignment": None}
    if chosen is not None:
        eid = chosen["id"]
        calls = [
            upstream.get(user, "coaching", f"/v1/evaluations/{eid}/versions", limit=100),
            upstream.get(user, "coaching", f"/v1/evaluations/{eid}/timeline", limit=200),
            _optional(upstream.get(user, "coaching", "/v1/appeals", evaluation_id=eid, limit=50)),
        ]
        if user.has_any(Role.qa_analyst, Role.supervisor):
            calls.append(upstream.get(user, "coaching", "/v1/assignments", evaluation_id=eid, reviewer_id=user.subject))
        answers = await asyncio.gather(*calls)
        context["versions"] = answers[0]["items"]
        context["timeline"] = answers[1]["items"]
        context["appeals"] = (answers[2] or {"items": []})["items"]
        if len(answers) > 3:
            context["assignment"] = next(
                (a for a in answers[3]["items"] if a["status"] in ("pending", "in_review")), None
            )
    document = entry.document if entry is not None and entry.document else None
    return render(
        request,
        "call.html",
        user,
        recording=recording,
        turns=(document or {}).get("turns", []),
        duration_ms=recording["audio"]["duration_ms"] or (document or {}).get("duration_ms", 0),
        evaluations=evaluations,
        evaluation=chosen,
        version=shown_version(chosen, user) if chosen else None,
        done=done,
        sent=sent,
        can_review=user.has_any(Role.qa_analyst, Role.supervisor),
        can_assign=user.has_any(Role.supervisor),
        can_hold=user.has_any(Role.supervisor),
        is_agent=not user.is_staff,
        **context,
    )


@router.get("/calls/{recording_id}/audio")
async def call_audio(
    request: Request,
    recording_id: str,
    user: SignedIn,
    upstream: UpstreamDep,
    purpose: Annotated[str, Query(min_length=2, max_length=300)] = "qa_review",
) -> Response:
    """recorder-ingest's audited audio stream, as the signed-in user (the audit names them), ranges passed on."""
    headers = {"Range": request.headers["range"]} if "range" in request.headers else {}
    context = upstream.stream(user, "ingest", f"/v1/recordings/{recording_id}/audio", {"purpose": purpose}, headers)
    answer = await context.__aenter__()
    if answer.status_code >= 400:
        body = await answer.aread()
        await context.__aexit__(None, None, None)
        return Response(body, status_code=answer.status_code, media_type=answer.headers.get("content-type"))
    passed = {k: answer.headers[k] for k in ("content-length", "content-range", "accept-ranges") if k in answer.headers}

    async def chunks() -> Any:
        try:
            async for chunk in answer.aiter_bytes():
                yield chunk
        finally:
            await context.__aexit__(None, None, None)

    return StreamingResponse(
        chunks(),
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/octet-stream"),
        headers=passed | {"Cache-Control": "private, no-store"},
    )


@router.post("/calls/{recording_id}/assign")
async def assign_to_me(
    recording_id: str, user: Checked, upstream: UpstreamDep, evaluation_id: Annotated[str, Form()]
) -> Response:
    """A supervisor takes a call for review (an assignment to themselves)."""
    await upstream.send(
        user, "POST", "coaching", "/v1/assignments", {"evaluation_id": evaluation_id, "reviewer_id": user.subject}
    )
    return see_other(f"/calls/{recording_id}?evaluation={evaluation_id}#review")


@router.post("/calls/{recording_id}/review")
async def submit_review(recording_id: str, request: Request, user: Checked, upstream: UpstreamDep) -> Response:
    form = await request.form()
    assignment_id = str(form.get("assignment_id", ""))
    evaluation_id = str(form.get("evaluation_id", ""))
    decisions: list[dict[str, Any]] = []
    for item_id in form.getlist("item"):
        item_id = str(item_id)
        if form.get(f"decision.{item_id}") != "override":
            decisions.append({"item_id": item_id, "decision": "confirm"})
            continue
        decision: dict[str, Any] = {
            "item_id": item_id,
            "decision": "override",
            "result": str(form.get(f"result.{item_id}", "")),
            "reason": str(form.get(f"reason.{item_id}", "")),
        }
        points = str(form.get(f"points.{item_id}", "")).strip()
        if points:
            decision["points"] = float(points)
        decisions.append(decision)
    path = f"/v1/assignments/{assignment_id}"
    current = await upstream.call(user, "GET", "coaching", path)
    if current.json()["assignment"]["status"] == "pending":
        current = await upstream.call(user, "POST", "coaching", f"{path}/open")
    body = {"items": decisions, "notes": str(form.get("notes", "")) or None}
    submitted = await upstream.send(
        user, "POST", "coaching", f"{path}/submit", body, headers={"If-Match": current.headers["etag"]}
    )
    version = submitted["version"]["version"]
    return see_other(f"/calls/{recording_id}?evaluation={evaluation_id}&done={version}#evaluation")


@router.post("/calls/{recording_id}/legal-hold")
async def legal_hold(
    recording_id: str,
    user: Checked,
    upstream: UpstreamDep,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    path = f"/v1/recordings/{recording_id}/legal-hold"
    if action == "set":
        await upstream.send(user, "PUT", "ingest", path, {"reason": reason})
    else:
        await upstream.call(user, "DELETE", "ingest", path, params={"reason": reason})
    return see_other(f"/calls/{recording_id}#hold")
