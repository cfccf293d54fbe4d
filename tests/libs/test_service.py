"""build_app's OpenAPI says what the problem handlers answer: every error is a Problem document, and the
answers a route gives by its shape (404 for a path or a body naming an object, 400 for an unparsable body, 416 for a
Range header) are documented whether or not the route lists them; EventWorker hands batches to batch handlers and
single events to them as a batch of one, hands views of events to the handlers that asked for them, and keeps what
exists at its start out of the collector while it runs."""

from __future__ import annotations

import gc
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from pydantic import BaseModel

from callqa.db import Database
from callqa.events import Event, RecordingStoredEvent, TranscriptReadyEvent
from callqa.http import PROBLEM_JSON, PROBLEM_RESPONSES
from callqa.service import YOUNG_COLLECTION, EventWorker, build_app, collector_for_batches
from callqa.settings import KafkaSettings, ServiceSettings
from callqa_stack.factories import recording_stored

router = APIRouter(prefix="/things", responses=PROBLEM_RESPONSES)


@router.get("/{thing_id}", responses={410: {"description": "gone"}})
def get_thing(thing_id: str, range_header: Annotated[str | None, Header(alias="Range")] = None) -> dict[str, str]:
    return {"id": thing_id}


@router.post("")
def post_thing(thing: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return thing


def test_error_answers_are_problem_documents_and_shaped_answers_are_documented() -> None:
    document = build_app(ServiceSettings(), title="t", description="", routers=[router]).openapi()
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    get = document["paths"]["/things/{thing_id}"]["get"]["responses"]
    post = document["paths"]["/things"]["post"]["responses"]
    assert {"401", "403", "404", "410", "416", "422"} <= set(get) and "400" not in get
    assert {"400", "401", "403", "404", "422"} <= set(post) and "416" not in set(post)  # a body may name an object
    for responses in (get, post):
        for status, response in responses.items():
            assert (response.get("content") == problem) == (status[0] == "4"), status
    readyz = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert readyz["content"] == {"application/json": {}}, "readiness answers its own JSON, not a problem"


async def test_event_worker_hands_batches_to_batch_handlers_and_single_events_as_a_batch_of_one(
    sqlite_url: str,
) -> None:
    batches: list[list[str]] = []
    singles: list[str] = []
    worker = EventWorker(
        ServiceSettings(),
        Database(sqlite_url),
        {TranscriptReadyEvent: singles.append},
        batch_handlers={RecordingStoredEvent: lambda payloads: batches.append([p.recording_id for p in payloads])},
        group="g",
    )
    assert worker.topics == ["callqa.transcript.ready.v1", "callqa.recording.stored.v1"]
    events: list[Event] = [recording_stored("a"), recording_stored("b")]
    await worker.handle_batch(events)
    await worker.handle(recording_stored("c"))  # the consumer's one-by-one fallback
    assert batches == [["a", "b"], ["c"]]


async def test_event_worker_tunes_the_collector_while_it_runs_and_restores_it_when_it_stops(
    sqlite_url: str, kafka_settings: KafkaSettings
) -> None:
    db = Database(sqlite_url)
    worker = EventWorker(
        ServiceSettings(kafka=kafka_settings), db, {TranscriptReadyEvent: lambda _: None}, group="g-freeze"
    )
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    async with worker.running():
        assert gc.get_freeze_count() > 0  # start-up objects: no longer walked by every full collection
        assert gc.get_threshold()[0] == YOUNG_COLLECTION
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
    db.dispose()


class StoredView(BaseModel):
    recording_id: str
    agent_id: str


async def test_event_worker_parses_the_events_it_has_a_view_of_into_that_view(sqlite_url: str) -> None:
    batches: list[list[StoredView]] = []
    worker = EventWorker(
        ServiceSettings(),
        Database(sqlite_url),
        {},
        batch_handlers={RecordingStoredEvent: batches.append},
        group="g",
        views={RecordingStoredEvent: StoredView},
    )
    parse = worker.parsers["callqa.recording.stored.v1"]
    views = [parse(recording_stored(r).to_bytes()) for r in ("a", "b")]
    await worker.handle_batch(views)
    await worker.handle(views[0])  # the consumer's one-by-one fallback
    assert [[v.recording_id for v in batch] for batch in batches] == [["a", "b"], ["a"]]
    assert all(type(v) is StoredView for batch in batches for v in batch)


def test_the_collector_is_restored_when_the_last_of_several_workers_stops() -> None:
    thresholds = gc.get_threshold()
    with collector_for_batches():
        with collector_for_batches():  # a second worker in the same process
            assert gc.get_threshold()[0] == YOUNG_COLLECTION
        assert gc.get_threshold()[0] == YOUNG_COLLECTION and gc.get_freeze_count() > 0  # the first still runs
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
