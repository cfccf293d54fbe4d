"""Kafka wrapper overhead: `callqa.bus` vs raw aiokafka doing the same application work.

Starts its own Tansu broker (memory engine) on a free port, then for each repetition runs, side
by side on fresh 6-partition topics:

- produce: raw `AIOKafkaProducer.send` + `event.to_bytes()` (baseline) vs `Bus.send` (wrapper);
- consume: raw `AIOKafkaConsumer.getmany` + `parse_event` + commit per batch (baseline) vs
  `Consumer` with a no-op handler (wrapper);
- reference rows: raw bytes (no JSON, no pydantic) and one-at-a-time `send_and_wait` vs
  `Bus.publish`.

Both sides get the same client configuration as the wrapper (acks=all, linger 5 ms, fetch sizes,
fast group-join timeouts), so the ratio isolates the wrapper's code. Figures are medians over the
repetitions; overhead % = extra time per message = baseline rate / wrapper rate - 1. The CPU
columns (this process's CPU time per message) are steadier than wall time on a shared machine.

    ./run bench bus [--messages 20000] [--repetitions 5] [--max-records 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tqdm import tqdm

from callqa.bus import Bus, Consumer, ConsumerOptions, ensure_topics
from callqa.events import Event, parse_event
from callqa.settings import KafkaSettings
from callqa_stack import servers
from callqa_stack.factories import recording_stored

PARTITIONS = 6
PUBLISH_CAP = 500  # send_and_wait is one round trip per message: a reference, not worth 20k
STAGE_TIMEOUT_S = 120.0  # no single stage may hang the run
# Messages of a backlog arrive microseconds apart (a commit: ~1 ms). A longer gap is the broker's
# fetch long-poll near the end of the backlog (see `Clock`), not client work: left off the clock.
STALL_S = 0.1


@dataclass(frozen=True)
class Run:
    rate: float  # messages per second, wall clock (less stalls, for consumers)
    cpu_us: float  # this process's CPU time per message: steadier than wall time on a shared machine
    stalled_s: float = 0.0  # fetch stalls left off the wall clock


class Stopwatch:
    """Wall and process-CPU time over `count` messages."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self, count: int, stalled_s: float = 0.0) -> Run:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Run(count / (wall - stalled_s), cpu / count * 1e6, stalled_s)


@dataclass
class Results:
    """The runs of each (row, side)."""

    runs: dict[tuple[str, str], list[Run]] = field(default_factory=dict)

    def add(self, row: str, side: str, run: Run) -> None:
        self.runs.setdefault((row, side), []).append(run)

    def rate(self, row: str, side: str) -> float:
        return statistics.median(r.rate for r in self.runs[(row, side)])

    def cpu_us(self, row: str, side: str) -> float:
        return statistics.median(r.cpu_us for r in self.runs[(row, side)])

    def spread(self, row: str, side: str) -> str:
        rates = [r.rate for r in self.runs[(row, side)]]
        return f"{min(rates):,.0f}–{max(rates):,.0f}"

    def stalls(self, row: str, side: str) -> str:
        stalled = [r.stalled_s for r in self.runs[(row, side)]]
        return f"{sum(s > 0 for s in stalled)}/{len(stalled)} runs, {sum(stalled):.1f} s"


def headers_of(event: Event) -> list[tuple[str, bytes]]:
    return [("event_type", event.event_type.encode()), ("correlation_id", event.correlation_id.encode())]


def raw_producer(settings: KafkaSettings, linger_ms: int = 5) -> AIOKafkaProducer:
    # The wrapper's producer configuration (linger 5 ms), so only the code path differs.
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        max_request_size=settings.max_request_size,
        linger_ms=linger_ms,
    )


def raw_consumer(settings: KafkaSettings, topic: str) -> AIOKafkaConsumer:
    # The wrapper's consumer configuration, so only the code path differs.
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        rebalance_timeout_ms=settings.rebalance_timeout_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        fetch_max_bytes=settings.max_request_size * 2,
        max_partition_fetch_bytes=settings.max_request_size,
    )


# --- produce --------------------------------------------------------------------------------


async def produce_raw(settings: KafkaSettings, topic: str, events: Sequence[Event]) -> Run:
    producer = raw_producer(settings)
    await producer.start()
    try:
        watch = Stopwatch()
        futures = [await producer.send(topic, e.to_bytes(), key=e.key.encode(), headers=headers_of(e)) for e in events]
        await asyncio.gather(*futures)
        return watch.stop(len(events))
    finally:
        await producer.stop()


async def produce_wrapper(settings: KafkaSettings, topic: str, events: Sequence[Event]) -> Run:
    async with Bus(settings) as bus:
        watch = Stopwatch()
        futures = [await bus.send(topic, e.to_bytes(), e.key.encode(), headers_of(e)) for e in events]
        await asyncio.gather(*futures)
        return watch.stop(len(events))


