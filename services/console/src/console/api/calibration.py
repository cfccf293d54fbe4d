"""Calibration sessions (coaching's `/v1/calibrations`): each analyst scores the session's calls blind (the page shows
the call's audio and transcript and the items to score, never the automatic scores nor anyone else's), submits, and
only then sees the agreement results as coaching computes them; the lead sees the session, sets the reference for
each call and closes it. Coaching enforces the blindness (its report answers 403 to an analyst who has not
submitted, its call view carries no automatic result); these pages follow it and show nothing more."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from callqa.auth import Role
from console.calls import CallIndex
from console.i18n import translate
from console.identity import User
from console.upstream import Upstream, UpstreamError
from console.web import Checked, Reviewer, UpstreamDep, language, render, see_other

router = APIRouter(include_in_schema=False)
RESULTS = ("pass", "fail", "not_applicable")


def leads(session: dict[str, Any], user: User) -> bool:
    """As coaching decides it: the session's lead, or a supervisor."""
    return bool(session["lead_id"] == user.subject or user.has_any(Role.supervisor))


async def _mine(upstream: Upstream, user: User, session_id: str, evaluation_id: str) -> bool:
    call = await upstream.get(user, "coaching", f"/v1/calibrations/{session_id}/calls/{evaluation_id}")
    return bool(call["mine"])


async def _session_page(
    request: Request, session_id: str, user: User, upstream: Upstream, error: UpstreamError | None = None
) -> Response:
    session = await upstream.get(user, "coaching", f"/v1/calibrations/{session_id}")  # 403 unless lead or analyst
    lead = leads(session, user)
    scored = await asyncio.gather(*(_mine(upstream, user, session_id, e) for e in session["evaluation_ids"]))
    submitted = user.subject in session["submitted"]
    report = None
    if lead or submitted:  # an analyst sees the results only once their own scores are final
        report = await upstream.get(user, "coaching", f"/v1/calibrations/{session_id}/report")
    return render(
        request,
        "calibration.html",
        user,
        409 if error else 200,
        session=session,
        calls=list(zip(session["evaluation_ids"], scored, strict=True)),
        lead=lead,
        submitted=submitted,
        report=report,
        error=str(error) if error else None,
    )


@router.get("/calibrations/{session_id}")
async def calibration_session(request: Request, session_id: str, user: Reviewer, upstream: UpstreamDep) -> Response:
    return await _session_page(request, session_id, user, upstream)


async def _call_page(
    request: Request,
    session_id: str,
    evaluation_id: str,
    user: User,
    upstream: Upstream,
    *,
    errors: list[dict[str, str]] | None = None,
    entered: dict[str, dict[str, str]] | None = None,
) -> Response:
    session, call, evaluation = await asyncio.gather(
        upstream.get(user, "coaching", f"/v1/calibrations/{session_id}"),
        upstream.get(user, "coaching", f"/v1/calibrations/{session_id}/calls/{evaluation_id}"),
        upstream.get(user, "coaching", f"/v1/evaluations/{evaluation_id}"),
    )
    # Only the recording id is taken from the evaluation: its automatic results stay off this page (blind scoring).
    recording = await upstream.get(user, "ingest", f"/v1/recordings/{evaluation['recording_id']}")
    index: CallIndex = request.app.state.index
    entry = await asyncio.to_thread(index.get, recording["id"])
    mine = {i["item_id"]: i for i in call["mine"]}
    values = entered or {
        i["item_id"]: {
            "result": str(mine.get(i["item_id"], {}).get("result", "")),
            "points": str(mine.get(i["item_id"], {}).get("points", "")),
            "comment": str(mine.get(i["item_id"], {}).get("comment") or ""),
        }
        for i in call["items"]
    }
    lead = leads(session, user)
    return render(
        request,
        "calibration_call.html",
        user,
        422 if errors else 200,
        session=session,
        evaluation_id=evaluation_id,
        recording=recording,
        turns=((entry.document or {}) if entry else {}).get("turns", []),
        items=call["items"],
        values=values,
        errors=errors or [],
        reference=lead and user.subject not in session["analysts"],
        final=user.subject in session["submitted"] or session["status"] != "active",
        results=RESULTS,
    )


@router.get("/calibrations/{session_id}/calls/{evaluation_id}")
async def calibration_call(
    request: Request, session_id: str, evaluation_id: str, user: Reviewer, upstream: UpstreamDep
) -> Response:
    return await _call_page(request, session_id, evaluation_id, user, upstream)


def _item_errors(problem: dict[str, Any], items: list[str]) -> list[dict[str, str]]:
    """coaching names the field at fault (`items.2.points`): shown with the item it is about."""
    shown = []
    for error in problem.get("errors") or [{"field": "", "message": problem.get("detail") or problem.get("title")}]:
        field, item = str(error.get("field", "")), ""
        parts = field.split(".")
        if len(parts) > 1 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < len(items):
            item = items[int(parts[1])]
        shown.append({"item": item, "field": field, "message": str(error.get("message", ""))})
    return shown


@router.post("/calibrations/{session_id}/calls/{evaluation_id}")
async def score_call(
    request: Request, session_id: str, evaluation_id: str, user: Checked, _: Reviewer, upstream: UpstreamDep
) -> Response:
    form = await request.form()
    item_ids = [str(i) for i in form.getlist("item")]
    entered = {i: {k: str(form.get(f"{k}.{i}", "")).strip() for k in ("result", "points", "comment")} for i in item_ids}
    scores: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for item_id, value in entered.items():
        try:
            points = float(value["points"])
        except ValueError:
            errors.append(
                {"item": item_id, "field": "points", "message": translate(language(request), "cal.points_needed")}
            )
            continue
        scores.append(
            {"item_id": item_id, "result": value["result"], "points": points, "comment": value["comment"] or None}
        )
    if not errors:
        try:
            await upstream.send(
                user, "PUT", "coaching", f"/v1/calibrations/{session_id}/calls/{evaluation_id}/score", {"items": scores}
            )
        except UpstreamError as exc:
            if exc.status not in (409, 422):
                raise
            errors = _item_errors(exc.problem, item_ids)
    if errors:
        return await _call_page(request, session_id, evaluation_id, user, upstream, errors=errors, entered=entered)
    return see_other(f"/calibrations/{session_id}#calls")


@router.post("/calibrations/{session_id}/submit")
async def submit(request: Request, session_id: str, user: Checked, _: Reviewer, upstream: UpstreamDep) -> Response:
    return await _session_action(request, session_id, user, upstream, "submit")


@router.post("/calibrations/{session_id}/close")
async def close(request: Request, session_id: str, user: Checked, _: Reviewer, upstream: UpstreamDep) -> Response:
    return await _session_action(request, session_id, user, upstream, "close")


async def _session_action(
    request: Request, session_id: str, user: Checked, upstream: UpstreamDep, action: str
) -> Response:
    """Submit or close a session; a conflict (e.g. a call not scored yet) is said on the session's page."""
    try:
        await upstream.send(user, "POST", "coaching", f"/v1/calibrations/{session_id}/{action}")
    except UpstreamError as exc:
        if exc.status != 409:
            raise
        return await _session_page(request, session_id, user, upstream, exc)
    return see_other(f"/calibrations/{session_id}#results")
