"""The coaching process: sampling, review, appeals and calibration APIs; problem analyses, improvement plans with
verified follow-up, training requests; the worker that keeps a copy of every evaluation
(`evaluation.scored`) and erases purged calls' words (`recording.purged`); and the periodic tasks (scheduled
releases, review reminders, plan follow-ups, the FAQ) that every replica ticks and one runs at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

import coaching
from callqa.db import Database
from callqa.events import EvaluationScoredEvent, RecordingPurgedEvent, TranscriptReadyEvent
from callqa.http import ErrorAnswer
from callqa.service import EventWorker, build_app
from callqa.storage import ObjectStore
from coaching import handlers
from coaching.analyses import ProblemAnalyses
from coaching.api import (
    appeals,
    assignments,
    calibrations,
    evaluations,
    improvement,
    library,
    plans,
    problems,
    runs,
    tasks,
    training,
)
from coaching.appeals import Policy, Route
from coaching.config import Settings
from coaching.disputes import Disputes
from coaching.errors import (
    AppealRefused,
    Invalid,
    InvalidDecision,
    ItemNotInScorecard,
    NoObservedCalls,
    NotFound,
    NotYours,
    RevisionRequired,
    StaleRevision,
    WrongState,
)
from coaching.followup import FollowUpParams
from coaching.improvement import ImprovementPlans
from coaching.ledger import Ledger
from coaching.library import Library
from coaching.plans import PlanExists, SamplingPlans
from coaching.reviews import Reviews
from coaching.scheduler import Scheduler, Task
from coaching.sessions import Calibrations
from coaching.training import TrainingRequests


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    ledger = Ledger(
        db, release_automatic=settings.release_automatic, default_pass_threshold=settings.default_pass_threshold
    )
    reviews = Reviews(
        db,
        ledger,
        release_on_submit=settings.release_on_submit,
        due_days=settings.review_due_days,
        reminder_every=timedelta(hours=settings.review_reminder_hours),
    )
    policy = Policy(
        timedelta(days=settings.appeal_window_days), settings.appeal_max_rounds, Route(settings.appeal_route)
    )
    follow_up = FollowUpParams(
        min_calls=settings.follow_up_min_calls,
        alpha=settings.follow_up_alpha,
        require_control=settings.follow_up_require_control,
    )
    analyses = ProblemAnalyses(db)
    improvement_plans = ImprovementPlans(
        db, analyses, follow_up, idle_days=settings.plan_idle_days, recurrence_days=settings.recurrence_days
    )
    transcripts = ObjectStore.from_settings(settings.s3.model_copy(update={"bucket": settings.transcripts_bucket}))
    training_library = Library(
        db, transcripts, url_ttl=timedelta(seconds=settings.audio_url_ttl_s), faq_max_calls=settings.faq_max_calls
    )
    worker = EventWorker(
        settings,
        db,
        {
            EvaluationScoredEvent: partial(handlers.on_evaluation_scored, ledger=ledger, library=training_library),
            TranscriptReadyEvent: partial(handlers.on_transcript_ready, library=training_library),
            RecordingPurgedEvent: partial(handlers.on_recording_purged, ledger=ledger, library=training_library),
        },
        group=settings.consumer_group,
    )

    every = timedelta(seconds=settings.sweep_interval_s)
    scheduler = Scheduler(
        db,
        [
            Task("releases", timedelta(seconds=settings.release_interval_s), ledger.release_due),
            Task("review-reminders", every, reviews.remind_overdue),
            Task("improvement-plans", every, improvement_plans.sweep),
            Task("faq", every, training_library.refresh_faq),
        ],
        lease=timedelta(seconds=settings.task_lease_s),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ticker: asyncio.Task[None] | None = None
        if settings.sweep_interval_s > 0:
            ticker = asyncio.create_task(scheduler.loop(min(settings.sweep_interval_s, settings.release_interval_s)))
        try:
            async with worker.running():
                yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        db.dispose()

    app = build_app(
        settings,
        title="callqa coaching",
        description=coaching.__doc__ or "",
        routers=[
            plans.router,
            plans.quota,
            runs.router,
            assignments.router,
            evaluations.router,
            evaluations.agreement,
            appeals.router,
            calibrations.router,
            problems.router,
            improvement.router,
            training.router,
            library.items,
            library.learning,
            library.records,
            library.faq,
            tasks.router,
        ],
        checks={"consumer": worker.ready},
        lifespan=lifespan,
        errors={
            NotFound: ErrorAnswer(404, "Not found"),
            NotYours: ErrorAnswer(403, "Forbidden"),
            WrongState: ErrorAnswer(409, "Not allowed in this state"),
            StaleRevision: ErrorAnswer(409, "Stale revision", field="If-Match"),
            RevisionRequired: ErrorAnswer(428, "If-Match required", field="If-Match"),
            AppealRefused: ErrorAnswer(409, "Appeal or acknowledgement refused"),
            ItemNotInScorecard: ErrorAnswer(422, "Item not in the scorecard"),
            InvalidDecision: ErrorAnswer(422, "Invalid request"),
            Invalid: ErrorAnswer(422, "Invalid request"),
            NoObservedCalls: ErrorAnswer(422, "No handle time to observe", field="average_handle_time_s"),
            PlanExists: ErrorAnswer(409, "Sampling plan exists", field="plan_id"),
        },
    )
    app.state.ledger = ledger
    app.state.reviews = reviews
    app.state.plans = SamplingPlans(db, ledger, reviews)
    app.state.disputes = Disputes(db, ledger, policy)
    app.state.calibrations = Calibrations(db, ledger)
    app.state.analyses = analyses
    app.state.library = training_library
    app.state.improvement = improvement_plans
    app.state.training = TrainingRequests(db, analyses, reviews, follow_up)
    app.state.scheduler = scheduler
    return app