async def produce_bytes(settings: KafkaSettings, topic: str, events: Sequence[Event]) -> Run:
    messages = [(e.to_bytes(), e.key.encode(), headers_of(e)) for e in events]  # serialised outside the clock
    producer = raw_producer(settings)
    await producer.start()
    try:
        watch = Stopwatch()
        futures = [await producer.send(topic, v, key=k, headers=h) for v, k, h in messages]
        await asyncio.gather(*futures)
        return watch.stop(len(messages))
    finally:
        await producer.stop()


async def send_and_wait_raw(settings: KafkaSettings, events: Sequence[Event], linger_ms: int = 5) -> Run:
    producer = raw_producer(settings, linger_ms)
    await producer.start()
    try:
        watch = Stopwatch()
        for e in events:
            await producer.send_and_wait(e.topic, e.to_bytes(), key=e.key.encode(), headers=headers_of(e))
        return watch.stop(len(events))
    finally:
        await producer.stop()


async def publish_wrapper(settings: KafkaSettings, events: Sequence[Event]) -> Run:
    async with Bus(settings) as bus:
        watch = Stopwatch()
        for e in events:
            await bus.publish(e)
        return watch.stop(len(events))


# --- consume --------------------------------------------------------------------------------
# The clock runs from the first message handed to the application to the last one, so the
# consumer-group join (about a second on Tansu) is outside it; every commit but the last is inside.


