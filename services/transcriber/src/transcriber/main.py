"""The transcriber process: a Kafka worker (scale by replicas in one consumer group) with an
HTTP side for health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import transcriber
from callqa.bus import Bus, Consumer, ConsumerOptions
from callqa.db import Database
from callqa.events import topic_for
from callqa.outbox import OutboxRelay
from callqa.service import build_app
from callqa.storage import ObjectStore
from transcriber.config import Settings
from transcriber.pipeline import TranscriptionPipeline
from transcriber.worker import Transcriber

log = logging.getLogger(__name__)
TOPICS = [topic_for("recording.stored"), topic_for("recording.purged")]


def create_app(settings: Settings, pipeline: TranscriptionPipeline | None = None) -> FastAPI:
    db = Database(settings.database_url)
    store = ObjectStore.from_settings(settings.s3)
    relay = OutboxRelay(db, settings.kafka, settings.service_name)
    state: dict[str, Consumer] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = pipeline if pipeline is not None else await asyncio.to_thread(TranscriptionPipeline, settings)
        await asyncio.to_thread(store.ensure_bucket)
        worker = Transcriber(settings, loaded, db, store)
        app.state.transcriber = worker
        async with Bus(settings.kafka, client_id=f"{settings.service_name}-dlq") as dead_letters:
            await dead_letters.ensure_topics(TOPICS)
            # A long call keeps the consumer away from poll() for minutes; it must stay in the group.
            patience = max(settings.kafka.max_poll_interval_ms, int(settings.max_job_s * 1000))
            consumer = Consumer(
                settings.kafka.model_copy(update={"max_poll_interval_ms": patience}),
                settings.consumer_group,
                TOPICS,
                worker.handle,
                dead_letters,
                ConsumerOptions(max_records=1),  # one call at a time, committed as soon as it is stored
            )
            state["consumer"] = consumer
            tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
            yield
            # SIGTERM: the current call is abandoned uncommitted; another replica (or this one, restarted) redoes it.
            worker.abandon()
            consumer.stop(abandon=True)
            relay.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        db.dispose()

    def ready() -> bool:
        consumer = state.get("consumer")
        return consumer is not None and consumer.ready.is_set() and db.ping()

    return build_app(
        settings,
        title="callqa transcriber",
        description=transcriber.__doc__ or "",
        checks={"consumer": ready},
        lifespan=lifespan,
    )
