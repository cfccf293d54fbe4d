"""The scorer process: scorecard and evaluation APIs, and the Kafka worker that scores every
transcript (`transcript.ready` -> `evaluation.scored`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import scorer
from callqa.bus import Bus, Consumer, ConsumerOptions
from callqa.db import Database
from callqa.events import Event, RecordingPurgedEvent, TranscriptReadyEvent, topic_for
from callqa.http import problem_handler
from callqa.outbox import OutboxRelay
from callqa.service import build_app
from callqa.storage import ObjectStore
from scorer.api import evaluations, scorecards
from scorer.config import Settings
from scorer.evaluations import EvaluationNotFound, Scorer
from scorer.jobs import RescoreJobs
from scorer.library import ScorecardExists, ScorecardLibrary, ScorecardNotFound

TOPICS = [topic_for("transcript.ready"), topic_for("recording.purged")]


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    transcripts = ObjectStore.from_settings(settings.s3.model_copy(update={"bucket": settings.transcripts_bucket}))
    service = Scorer(db, ScorecardLibrary(db), transcripts, rescore_lease_s=settings.rescore_lease_s)
    rescores = RescoreJobs(service)
    relay = OutboxRelay(db, settings.kafka, settings.service_name)
    state: dict[str, Consumer] = {}

    async def handle(event: Event) -> None:
        if isinstance(event, TranscriptReadyEvent):
            await asyncio.to_thread(service.on_transcript, event.payload)
        elif isinstance(event, RecordingPurgedEvent):
            await asyncio.to_thread(service.purge, event.payload.recording_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.seed_default_scorecards:
            await asyncio.to_thread(service.library.seed_defaults)
        async with Bus(settings.kafka, client_id=f"{settings.service_name}-dlq") as dead_letters:
            await dead_letters.ensure_topics(TOPICS)
            consumer = Consumer(
                settings.kafka, settings.consumer_group, TOPICS, handle, dead_letters, ConsumerOptions()
            )
            state["consumer"] = consumer
            tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
            rescores.resume_orphans(every_s=settings.rescore_lease_s / 2)
            yield
            await rescores.stop()
            consumer.stop()
            relay.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        db.dispose()

    def ready() -> bool:
        consumer = state.get("consumer")
        return consumer is not None and consumer.ready.is_set() and db.ping()

    app = build_app(
        settings,
        title="callqa scorer",
        description=scorer.__doc__ or "",
        routers=[scorecards.router, scorecards.jobs, evaluations.router],
        checks={"consumer": ready},
        lifespan=lifespan,
    )
    app.state.scorer = service
    app.state.rescores = rescores
    for error, status, title in (
        (ScorecardNotFound, 404, "Scorecard not found"),
        (ScorecardExists, 409, "Scorecard already exists"),
        (EvaluationNotFound, 404, "Evaluation not found"),
    ):
        app.add_exception_handler(error, problem_handler(status, title))
    return app
