"""The transcriber process: a Kafka worker (scale by replicas in one consumer group) with an
HTTP side for health, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

import transcriber
from callqa.bus import ConsumerOptions
from callqa.db import Database
from callqa.events import RecordingPurgedEvent, RecordingStoredEvent
from callqa.service import EventWorker, build_app
from callqa.storage import ObjectStore
from transcriber import handlers
from transcriber.config import Settings
from transcriber.pipeline import TranscriptionPipeline
from transcriber.worker import Transcriber

log = logging.getLogger(__name__)


def create_app(settings: Settings, pipeline: TranscriptionPipeline | None = None) -> FastAPI:
    db = Database(settings.database_url)
    store = ObjectStore.from_settings(settings.s3)
    service = Transcriber(settings, db, store, pipeline)

    # A long call keeps the consumer away from poll() for minutes; it must stay in the group.
    patience = max(settings.kafka.max_poll_interval_ms, int(settings.max_job_s * 1000))
    worker = EventWorker(
        settings,
        db,
        {
            RecordingStoredEvent: partial(handlers.on_recording_stored, transcriber=service),
            RecordingPurgedEvent: partial(handlers.on_recording_purged, transcriber=service),
        },
        group=settings.consumer_group,
        options=ConsumerOptions(max_records=1),  # one call at a time, committed as soon as it is stored
        kafka=settings.kafka.model_copy(update={"max_poll_interval_ms": patience}),
        # SIGTERM: the current call is abandoned uncommitted; another replica (or this one, restarted) redoes it.
        abandon_on_stop=True,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(service.load)
        await asyncio.to_thread(store.ensure_bucket)
        app.state.transcriber = service
        async with worker.running():
            yield
            service.abandon()
        db.dispose()

    return build_app(
        settings,
        title="callqa transcriber",
        description=transcriber.__doc__ or "",
        checks={"consumer": worker.ready},
        lifespan=lifespan,
    )
