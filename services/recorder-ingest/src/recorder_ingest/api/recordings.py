"""/v1/recordings: upload, search, audio access, legal hold, erasure."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from callqa.auth import Principal, Role, claimed_caller
from callqa.http import (
    PROBLEM_RESPONSES,
    FieldError,
    NonBlankText,
    Page,
    PageParams,
    PlainText,
    ProblemError,
    page_params,
)
from recorder_ingest.api.deps import ArchiveDep, ClientDep, Platform, Reader, Supervisor
from recorder_ingest.archive import AudioGone, RecordingArchive, RecordingNotFound, RecordingQuery, copy_to
from recorder_ingest.schemas import AudioUrl, LegalHoldRequest, RecordingMetadata, RecordingOut
from recorder_ingest.tables import AuditAction, Recording

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/recordings", tags=["recordings"], responses=PROBLEM_RESPONSES)

STAFF_READERS = {Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.admin}
METADATA_DOC = (
    "JSON document (see the RecordingMetadata schema), e.g. "
    '{"call_id": "pbx-000123", "agent_id": "agent-042", "group": "billing", "queue": "billing-zh", '
    '"started_at": "2026-11-02T09:30:00+08:00", "customer_number": "+86 138 0013 8000", "language": "zh", '
    '"tags": ["complaint"], "consent": {"status": "notified", "method": "ivr_announcement"}}'
)


def parse_metadata(raw: str) -> RecordingMetadata:
    try:
        return RecordingMetadata.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            FieldError(field=".".join(["metadata", *map(str, e["loc"])]) if e["loc"] else "metadata", message=e["msg"])
            for e in exc.errors()
        ]
        raise ProblemError(
            422, "Invalid metadata", "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from exc


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Post a recording (multipart: audio + JSON metadata)",
    response_model=RecordingOut,
    responses={
        200: {
            "description": "The same call id and audio were posted before: the existing recording",
            "model": RecordingOut,
        },
        409: {"description": "The call id was posted before with different audio"},
        413: {"description": "Upload or duration over the limit"},
        503: {"description": "Object store unavailable; retry after `Retry-After` seconds"},
    },
)
def post_recording(
    _: Platform,
    archive: ArchiveDep,
    response: Response,
    audio: Annotated[UploadFile, File(description="WAV (PCM, μ-law, A-law), FLAC, MP3 or Ogg/Opus")],
    metadata: Annotated[str, Form(description=METADATA_DOC)],
) -> RecordingOut:
    meta = parse_metadata(metadata)
    limit = archive.settings.max_upload_bytes
    if audio.size is not None and audio.size > limit:
        raise ProblemError(413, "Upload too large", f"the audio is {audio.size} bytes; the limit is {limit}")
    with tempfile.TemporaryDirectory(dir=archive.settings.spool_dir, prefix="callqa-upload-") as spool:
        path = Path(spool) / "audio"
        sha256 = copy_to(audio.file, path)
        recording, created = archive.ingest(meta, path, sha256)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/{recording.id}"
    return RecordingOut.of(recording)


def own_recordings_only(principal: Principal) -> bool:
    return not principal.roles & STAFF_READERS


@router.get("", summary="Search recordings", response_model=Page[RecordingOut])
def list_recordings(
    principal: Reader,
    archive: ArchiveDep,
    page: Annotated[PageParams, Depends(page_params)],
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    group: Annotated[PlainText | None, Query(max_length=100)] = None,
    queue: Annotated[PlainText | None, Query(max_length=100)] = None,
    started_from: Annotated[datetime | None, Query(description="inclusive, ISO 8601")] = None,
    started_to: Annotated[datetime | None, Query(description="exclusive, ISO 8601")] = None,
    tag: Annotated[list[PlainText] | None, Query(description="repeat for several; all must match")] = None,
    consent_status: Literal["notified", "accepted", "declined", "unknown"] | None = None,
    legal_hold: bool | None = None,
    status: Literal["stored", "audio_not_retained", "purged"] | None = None,
    customer_number: Annotated[
        str | None, Query(max_length=40, description="matched by keyed hash, never stored in clear")
    ] = None,
) -> Page[RecordingOut]:
    if own_recordings_only(principal):
        agent_id = principal.subject  # agents see their own calls
    query = RecordingQuery(
        agent_id=agent_id,
        group=group,
        queue=queue,
        started_from=started_from,
        started_to=started_to,
        tags=tuple(tag or ()),
        consent_status=consent_status,
        legal_hold=legal_hold,
        status=status,
        customer_number=_normalised_number(customer_number),
    )
    items, total = archive.search(query, page.limit, page.offset)
    return Page[RecordingOut].of([RecordingOut.of(r) for r in items], total, page)


def _normalised_number(number: str | None) -> str | None:
    if number is None:
        return None
    return ("+" if number.strip().startswith("+") else "") + re.sub(r"\D", "", number)


def readable(archive: RecordingArchive, recording_id: str, principal: Principal) -> Recording:
    recording = archive.get(recording_id)
    if own_recordings_only(principal) and recording.agent_id != principal.subject:
        raise ProblemError(403, "Forbidden", "agents may only access their own recordings")
    return recording


@router.get("/{recording_id}", summary="One recording", response_model=RecordingOut)
def get_recording(recording_id: str, principal: Reader, archive: ArchiveDep) -> RecordingOut:
    return RecordingOut.of(readable(archive, recording_id, principal))


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`Range: bytes=a-b` -> (offset, length); None for the whole file; 416 when unsatisfiable."""
    if header is None:
        return None
    match = RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise ProblemError(416, "Range not satisfiable", "only one 'bytes=start-end' range is supported")
    start_s, end_s = match.groups()
    if start_s == "":  # suffix: the last N bytes
        start, end = max(0, size - int(end_s)), size - 1
    else:
        start, end = int(start_s), min(int(end_s) if end_s else size - 1, size - 1)
    if start >= size or start > end:
        raise ProblemError(
            416, "Range not satisfiable", f"the audio has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end - start + 1


class AudioAccessRoute(APIRoute):
    """Every attempt to reach a recording's audio goes into the audit log, refused ones included.

    The handler records what it decides (allowed; 403 for another agent's call, 404, 410). What is refused
    before it runs (401 without valid credentials, 403 without a reader role, 422 for a bad request) is
    recorded here, with who the caller is or claims to be (never the credential) and why.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def audited(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if not getattr(request.state, "audio_access_audited", False):
                    await run_in_threadpool(record_refusal, request, exc)
                raise

        return audited


def _clean(value: str | None, limit: int) -> str | None:
    """Request text fit for an audit row: control characters (NUL breaks PostgreSQL) replaced, cut to size."""
    if value is None:
        return None
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in value)[:limit]


def record_refusal(request: Request, exc: Exception) -> None:
    archive: RecordingArchive = request.app.state.archive
    subject, roles = claimed_caller(request)
    if isinstance(exc, ProblemError):
        status_code, outcome = exc.problem.status, "denied"
        reason = f"{exc.problem.status} {exc.problem.title}: {exc.problem.detail or ''}"
    elif isinstance(exc, RequestValidationError):
        status_code, outcome = 422, "denied"
        reason = "422 Invalid request: " + "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
    else:
        status_code, outcome, reason = 500, "failed", f"{type(exc).__name__}"
    action = AuditAction.audio_url if request.query_params.get("delivery") == "url" else AuditAction.audio_stream
    recording_id = _clean(str(request.path_params.get("recording_id", "")), 36) or None
    purpose = _clean(request.query_params.get("purpose"), 300)
    client = request.client.host if request.client else None
    try:
        archive.record_access(
            Principal(subject, roles), action, recording_id, purpose, client, outcome, _clean(reason, 1000)
        )
    except Exception:  # the refusal still goes out; the log line is then the only trace, so it says it all
        log.exception(
            "could not audit a refused audio access",
            extra={"actor": subject, "recording_id": recording_id, "status": status_code, "detail": reason},
        )


# The audio endpoint has a router of its own: its route class audits the refusals that never reach it.
audio = APIRouter(
    prefix="/v1/recordings", tags=["recordings"], responses=PROBLEM_RESPONSES, route_class=AudioAccessRoute
)


@audio.get(
    "/{recording_id}/audio",
    summary="Listen: stream the audio (HTTP ranges) or get a short-lived URL; every access is audited",
    responses={
        200: {"content": {"audio/wav": {}}},
        206: {"description": "Partial content"},
        410: {"description": "Audio not retained or purged"},
    },
)
def get_audio(
    request: Request,
    recording_id: str,
    principal: Reader,
    archive: ArchiveDep,
    client: ClientDep,
    purpose: Annotated[
        NonBlankText,
        Query(min_length=2, max_length=300, description="why: written to the audit log", examples=["qa_review"]),
    ],
    delivery: Literal["stream", "url"] = "stream",
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    action = AuditAction.audio_url if delivery == "url" else AuditAction.audio_stream
    try:
        recording = readable(archive, recording_id, principal)
        key = archive.audio_available(recording)
    except (ProblemError, AudioGone, RecordingNotFound) as denied:
        detail = denied.problem.detail if isinstance(denied, ProblemError) else str(denied)
        audited_id = _clean(recording_id, 36)  # whatever the client put in the path
        archive.record_access(
            principal, action, audited_id, purpose, client, outcome="denied", detail=_clean(detail, 1000)
        )
        request.state.audio_access_audited = True
        raise
    archive.record_access(principal, action, recording_id, purpose, client)
    request.state.audio_access_audited = True
    if delivery == "url":
        url, expires_at = archive.audio_url(key)
        return Response(AudioUrl(url=url, expires_at=expires_at).model_dump_json(), media_type="application/json")
    media_type = "audio/" + recording.container.split(",")[0]
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{recording.id}.{key.rsplit(".", 1)[-1]}"',
    }
    span = parse_range(range_header, recording.audio_size)
    if span is None:
        headers["Content-Length"] = str(recording.audio_size)
        return StreamingResponse(archive.open_audio(key), media_type=media_type, headers=headers)
    offset, length = span
    headers |= {
        "Content-Length": str(length),
        "Content-Range": f"bytes {offset}-{offset + length - 1}/{recording.audio_size}",
    }
    return StreamingResponse(
        archive.open_audio(key, offset, length), status_code=206, media_type=media_type, headers=headers
    )


@router.put(
    "/{recording_id}/legal-hold", summary="Place a legal hold (blocks purge and erasure)", response_model=RecordingOut
)
def put_legal_hold(
    recording_id: str, body: LegalHoldRequest, principal: Supervisor, archive: ArchiveDep, client: ClientDep
) -> RecordingOut:
    return RecordingOut.of(archive.set_legal_hold(recording_id, body.reason, principal, client))


@router.delete("/{recording_id}/legal-hold", summary="Release a legal hold", response_model=RecordingOut)
def delete_legal_hold(
    recording_id: str,
    principal: Supervisor,
    archive: ArchiveDep,
    client: ClientDep,
    reason: Annotated[NonBlankText, Query(min_length=3, max_length=500, examples=["dispute settled"])],
) -> RecordingOut:
    return RecordingOut.of(archive.release_legal_hold(recording_id, reason, principal, client))


@router.delete(
    "/{recording_id}",
    summary="Erasure request: delete the audio and personal data now (refused while on legal hold)",
    response_model=RecordingOut,
    responses={409: {"description": "Under legal hold"}},
)
def erase_recording(
    recording_id: str,
    principal: Supervisor,
    archive: ArchiveDep,
    client: ClientDep,
    reason: Annotated[NonBlankText, Query(min_length=3, max_length=500, examples=["customer erasure request #88"])],
) -> RecordingOut:
    return RecordingOut.of(archive.erase(recording_id, reason, principal, client))
