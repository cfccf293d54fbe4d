"""What every service has in common: the FastAPI app (logging, auth, problem details, health),
the consuming half of a worker (`EventWorker`) and the `python -m <service>` entry point."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from callqa.auth import Authenticator
from callqa.bus import Bus, Consumer, ConsumerOptions, Message
from callqa.db import Database
from callqa.events import TOPICS, Envelope, view_of, view_parser
from callqa.http import PROBLEM_JSON, ErrorAnswer, install_error_answers, install_problem_handlers
from callqa.observability import ReadinessCheck, configure_logging, health_router
from callqa.outbox import OutboxRelay
from callqa.settings import KafkaSettings, ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    checks: dict[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    errors: Mapping[type[Exception], ErrorAnswer] | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """The service's app; `errors` is its one table of domain errors and how each answers."""
    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings.auth)
    install_problem_handlers(app)
    install_error_answers(app, errors or {})
    app.include_router(health_router(checks if checks is not None else {}))
    for router in routers:
        app.include_router(router)
    document_problems(app)
    return app


# Answers any route may give by its shape, whether or not the route lists them (see `document_problems`).
SHAPED_PROBLEMS = {
    "404": "Not found: an object the path or the body names does not exist",
    "400": "Malformed request body (not JSON, not UTF-8, broken multipart)",
    "416": "Range not satisfiable",
}


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI say what the problem handlers answer, so clients (and schema checks) can rely on it.

    Every error response is an `application/problem+json` `Problem` (unless a route documents other content);
    a path or a body naming an object may answer 404, a request body 400 when it cannot be parsed, a `Range` header 416.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        if "Problem" not in document.get("components", {}).get("schemas", {}):
            problem = {}  # an app with no problem-answering route has no Problem schema to point at
        for path, item in document.get("paths", {}).items():
            for operation in item.values():
                responses: dict[str, Any] = operation.setdefault("responses", {})
                parameters = operation.get("parameters", [])
                shaped = {
                    "404": "{" in path or "requestBody" in operation,  # a body may name an object too
                    "400": "requestBody" in operation,
                    "416": any(p["in"] == "header" and p["name"].lower() == "range" for p in parameters),
                }
                for status, applies in shaped.items():
                    if applies:
                        responses.setdefault(status, {"description": SHAPED_PROBLEMS[status]})
                for status, response in responses.items():
                    content = response.get("content")
                    if status[0] in "45" and (content is None or PROBLEM_JSON in content):
                        response["content"] = {PROBLEM_JSON: problem}
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app with uvicorn; SIGTERM triggers the lifespan's graceful shutdown."""
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


def run_cli(settings: ServiceSettings, create_app: Callable[[Any], FastAPI], migrations_dir: Path) -> None:
    """`python -m <service> [serve|migrate]`: what every service's `__main__` does."""
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        Database(settings.database_url).migrate(migrations_dir)
    elif command == "serve":
        serve(create_app(settings), settings)
    else:
        sys.exit(f"usage: python -m {settings.service_name.replace('-', '_')} [serve|migrate]")


YOUNG_COLLECTION = 20_000  # allocations between collections of the youngest generation while a worker runs


@contextlib.contextmanager
def collector_for_batches() -> Iterator[None]:
    """Garbage collection fit for a worker that parses batches of events (a third of reporting's ingestion CPU).

    What exists on entry (app, schemas, clients, modules) lives as long as the process: frozen, full collections
    no longer walk it again and again. The youngest generation is collected every YOUNG_COLLECTION allocations
    rather than 700: a poll's events (tens of thousands of objects) live until they are stored and were walked at
    every young and middle collection meanwhile. Both undone when the last worker of the process stops (tests
    start many, some side by side)."""
    with _collector.lock:
        if not _collector.active:
            gc.freeze()
            _collector.thresholds = gc.get_threshold()
            gc.set_threshold(YOUNG_COLLECTION, *_collector.thresholds[1:])
        _collector.active += 1
    try:
        yield
    finally:
        with _collector.lock:
            _collector.active -= 1
            if not _collector.active:
                gc.set_threshold(*_collector.thresholds)
                gc.unfreeze()


@dataclass
class _CollectorState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0  # workers running in this process
    thresholds: tuple[int, ...] = ()  # the collector's thresholds before the first of them


