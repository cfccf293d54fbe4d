"""The console process: the pages (server-rendered, a little JavaScript), the sessions, the upstream client that
calls the other services with the user's identity, and the worker that keeps the call index from the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import console
from callqa.db import Database
from callqa.events import (
    EvaluationReviewedEvent,
    EvaluationScoredEvent,
    RecordingPurgedEvent,
    RecordingStoredEvent,
    TranscriptReadyEvent,
)
from callqa.service import EventWorker, build_app
from callqa.storage import ObjectStore
from console import handlers
from console.api import agent, calibration, calls, reports, scorecards, signin, work
from console.calls import CallIndex
from console.config import Settings
from console.identity import OidcVerifier, Sessions, Users
from console.upstream import Upstream
from console.web import install_page_errors


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    index = CallIndex(db)
    store = ObjectStore(settings.s3)
    worker = EventWorker(
        settings,
        db,
        {
            RecordingStoredEvent: partial(handlers.on_recording_stored, index=index),
            TranscriptReadyEvent: partial(handlers.on_transcript_ready, index=index, store=store),
            EvaluationScoredEvent: partial(handlers.on_evaluation_scored, index=index),
            EvaluationReviewedEvent: partial(handlers.on_evaluation_reviewed, index=index),
            RecordingPurgedEvent: partial(handlers.on_recording_purged, index=index),
        },
        group=settings.consumer_group,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(index.segmenter.warm)  # jieba's dictionary, before the first transcript or search
        async with worker.running():
            yield
        await app.state.upstream.close()
        db.dispose()

    app = build_app(
        settings,
        title="callqa console",
        description=console.__doc__ or "",
        routers=[
            signin.router,
            calls.router,
            agent.router,
            work.router,
            calibration.router,
            reports.router,
            scorecards.router,
        ],
        checks={"consumer": worker.ready},
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    install_page_errors(app)
    app.state.index = index
    app.state.users = Users(db)
    app.state.sessions = Sessions(db, timedelta(hours=settings.session_hours))
    app.state.oidc = OidcVerifier(settings.oidc)
    app.state.upstream = Upstream(settings.upstreams, app.state.authenticator, settings.token_ttl_s)
    return app
