"""The Kafka wrapper: a producer for events and a consumer loop with the delivery rules.

Delivery rules (see DESIGN.md): offsets are committed only after the handler returned, so a
crash redelivers (at-least-once; handlers are idempotent). A handler error is retried with
exponential backoff; a message that still fails, or that is not a valid event at all, goes to
`<topic>.dlq` with the error in its headers, and the consumer moves on. `stop()` lets the
current message finish (or abandons it uncommitted) and leaves the group cleanly.

Batch mode (`batch_handler`): what one poll returned (at most `max_records`) is handed over in runs of
consecutive events of one type, and the offsets are committed once every run's handler returned. When a
run's handler raises, the run is handled again one message at a time with `handler`, so only the message
at fault is retried and parked (a batch handler should be atomic, or at least idempotent).

Parsing: a record becomes the full event (`parse_event`), or, for a topic in `parsers`, what its parser makes of
it (a consumer's view of the event, `callqa.events.view_parser`); a record its parser rejects goes to the DLQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from prometheus_client import Counter, Gauge, Histogram

from callqa.events import Envelope, Event, EventError, EventView, dlq_topic, parse_event
from callqa.observability import correlation_id
from callqa.settings import KafkaSettings

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
Message = Event | EventView[Any]  # what a record's value is parsed into (`Consumer.parsers`)
Parser = Callable[[bytes], Message]
Handler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[list[Message]], Awaitable[None]]  # messages of one type, in offset order per partition

MESSAGES_FAILED = Counter("callqa_messages_failed_total", "Handler attempts that raised", ["group", "topic"])
MESSAGES_DLQ = Counter("callqa_messages_dlq_total", "Messages sent to a dead-letter topic", ["group", "topic"])
# Its `_count` is the number of messages handled successfully (no separate counter on the hot path).
PROCESSING_SECONDS = Histogram(
    "callqa_message_processing_seconds",
    "Time to handle one message successfully, retries included",
    ["group", "topic"],
    buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300, 1800),
)
LAG_INTERVAL_S = 1.0
REACHABLE_TIMEOUT_S = 2.0  # within the 3 s a readiness check gets
CONSUMER_LAG = Gauge("callqa_consumer_lag", "High-water mark minus committed position", ["group", "topic", "partition"])


@dataclass(frozen=True)
class _TopicMetrics:
    failed: Any
    seconds: Any


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (bad input): straight to the DLQ."""


class Abandoned(Exception):
    """Raise from a handler that gave up its work because the service is stopping: the message stays
    uncommitted (another replica, or this one restarted, does it again) and never reaches the DLQ."""


# --- producer ------------------------------------------------------------------------------


class Bus:
    """Producer side; also creates topics. Use as `async with Bus(settings) as bus:`."""

    def __init__(self, settings: KafkaSettings, client_id: str | None = None) -> None:
        self.settings = settings
        self.client_id = client_id or settings.client_id
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Bus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=self.settings.enable_idempotence,
            max_request_size=self.settings.max_request_size,
            linger_ms=5,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # release the half-open connections
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("Bus is not started")
        return self._producer

    async def publish(self, event: Envelope) -> None:
        """Publish one event and wait for the broker's acknowledgement from all replicas."""
        await self.producer.send_and_wait(
            event.topic, event.to_bytes(), key=event.key.encode(), headers=_headers(event)
        )

    async def send(
        self, topic: str, value: bytes, key: bytes | None, headers: Headers | None = None
    ) -> asyncio.Future[Any]:
        """Queue a raw message; await the returned future for its acknowledgement (batching)."""
        future: asyncio.Future[Any] = await self.producer.send(topic, value, key=key, headers=headers or [])
        return future

    async def ensure_topics(self, topics: Iterable[str], partitions: int | None = None) -> None:
        """Create missing topics (and their DLQs); existing ones are left as they are."""
        await ensure_topics(self.settings, topics, partitions)


def _headers(event: Envelope) -> Headers:
    return [("event_type", event.event_type.encode()), ("correlation_id", event.correlation_id.encode())]


async def ensure_topics(settings: KafkaSettings, topics: Iterable[str], partitions: int | None = None) -> None:
    wanted = {t for topic in topics for t in (topic, dlq_topic(topic))}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        missing = wanted - set(await admin.list_topics())
        for topic in sorted(missing):
            count = 1 if topic.endswith(".dlq") else partitions or settings.topic_partitions
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica won the race
                await admin.create_topics([NewTopic(topic, num_partitions=count, replication_factor=1)])
    finally:
        await admin.close()