_collector = _CollectorState()


# A handler takes an event's payload; a plain (blocking) function runs in a worker thread.
EventHandler = Callable[[Any], Any]  # what it returns is ignored
# A batch handler takes the payloads of consecutive events of one type (one poll's worth, in order).
BatchEventHandler = Callable[[list[Any]], Any]


class EventWorker:
    """The consuming half of a service, wired the same way in each: a consumer group on the topics
    of the handled events, their dead-letter topics, the outbox relay that publishes what the
    handlers enqueued, graceful stop, and readiness (joined, broker answering, database answering).

    Build it in `create_app`, enter `running()` in the lifespan, pass `ready` to `build_app`.

    `batch_handlers` (event class -> handler of a list of payloads) switch the consumer to batch mode: one
    call (and one thread hop) per run of events of that type in a poll, offsets committed after the poll.
    A failing batch is handled again one event at a time (the batch handler called with a list of one,
    unless `handlers` has a handler of its own for the type), so only a poison event reaches the DLQ.

    `views` (event class -> payload model): the handlers of those events take that model, parsed straight from
    the message bytes with only the fields it names (`callqa.events.view_parser`), instead of the full payload.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        db: Database,
        handlers: Mapping[type[Envelope], EventHandler],
        *,
        group: str,
        options: ConsumerOptions | None = None,
        kafka: KafkaSettings | None = None,
        abandon_on_stop: bool = False,
        batch_handlers: Mapping[type[Envelope], BatchEventHandler] | None = None,
        views: Mapping[type[Envelope], type[BaseModel]] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.handlers = dict(handlers)
        self.batch_handlers = dict(batch_handlers or {})
        self.topics = list(dict.fromkeys(TOPICS[event_class] for event_class in (*self.handlers, *self.batch_handlers)))
        self.group = group
        self.options = options or ConsumerOptions()
        self.kafka = kafka or settings.kafka
        self.abandon_on_stop = abandon_on_stop  # long jobs: leave the current one uncommitted for a replica
        self.consumer: Consumer | None = None
        self.parsers = {TOPICS[cls]: view_parser(cls, view) for cls, view in (views or {}).items()}
        # a view's class -> the event class whose handlers take it
        self._event_class: dict[type, type] = {view_of(view): cls for cls, view in (views or {}).items()}

    def _handled_as(self, event: Message) -> type:
        return self._event_class.get(type(event), type(event))

    async def handle(self, event: Message) -> None:
        handler = self.handlers.get(self._handled_as(event))
        if handler is None:
            batch_handler = self.batch_handlers.get(self._handled_as(event))
            if batch_handler is None:
                return  # another event type on a shared topic: not ours
            await _call(batch_handler, [event.payload])
            return
        await _call(handler, event.payload)

    async def handle_batch(self, events: list[Message]) -> None:
        """Events of one type (the consumer's batch mode)."""
        batch_handler = self.batch_handlers.get(self._handled_as(events[0]))
        if batch_handler is not None:
            await _call(batch_handler, [event.payload for event in events])
            return
        for event in events:
            await self.handle(event)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        relay = OutboxRelay(self.db, self.settings.kafka, self.settings.service_name)
        async with Bus(self.settings.kafka, client_id=f"{self.settings.service_name}-dlq") as dead_letters:
            await dead_letters.ensure_topics(self.topics)
            self.consumer = Consumer(
                self.kafka,
                self.group,
                self.topics,
                self.handle,
                dead_letters,
                self.options,
                batch_handler=self.handle_batch if self.batch_handlers else None,
                parsers=self.parsers,
            )
            tasks = [asyncio.create_task(self.consumer.run()), asyncio.create_task(relay.run())]
            try:
                with collector_for_batches():
                    yield
            finally:
                self.consumer.stop(abandon=self.abandon_on_stop)
                relay.stop()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                self.consumer = None

    async def ready(self) -> bool:
        consumer = self.consumer
        return consumer is not None and await consumer.reachable() and await asyncio.to_thread(self.db.ping)


async def _call(handler: Callable[[Any], Any], argument: Any) -> None:
    if inspect.iscoroutinefunction(handler):
        await handler(argument)
    else:
        await asyncio.to_thread(handler, argument)