class Clock:
    """Times a consumer from its first message to its last, less fetch stalls.

    Draining a backlog, aiokafka keeps one fetch in flight per broker; once some partitions are
    exhausted, that fetch asks only for them, and the broker holds it for fetch_max_wait_ms while
    the other partitions' buffers run dry. That 0.2-0.5 s pause hits a run or not by chance
    (whichever side), so it would make the medians bimodal; it is reported, not timed.
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.watch: Stopwatch | None = None
        self.previous = 0.0
        self.stalled_s = 0.0
        self.run: Run | None = None

    def tick(self) -> bool:
        """Count one message; True when it was the last expected."""
        self.count += 1
        now = time.perf_counter()
        if self.watch is None:
            self.watch = Stopwatch()
        elif now - self.previous > STALL_S:
            self.stalled_s += now - self.previous
        self.previous = now
        if self.count == self.expected:
            self.run = self.watch.stop(self.expected - 1, self.stalled_s)  # the first message started the clock
            return True
        return False

    def result(self) -> Run:
        if self.run is None:
            raise RuntimeError(f"only {self.count} of {self.expected} messages arrived")
        return self.run


async def consume_raw(settings: KafkaSettings, topic: str, expected: int, max_records: int, parse: bool) -> Run:
    consumer = raw_consumer(settings, topic)
    clock = Clock(expected)
    await consumer.start()
    try:
        while clock.count < expected:
            batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
            for records in batch.values():
                for record in records:
                    if parse:
                        parse_event(record.value or b"")
                    clock.tick()
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()
    return clock.result()


async def consume_wrapper(settings: KafkaSettings, topic: str, expected: int, max_records: int) -> Run:
    clock = Clock(expected)
    async with Bus(settings) as dead_letters:
        consumer: Consumer | None = None

        async def handle(event: Event) -> None:
            if clock.tick() and consumer is not None:
                consumer.stop()

        consumer = Consumer(
            settings,
            f"bench-wrapper-{uuid.uuid4().hex[:8]}",
            [topic],
            handle,
            dead_letters=dead_letters,
            options=ConsumerOptions(max_records=max_records),
        )
        await consumer.run()
    return clock.result()


# --- driver ---------------------------------------------------------------------------------


async def measure(settings: KafkaSettings, messages: int, repetitions: int, max_records: int) -> Results:
    events: list[Event] = [recording_stored() for _ in range(messages)]
    published = events[: min(messages, PUBLISH_CAP)]
    sides = ("baseline", "wrapper", "bytes")
    run_id = uuid.uuid4().hex[:6]
    topics = {(rep, side): f"bench.bus.{run_id}.{side}.{rep}" for rep in range(repetitions) for side in sides}
    await ensure_topics(settings, [*topics.values(), events[0].topic], partitions=PARTITIONS)

    results = Results()
    with tqdm(total=repetitions * 9, desc="bus runs", unit="run", file=sys.stderr) as progress:
        for rep in range(repetitions):
            # Baseline and wrapper alternate within each repetition, so drift hits both alike.
            base, wrap, raw = (topics[(rep, side)] for side in sides)
            runs: list[tuple[str, str, Callable[[], Awaitable[Run]]]] = [
                ("produce", "baseline", partial(produce_raw, settings, base, events)),
                ("produce", "wrapper", partial(produce_wrapper, settings, wrap, events)),
                ("produce", "bytes", partial(produce_bytes, settings, raw, events)),
                ("consume", "baseline", partial(consume_raw, settings, base, messages, max_records, parse=True)),
                ("consume", "wrapper", partial(consume_wrapper, settings, wrap, messages, max_records)),
                ("consume", "bytes", partial(consume_raw, settings, raw, messages, max_records, parse=False)),
                ("publish", "baseline", partial(send_and_wait_raw, settings, published)),
                ("publish", "wrapper", partial(publish_wrapper, settings, published)),
                ("publish", "linger0", partial(send_and_wait_raw, settings, published, linger_ms=0)),
            ]
            for row, side, stage in runs:
                results.add(row, side, await asyncio.wait_for(stage(), STAGE_TIMEOUT_S))
                progress.update()
    return results


def report(results: Results, messages: int, repetitions: int, max_records: int, load: str) -> None:
    print(
        f"\n{messages:,} RecordingStoredEvent messages, {PARTITIONS} partitions, Tansu memory engine, "
        f"max_records={max_records}, median of {repetitions} alternating runs; load average {load}\n"
        "msgs/s: wall clock (range over runs in brackets); CPU: this process's CPU µs per message\n"
    )
    header = (
        f"{'figure':<34} {'wrapper msgs/s':>24} {'baseline msgs/s':>24} {'ratio':>6} {'overhead':>9}"
        f" {'CPU µs w/b':>12} {'CPU ovh':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = [
        ("produce: Bus.send, batched", "produce", "raw producer.send + event.to_bytes()"),
        ("consume: Consumer, no-op handler", "consume", "raw getmany + parse_event + commit per batch"),
        (f"publish (ref., {min(messages, PUBLISH_CAP)} msgs)", "publish", "raw send_and_wait + event.to_bytes()"),
    ]
    for label, row, baseline_name in rows:
        wrapper, baseline = results.rate(row, "wrapper"), results.rate(row, "baseline")
        cpu_w, cpu_b = results.cpu_us(row, "wrapper"), results.cpu_us(row, "baseline")
        print(
            f"{label:<34} {wrapper:>9,.0f} [{results.spread(row, 'wrapper'):>13}] "
            f"{baseline:>9,.0f} [{results.spread(row, 'baseline'):>13}] {wrapper / baseline:>6.2f} "
            f"{(baseline / wrapper - 1) * 100:>8.1f}% {cpu_w:>5.1f}/{cpu_b:<6.1f} {(cpu_w / cpu_b - 1) * 100:>7.1f}%"
        )
        print(f"{'':<34}   baseline = {baseline_name}")
    print(
        "\nfetch stalls left off the consume clock (see Clock): "
        + "; ".join(f"{side} {results.stalls('consume', side)}" for side in ("wrapper", "baseline", "bytes"))
    )
    print("\nreference: raw bytes through aiokafka (no JSON, no pydantic), same settings")
    for row in ("produce", "consume"):
        raw, baseline = results.rate(row, "bytes"), results.rate(row, "baseline")
        print(
            f"  {row}: {raw:,.0f} msgs/s [{results.spread(row, 'bytes')}], "
            f"{results.cpu_us(row, 'bytes'):.1f} CPU µs/msg; the JSON+pydantic baseline reaches {baseline / raw:.2f}×"
        )
    print(
        f"  publish: raw send_and_wait with aiokafka's default linger_ms=0: {results.rate('publish', 'linger0'):,.0f} "
        f"msgs/s [{results.spread('publish', 'linger0')}]: one-at-a-time sends pay the 5 ms linger each"
    )
    worst = max(results.rate(r, "baseline") / results.rate(r, "wrapper") - 1 for r in ("produce", "consume")) * 100
    worst_cpu = max(results.cpu_us(r, "wrapper") / results.cpu_us(r, "baseline") - 1 for r in ("produce", "consume"))
    verdict = "meets" if worst < 20 else "MISSES"
    print(
        f"\ntarget: wrapper overhead < 20 % on produce and consume -> worst {worst:.1f} % wall "
        f"({worst_cpu * 100:.1f} % CPU): {verdict} the target"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="messages per run (default 20000)")
    parser.add_argument("--repetitions", type=int, default=5, help="alternating runs per side, >= 3 (default 5)")
    parser.add_argument("--max-records", type=int, default=100, help="getmany batch, both sides (default 100)")
    args = parser.parse_args()
    if args.repetitions < 3 or args.messages < 2:
        parser.error("need --repetitions >= 3 and --messages >= 2")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="callqa-bench-bus-") as tmp:
        broker = servers.tansu(servers.free_port(), Path(tmp) / "tansu.log")
        broker.start()
        try:
            settings = KafkaSettings(
                bootstrap_servers=f"127.0.0.1:{broker.port}",
                # Fast group joins, as in the tests: the join is not what is measured.
                session_timeout_ms=2000,
                heartbeat_interval_ms=500,
                rebalance_timeout_ms=2000,
            )
            results = asyncio.run(measure(settings, args.messages, args.repetitions, args.max_records))
        finally:
            broker.stop()
    # Other work on a 2-core machine moves wall-clock figures; the load average says how much there was.
    load = f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}"
    report(results, args.messages, args.repetitions, args.max_records, load)


if __name__ == "__main__":
    main()
