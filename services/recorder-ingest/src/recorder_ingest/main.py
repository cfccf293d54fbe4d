"""The recorder-ingest app: routes, domain-error mapping, and its background workers
(outbox relay, retention purge + orphan sweep, object-lock keeper)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import recorder_ingest
from callqa.db import Database
from callqa.http import ErrorAnswer, Problem, problem_response
from callqa.outbox import OutboxRelay
from callqa.service import build_app
from callqa.storage import ObjectStore, StorageFeatureUnsupported, StorageUnavailable
from recorder_ingest.api import audit, recordings
from recorder_ingest.archive import (
    AudioGone,
    CallIdConflict,
    RecordingArchive,
    RecordingNotFound,
    UnderLegalHold,
)
from recorder_ingest.audio import AudioRejected
from recorder_ingest.config import Settings
from recorder_ingest.object_lock import LockState, ObjectLockUnavailable
from recorder_ingest.policy import MetadataRejected

log = logging.getLogger(__name__)
MULTIPART_OVERHEAD = 64 * 1024  # the metadata part and boundaries ride along with the audio


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    store = ObjectStore.from_settings(settings.s3)
    archive = RecordingArchive(settings, db, store)
    relay = OutboxRelay(db, settings.kafka, settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.archive = archive
        if settings.s3.object_lock:
            # The bucket, its object lock and the canary now; a restore of the holds and retention the
            # store lost runs in the keeper's loop (uploads protect themselves meanwhile).
            if await asyncio.to_thread(archive.lock.check, restore=False) is LockState.unchecked:
                log.warning("object store not checked at start-up; uploads answer 503 until it is back")
        else:
            log.warning("s3.object_lock is off: audio is stored without retention or legal hold in the store")
            try:
                await asyncio.to_thread(store.ensure_bucket)
            except StorageUnavailable:
                log.warning("object store unreachable at start-up; uploads answer 503 until it is back")
        workers = [
            asyncio.create_task(relay.run()),
            asyncio.create_task(retention_loop(archive)),
            asyncio.create_task(archive.lock.watch(settings.object_lock_check_interval_s)),
        ]
        yield
        relay.stop()
        for worker in workers[1:]:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        store.close()
        db.dispose()

    app = build_app(
        settings,
        title="callqa recorder-ingest",
        description=recorder_ingest.__doc__ or "",
        routers=[recordings.router, recordings.audio, audit.router],
        checks={"database": db.ping, "object_store": store.ping, "object_lock": lambda: archive.lock.accepting},
        lifespan=lifespan,
        errors=error_answers(settings),
    )
    app.state.archive = archive
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes + MULTIPART_OVERHEAD)
    return app


async def retention_loop(archive: RecordingArchive) -> None:
    while True:
        await asyncio.sleep(archive.settings.purge_interval_s)
        if not archive.lock.protected:  # deleting nothing while the store's protection is in doubt
            log.warning("retention purge postponed: object lock not confirmed", extra={"reason": archive.lock.reason})
            continue
        try:
            await asyncio.to_thread(archive.purge_expired)
            await asyncio.to_thread(archive.sweep_orphans)
        except Exception:
            log.exception("retention run failed; retrying next interval")


def error_answers(settings: Settings) -> dict[type[Exception], ErrorAnswer]:
    retry = {"Retry-After": str(settings.retry_after_s)}
    # Refused rather than stored without retention or legal hold (see recorder_ingest.object_lock).
    unprotected = ErrorAnswer(503, "Object lock unavailable", headers=retry)
    return {
        AudioRejected: ErrorAnswer(422, "Audio rejected", field="audio"),  # the error carries its own status
        MetadataRejected: ErrorAnswer(422, "Invalid metadata"),  # and lists its fields
        CallIdConflict: ErrorAnswer(409, "Call id already used for different audio", field="metadata.call_id"),
        RecordingNotFound: ErrorAnswer(404, "Recording not found"),
        UnderLegalHold: ErrorAnswer(409, "Recording under legal hold"),
        AudioGone: ErrorAnswer(410, "Audio not available"),
        StorageUnavailable: ErrorAnswer(503, "Object store unavailable", headers=retry),
        ObjectLockUnavailable: unprotected,
        StorageFeatureUnsupported: unprotected,
    }


class UploadLimit:
    """Refuse request bodies over `limit` bytes with 413 as soon as they cross it (not after spooling)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"Upload too large: the limit is {self.limit} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        problem = Problem(title="Upload too large", status=413, detail=f"the request body exceeds {self.limit} bytes")
        await problem_response(problem, request)(scope, receive, send)
