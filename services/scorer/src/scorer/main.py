"""The scorer process: scorecard and evaluation APIs, and the Kafka worker that scores every
transcript (`transcript.ready` -> `evaluation.scored`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

import scorer
from callqa.db import Database
from callqa.events import RecordingPurgedEvent, TranscriptReadyEvent
from callqa.http import ErrorAnswer
from callqa.service import EventWorker, build_app
from callqa.storage import ObjectStore
from scorer import handlers
from scorer.api import evaluations, scorecards
from scorer.config import Settings
from scorer.jobs import RescoreJobs
from scorer.library import ScorecardExists, ScorecardLibrary, ScorecardNotFound
from scorer.scoring import EvaluationNotFound, Scorer


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    transcripts = ObjectStore.from_settings(settings.s3.model_copy(update={"bucket": settings.transcripts_bucket}))
    service = Scorer(db, ScorecardLibrary(db), transcripts, rescore_lease_s=settings.rescore_lease_s)
    rescores = RescoreJobs(service)
    worker = EventWorker(
        settings,
        db,
        {
            TranscriptReadyEvent: partial(handlers.on_transcript_ready, scorer=service),
            RecordingPurgedEvent: partial(handlers.on_recording_purged, scorer=service),
        },
        group=settings.consumer_group,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.seed_default_scorecards:
            await asyncio.to_thread(service.library.seed_defaults)
        async with worker.running():
            rescores.resume_orphans(every_s=settings.rescore_lease_s / 2)
            yield
            await rescores.stop()
        db.dispose()

    app = build_app(
        settings,
        title="callqa scorer",
        description=scorer.__doc__ or "",
        routers=[scorecards.router, scorecards.jobs, evaluations.router],
        checks={"consumer": worker.ready},
        lifespan=lifespan,
        errors={
            ScorecardNotFound: ErrorAnswer(404, "Scorecard not found"),
            ScorecardExists: ErrorAnswer(409, "Scorecard already exists"),
            EvaluationNotFound: ErrorAnswer(404, "Evaluation not found"),
        },
    )
    app.state.scorer = service
    app.state.rescores = rescores
    return app
