"""/v1/calibrations: blind calibration sessions, the lead's reference and the agreement report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, page_params
from coaching.api.deps import Analyst, CalibrationsDep, problems
from coaching.schemas import CalibrationCallOut, CalibrationIn, CalibrationOut, ReportOut, ScoreIn

router = APIRouter(prefix="/v1/calibrations", tags=["calibration"], responses=PROBLEM_RESPONSES)
SessionId = Annotated[str, Path(max_length=36)]
EvaluationId = Annotated[str, Path(max_length=36)]


@router.post(
    "", response_model=CalibrationOut, status_code=201, summary="Start a session: calls and analysts; you lead"
)
def create_session(body: CalibrationIn, principal: Analyst, calibrations: CalibrationsDep) -> CalibrationOut:
    return CalibrationOut.of(calibrations.create(principal, body.name, body.evaluation_ids, body.analysts))


@router.get("", response_model=Page[CalibrationOut], summary="Calibration sessions, newest first")
def list_sessions(
    principal: Analyst, calibrations: CalibrationsDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[CalibrationOut]:
    rows, total = calibrations.search(principal, limit=page.limit, offset=page.offset)
    return Page[CalibrationOut].of([CalibrationOut.of(c) for c in rows], total, page)


@router.get("/{session_id}", response_model=CalibrationOut, summary="One session")
def get_session(session_id: SessionId, principal: Analyst, calibrations: CalibrationsDep) -> CalibrationOut:
    return CalibrationOut.of(calibrations.get(principal, session_id))


@router.get(
    "/{session_id}/calls/{evaluation_id}",
    response_model=CalibrationCallOut,
    summary="A call to score blind: its items (no automatic results) and your scores",
)
def get_call(
    session_id: SessionId, evaluation_id: EvaluationId, principal: Analyst, calibrations: CalibrationsDep
) -> CalibrationCallOut:
    items, mine = calibrations.call(principal, session_id, evaluation_id)
    return CalibrationCallOut(evaluation_id=evaluation_id, items=items, mine=mine)


@router.put(
    "/{session_id}/calls/{evaluation_id}/score",
    response_model=CalibrationCallOut,
    summary="Score a call (an analyst), or set the reference (the lead)",
    responses=problems(409),
)
def score_call(
    session_id: SessionId,
    evaluation_id: EvaluationId,
    body: ScoreIn,
    principal: Analyst,
    calibrations: CalibrationsDep,
) -> CalibrationCallOut:
    calibrations.score(principal, session_id, evaluation_id, [i.model_dump() for i in body.items])
    items, mine = calibrations.call(principal, session_id, evaluation_id)
    return CalibrationCallOut(evaluation_id=evaluation_id, items=items, mine=mine)


@router.post(
    "/{session_id}/submit", response_model=CalibrationOut, summary="Submit your scores (final)", responses=problems(409)
)
def submit(session_id: SessionId, principal: Analyst, calibrations: CalibrationsDep) -> CalibrationOut:
    return CalibrationOut.of(calibrations.submit(principal, session_id))


@router.post(
    "/{session_id}/close",
    response_model=CalibrationOut,
    summary="Close the session (the lead)",
    responses=problems(409),
)
def close(session_id: SessionId, principal: Analyst, calibrations: CalibrationsDep) -> CalibrationOut:
    return CalibrationOut.of(calibrations.close(principal, session_id))


@router.get(
    "/{session_id}/report",
    response_model=ReportOut,
    summary="Agreement per item, alignment and κ per analyst, Fleiss' κ, the auto-scorer as a rater",
)
def report(session_id: SessionId, principal: Analyst, calibrations: CalibrationsDep) -> ReportOut:
    cal, found = calibrations.report(principal, session_id)
    return ReportOut.of(cal, found)