# --- consumer ------------------------------------------------------------------------------


@dataclass
class ConsumerOptions:
    max_records: int = 100  # 1 for long jobs: commit after each
    auto_offset_reset: str = "earliest"


class Consumer:
    """Consume `topics` in consumer group `group_id`, calling `handler` for each event."""

    def __init__(
        self,
        settings: KafkaSettings,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        dead_letters: Bus,
        options: ConsumerOptions | None = None,
        batch_handler: BatchHandler | None = None,
        parsers: Mapping[str, Parser] | None = None,
    ) -> None:
        self.settings = settings
        self.parsers = dict(parsers or {})  # topic -> how its records are parsed (default: the full event)
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.batch_handler = batch_handler
        self.dead_letters = dead_letters
        self.options = options or ConsumerOptions()
        self._stopping = asyncio.Event()
        self._abandon = False
        self._current: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.ready = asyncio.Event()  # set once partitions are first assigned
        self._topic_metrics: dict[str, _TopicMetrics] = {}
        self._lag_updated = 0.0

    async def reachable(self) -> bool:
        """Readiness: joined the group once, and the broker answers a metadata request now.

        aiokafka keeps retrying quietly while the broker is away; without this probe a worker
        cut off from its broker would keep saying it is ready.
        """
        consumer = self._consumer
        if consumer is None or not self.ready.is_set():
            return False
        try:
            async with asyncio.timeout(REACHABLE_TIMEOUT_S):
                await consumer.topics()
        except (TimeoutError, KafkaError):
            return False
        return True

    def stop(self, abandon: bool = False) -> None:
        """Finish the current message (or abandon it uncommitted) and leave the group."""
        self._abandon = self._abandon or abandon
        self._stopping.set()
        if abandon and self._current is not None:
            self._current.cancel()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.bootstrap_servers,
            client_id=f"{self.settings.client_id}-{self.group_id}",
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset=self.options.auto_offset_reset,
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
            rebalance_timeout_ms=self.settings.rebalance_timeout_ms,
            max_poll_interval_ms=self.settings.max_poll_interval_ms,
            fetch_max_bytes=self.settings.max_request_size * 2,
            max_partition_fetch_bytes=self.settings.max_request_size,
        )
        self._consumer = consumer
        await consumer.start()
        log.info("consumer started", extra={"group": self.group_id, "topics": self.topics})
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=self.options.max_records)
                if consumer.assignment():
                    self.ready.set()
                if self.batch_handler is not None:
                    if batch:
                        await self._process_poll(consumer, batch, self.batch_handler)
                else:
                    for tp, records in batch.items():
                        if not await self._process_partition(consumer, tp, records):
                            break
                await self._update_lag(consumer)
        finally:
            self._consumer = None
            await consumer.stop()
            log.info("consumer stopped", extra={"group": self.group_id})

    async def _process_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> bool:
        """Handle records in order and commit after them; False when stopping cut the batch short."""
        done: int | None = None
        self._current = asyncio.current_task()  # what stop(abandon=True) cancels
        try:
            for record in records:
                if self._stopping.is_set() and done is not None:
                    break
                try:
                    await self._process(record)
                except asyncio.CancelledError:
                    if self._abandon:
                        if self._current is not None:
                            self._current.uncancel()
                        log.warning("abandoned message uncommitted", extra={"topic": tp.topic, "offset": record.offset})
                        return False
                    raise
                done = record.offset
        finally:
            self._current = None
        if done is not None:
            try:
                await consumer.commit({tp: done + 1})
            except CommitFailedError:
                # The partition moved to another member during a rebalance; it will redeliver.
                log.warning("commit failed after rebalance", extra={"topic": tp.topic, "partition": tp.partition})
        return not self._stopping.is_set()

    async def _process_poll(
        self,
        consumer: AIOKafkaConsumer,
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        handler: BatchHandler,
    ) -> None:
        """Batch mode: hand one poll over in runs of one event type, then commit every partition once."""
        runs: list[tuple[type, list[tuple[ConsumerRecord[bytes, bytes], Message]]]] = []
        self._current = asyncio.current_task()
        try:
            for records in batch.values():
                for record in records:
                    try:
                        event = self.parsers.get(record.topic, parse_event)(record.value or b"")
                    except EventError as exc:
                        await self._dead_letter(record, exc, attempts=0)
                        continue
                    if runs and runs[-1][0] is type(event):
                        runs[-1][1].append((record, event))
                    else:
                        runs.append((type(event), [(record, event)]))
            for _, run in runs:
                await self._process_run(handler, run)
        except asyncio.CancelledError:
            if self._abandon:
                if self._current is not None:
                    self._current.uncancel()
                log.warning("abandoned a batch uncommitted", extra={"messages": sum(map(len, batch.values()))})
                return
            raise
        finally:
            self._current = None
        try:
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items() if records})
        except CommitFailedError:
            log.warning("commit failed after rebalance", extra={"partitions": len(batch)})

    async def _process_run(
        self, handler: BatchHandler, run: list[tuple[ConsumerRecord[bytes, bytes], Message]]
    ) -> None:
        started = time.perf_counter()
        try:
            await handler([event for _, event in run])
        except Abandoned:
            raise asyncio.CancelledError from None
        except Exception:
            # One bad message must not park its neighbours: do the run again one by one (retries, DLQ).
            log.warning("batch handler failed, handling its %d messages one by one", len(run), exc_info=True)
            for record, event in run:
                await self._process(record, event)
            return
        metrics = self._metrics(run[0][0].topic)
        share = (time.perf_counter() - started) / len(run)
        for _ in run:  # the histogram's count stays "messages handled"
            metrics.seconds.observe(share)

    def _metrics(self, topic: str) -> _TopicMetrics:
        # Resolving label values costs more than the update itself: do it once per topic.
        metrics = self._topic_metrics.get(topic)
        if metrics is None:
            labels = (self.group_id, topic)
            metrics = _TopicMetrics(MESSAGES_FAILED.labels(*labels), PROCESSING_SECONDS.labels(*labels))
            self._topic_metrics[topic] = metrics
        return metrics

    async def _process(self, record: ConsumerRecord[bytes, bytes], event: Message | None = None) -> None:
        metrics = self._metrics(record.topic)
        started = time.perf_counter()
        if event is None:
            try:
                event = self.parsers.get(record.topic, parse_event)(record.value or b"")
            except EventError as exc:
                await self._dead_letter(record, exc, attempts=0)
                return
        token = correlation_id.set(event.correlation_id)
        try:
            attempt = 0
            while True:
                attempt += 1
                try:
                    await self.handler(event)
                    break
                except Abandoned:
                    raise asyncio.CancelledError from None  # as if stop(abandon=True) had cancelled it
                except PermanentError as exc:
                    metrics.failed.inc()
                    await self._dead_letter(record, exc, attempts=attempt)
                    return
                except Exception as exc:
                    metrics.failed.inc()
                    if attempt > self.settings.max_retries:
                        await self._dead_letter(record, exc, attempts=attempt)
                        return
                    delay = min(self.settings.retry_backoff_s * 2 ** (attempt - 1), self.settings.retry_backoff_max_s)
                    log.warning("handler failed, retrying in %.2fs", delay, exc_info=True, extra={"attempt": attempt})
                    await asyncio.sleep(delay)
        finally:
            correlation_id.reset(token)
        metrics.seconds.observe(time.perf_counter() - started)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: BaseException, attempts: int) -> None:
        """Park the message with its error; keep trying until the DLQ has it, never drop it."""
        headers: Headers = [
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq.")],
            ("dlq.error", f"{type(error).__name__}: {error}"[:4000].encode()),
            ("dlq.error_type", type(error).__name__.encode()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.consumer_group", self.group_id.encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        delay = self.settings.retry_backoff_s
        while True:
            try:
                future = await self.dead_letters.send(dlq_topic(record.topic), record.value or b"", record.key, headers)
                await future
                break
            except KafkaError:
                log.exception("cannot reach the DLQ, retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max_s)
        MESSAGES_DLQ.labels(self.group_id, record.topic).inc()
        log.error(
            "message sent to DLQ",
            extra={"topic": record.topic, "offset": record.offset, "error": str(error)[:500], "attempts": attempts},
        )

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if now - self._lag_updated < LAG_INTERVAL_S:  # a gauge scraped every few seconds needs no more
            return
        self._lag_updated = now
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:  # nothing fetched yet
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(max(0, highwater - position))
