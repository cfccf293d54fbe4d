"""The coaching process: sampling, review, appeals and calibration APIs, and the worker that keeps a copy
of every evaluation (`evaluation.scored`) and erases purged calls' words (`recording.purged`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

import coaching
from callqa.db import Database
from callqa.events import EvaluationScoredEvent, RecordingPurgedEvent
from callqa.http import ErrorAnswer
from callqa.service import EventWorker, build_app
from coaching import handlers
from coaching.api import appeals, assignments, calibrations, evaluations, plans, runs
from coaching.appeals import Policy, Route
from coaching.config import Settings
from coaching.disputes import Disputes
from coaching.errors import (
    AppealRefused,
    InvalidDecision,
    ItemNotInScorecard,
    NoObservedCalls,
    NotFound,
    NotYours,
    RevisionRequired,
    StaleRevision,
    WrongState,
)
from coaching.ledger import Ledger
from coaching.plans import PlanExists, SamplingPlans
from coaching.reviews import Reviews
from coaching.sessions import Calibrations


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)
    ledger = Ledger(
        db, release_automatic=settings.release_automatic, default_pass_threshold=settings.default_pass_threshold
    )
    reviews = Reviews(db, ledger, release_on_submit=settings.release_on_submit)
    policy = Policy(
        timedelta(days=settings.appeal_window_days), settings.appeal_max_rounds, Route(settings.appeal_route)
    )
    worker = EventWorker(
        settings,
        db,
        {
            EvaluationScoredEvent: partial(handlers.on_evaluation_scored, ledger=ledger),
            RecordingPurgedEvent: partial(handlers.on_recording_purged, ledger=ledger),
        },
        group=settings.consumer_group,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with worker.running():
            yield
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
            NoObservedCalls: ErrorAnswer(422, "No handle time to observe", field="average_handle_time_s"),
            PlanExists: ErrorAnswer(409, "Sampling plan exists", field="plan_id"),
        },
    )
    app.state.ledger = ledger
    app.state.reviews = reviews
    app.state.plans = SamplingPlans(db, ledger, reviews)
    app.state.disputes = Disputes(db, ledger, policy)
    app.state.calibrations = Calibrations(db, ledger)
    return app
