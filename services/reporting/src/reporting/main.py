"""The reporting process: the worker that keeps the rollups from the event stream, the report, schedule
and audit APIs, and the scheduler that runs and e-mails scheduled reports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

import reporting
from callqa.bus import ConsumerOptions
from callqa.db import Database
from callqa.events import EvaluationReviewedEvent, EvaluationScoredEvent, RecordingPurgedEvent
from callqa.http import ErrorAnswer
from callqa.service import EventWorker, build_app
from reporting import handlers
from reporting.api import audit, monitoring, runs, schedules
from reporting.config import Settings
from reporting.rollups import ScoredView
from reporting.runs import ReportRuns, RunNotFound, ScheduleNotFound, Schedules, WrongTimeZone
from reporting.store import RollupStore

log = logging.getLogger(__name__)


def build_worker(settings: Settings, db: Database, store: RollupStore) -> EventWorker:
    """The consumer that keeps the rollups: evaluations in batches (one transaction per poll), purges one by one."""
    return EventWorker(
        settings,
        db,
        {RecordingPurgedEvent: partial(handlers.on_recording_purged, store=store)},
        batch_handlers={
            EvaluationScoredEvent: partial(handlers.on_evaluations_scored, store=store, zone=settings.zone),
            EvaluationReviewedEvent: partial(handlers.on_evaluations_reviewed, store=store, zone=settings.zone),
        },
        group=settings.consumer_group,
        options=ConsumerOptions(max_records=settings.batch_size),
        views={EvaluationScoredEvent: ScoredView},
    )


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    store = RollupStore(db)
    report_runs = ReportRuns(db, store, settings.zone)
    report_schedules = Schedules(db, report_runs, settings.smtp)
    worker = build_worker(settings, db, store)

    async def run_schedules() -> None:
        while True:
            try:
                await asyncio.to_thread(report_schedules.run_due)
            except Exception:
                log.exception("scheduled reports failed; trying again at the next poll")
            await asyncio.sleep(settings.schedule_poll_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with worker.running():
            scheduler = asyncio.create_task(run_schedules()) if settings.schedules_enabled else None
            yield
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
        db.dispose()

    app = build_app(
        settings,
        title="callqa reporting",
        description=reporting.__doc__ or "",
        routers=[runs.router, monitoring.router, schedules.router, audit.router],
        checks={"consumer": worker.ready},
        lifespan=lifespan,
        errors={
            RunNotFound: ErrorAnswer(404, "Report run not found"),
            ScheduleNotFound: ErrorAnswer(404, "Schedule not found"),
            WrongTimeZone: ErrorAnswer(422, "Time zone not available", field="time_zone"),
        },
    )
    app.state.store = store
    app.state.runs = report_runs
    app.state.schedules = report_schedules
    return app
