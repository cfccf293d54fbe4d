"""/v1/scorecards: versioned scorecards, validation, dry-run, re-scoring."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from callqa.http import MAX_INT, PROBLEM_RESPONSES, FieldError, Page, PageParams, ProblemError, page_params
from callqa.transcripts import TranscriptDocument
from scorer.api.deps import Author, LibraryDep, Reader, ScorerDep
from scorer.jobs import RescoreJobs
from scorer.rules.engine import compile_scorecard
from scorer.schemas import DraftDryRun, JobOut, RescoreRequest, ScorecardOut, Validation
from scorer.scorecard import Scorecard, ScorecardError, default_scorecard, validate_scorecard
from scorer.tables import RescoreJob

router = APIRouter(prefix="/v1/scorecards", tags=["scorecards"], responses=PROBLEM_RESPONSES)
jobs = APIRouter(prefix="/v1/rescore-jobs", tags=["scorecards"], responses=PROBLEM_RESPONSES)

EXAMPLE = default_scorecard("zh").model_dump(mode="json")
# Versions are INTEGER columns: bounded here so an absurd number is a 422 naming it, not a driver overflow.
VersionPath = Annotated[int, Path(ge=1, le=MAX_INT, description="a version number, from 1")]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_INT, description="default: the latest version")]


def parse_scorecard(document: dict[str, Any]) -> Scorecard:
    """Schema errors name the path of the field at fault, e.g. sections[1].items[3].condition.pattern."""
    try:
        card = validate_scorecard(document)
        compile_scorecard(card)  # the engine's own checks (phrases, patterns) count too
        return card
    except ScorecardError as exc:
        errors = [FieldError(field=path or "scorecard", message=message) for path, message in exc.issues]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise ProblemError(422, "Invalid scorecard", detail, errors=errors) from exc
    except ValueError as exc:
        raise ProblemError(
            422, "Invalid scorecard", str(exc), errors=[FieldError(field="scorecard", message=str(exc))]
        ) from exc


ScorecardBody = Annotated[dict[str, Any], Body(examples=[EXAMPLE])]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ScorecardOut,
    summary="Create a scorecard (version 1)",
    responses={409: {"description": "A scorecard with this id exists: PUT stores its next version"}},
)
def create(document: ScorecardBody, principal: Author, library: LibraryDep, response: Response) -> ScorecardOut:
    row = library.create(parse_scorecard(document), principal.subject)
    response.headers["Location"] = f"{router.prefix}/{row.scorecard_id}/versions/{row.version}"
    return ScorecardOut.of(row)


@router.put("/{scorecard_id}", response_model=ScorecardOut, summary="Edit: stores the next version")
def revise(scorecard_id: str, document: ScorecardBody, principal: Author, library: LibraryDep) -> ScorecardOut:
    return ScorecardOut.of(library.revise(scorecard_id, parse_scorecard(document), principal.subject))


@router.get("", response_model=Page[ScorecardOut], summary="Latest version of every scorecard")
def list_scorecards(
    _: Reader, library: LibraryDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[ScorecardOut]:
    rows = library.latest_all()
    return Page[ScorecardOut].of(
        [ScorecardOut.of(r) for r in rows[page.offset : page.offset + page.limit]], len(rows), page
    )


@router.get("/{scorecard_id}", response_model=ScorecardOut, summary="Latest version")
def get_latest(scorecard_id: str, _: Reader, library: LibraryDep) -> ScorecardOut:
    return ScorecardOut.of(library.get(scorecard_id))


@router.get("/{scorecard_id}/versions", response_model=list[ScorecardOut], summary="Every version, oldest first")
def list_versions(scorecard_id: str, _: Reader, library: LibraryDep) -> list[ScorecardOut]:
    return [ScorecardOut.of(r) for r in library.versions(scorecard_id)]


@router.get("/{scorecard_id}/versions/{version}", response_model=ScorecardOut, summary="One exact version")
def get_version(scorecard_id: str, version: VersionPath, _: Reader, library: LibraryDep) -> ScorecardOut:
    return ScorecardOut.of(library.get(scorecard_id, version))


@router.post("/validate", response_model=Validation, summary="Check a scorecard document without saving it")
def validate(document: ScorecardBody, _: Author) -> Validation:
    card = parse_scorecard(document)
    return Validation(valid=True, items=sum(len(s.items) for s in card.sections))


@router.post("/dry-run", summary="Score a transcript with a draft scorecard, neither saved (the editor's try-out)")
def dry_run_draft(body: DraftDryRun, _: Author) -> dict[str, Any]:
    card = parse_scorecard(body.scorecard)  # a 422 naming the path at fault inside the draft
    evaluation = compile_scorecard(card).evaluate(body.transcript)
    return evaluation.model_dump(mode="json") | {"scorecard_id": card.id, "scorecard_version": None}  # not saved


@router.post("/{scorecard_id}/dry-run", summary="Score a transcript without storing anything")
def dry_run(
    scorecard_id: str, transcript: TranscriptDocument, _: Author, library: LibraryDep, version: VersionQuery = None
) -> dict[str, Any]:
    row = library.get(scorecard_id, version)
    evaluation = library.compiled(row).evaluate(transcript)
    return {"scorecard_id": row.scorecard_id, "scorecard_version": row.version} | evaluation.model_dump(mode="json")


@router.post(
    "/{scorecard_id}/rescore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    summary="Re-score past calls (time range, agent, group, queue) with a version, in the background",
)
async def rescore(
    scorecard_id: str, body: RescoreRequest, principal: Author, scorer: ScorerDep, request: Request, response: Response
) -> JobOut:
    row = scorer.library.get(scorecard_id, body.version)
    job = RescoreJob(
        id=str(uuid.uuid4()),
        scorecard_id=row.scorecard_id,
        scorecard_version=row.version,
        filters=body.model_dump(mode="json", exclude={"version"}, exclude_none=True),
        status="queued",
        created_by=principal.subject,
    )
    claim = scorer.start_job(job)
    rescores: RescoreJobs = request.app.state.rescores
    rescores.start(job.id, claim)
    response.headers["Location"] = f"{jobs.prefix}/{job.id}"
    return JobOut.of(job)


@jobs.get("/{job_id}", response_model=JobOut, summary="Progress of a re-score job")
def get_job(job_id: str, _: Author, scorer: ScorerDep) -> JobOut:
    # Only those who may start re-scores follow them: a job names its scorecard, filters and author.
    with scorer.db.session() as session:
        job = session.get(RescoreJob, job_id)
    if job is None:
        raise ProblemError(404, "Re-score job not found", job_id)
    return JobOut.of(job)
