"""The Kafka wrapper against a real Tansu broker."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from callqa.bus import Bus, Consumer, ConsumerOptions, PermanentError, ensure_topics
from callqa.events import Event, dlq_topic
from callqa.settings import KafkaSettings
from callqa_stack.factories import recording_stored
from tests.helpers import read_all

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def running(consumer: Consumer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.ready.wait(), 30)
    try:
        yield task
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


@pytest.fixture
async def topic(kafka_settings: KafkaSettings, unique: str) -> str:
    name = f"test.bus.{unique}"
    await ensure_topics(kafka_settings, [name])
    return name


@pytest.fixture
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[Bus]:
    async with Bus(kafka_settings) as started:
        yield started


async def publish_to(bus: Bus, topic: str, event: Event) -> None:
    await (await bus.send(topic, event.to_bytes(), event.key.encode()))


def consumer_for(
    settings: KafkaSettings, bus: Bus, topic: str, group: str, handler: Callable[[Event], Awaitable[None]]
) -> Consumer:
    return Consumer(settings, group, [topic], handler, dead_letters=bus)


async def test_ensure_topics_is_idempotent_and_creates_dlqs(kafka_settings: KafkaSettings, unique: str) -> None:
    name = f"test.topics.{unique}"
    await ensure_topics(kafka_settings, [name], partitions=4)
    await ensure_topics(kafka_settings, [name], partitions=4)
    probe = AIOKafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await probe.start()
    try:
        topics = await probe.topics()
        assert {name, dlq_topic(name)} <= topics
        assert len(probe.partitions_for_topic(name) or ()) == 4
    finally:
        await probe.stop()


async def test_publish_uses_the_event_topic_and_key(kafka_settings: KafkaSettings, bus: Bus) -> None:
    event = recording_stored()
    await ensure_topics(kafka_settings, [event.topic])
    await bus.publish(event)
    records = await read_all(kafka_settings, event.topic, expected=10**6, timeout=3)
    mine = [r for r in records if r.key == event.key.encode()]
    assert len(mine) == 1
    assert dict(mine[0].headers)["event_type"] == b"recording.stored"


async def test_per_key_order_holds(kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str) -> None:
    keys = [f"rec-{i}" for i in range(5)]
    sent: dict[str, list[str]] = defaultdict(list)
    for n in range(20):
        for key in keys:
            event = recording_stored(key, call_id=f"{key}-{n}")
            sent[key].append(event.payload.call_id)
            await bus.send(topic, event.to_bytes(), key.encode())
    seen: dict[str, list[str]] = defaultdict(list)

    async def handle(event: Event) -> None:
        seen[event.key].append(event.payload.call_id)  # type: ignore[union-attr]

    async with running(consumer_for(kafka_settings, bus, topic, f"g-{unique}", handle)):
        await wait_until(lambda: sum(map(len, seen.values())) >= 100)
    assert seen == sent


async def test_retries_transient_failures_then_succeeds(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    attempts = 0
    done = asyncio.Event()

    async def flaky(event: Event) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("database blinked")
        done.set()

    await publish_to(bus, topic, recording_stored())
    async with running(consumer_for(kafka_settings, bus, topic, f"g-{unique}", flaky)):
        await asyncio.wait_for(done.wait(), 20)
    assert attempts == 3
    assert await read_all(kafka_settings, dlq_topic(topic), expected=1, timeout=1) == []


async def test_failing_and_poison_messages_go_to_the_dlq_and_the_consumer_moves_on(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    bad, permanent, good = recording_stored("bad"), recording_stored("permanent"), recording_stored("good")
    handled: list[str] = []

    async def handle(event: Event) -> None:
        if event.key == "bad":
            raise RuntimeError("always broken")
        if event.key == "permanent":
            raise PermanentError("audio undecodable")
        handled.append(event.key)

    await (await bus.send(topic, b"\x00 not an event", b"poison"))
    for event in (bad, permanent, good):
        await publish_to(bus, topic, event)
    async with running(consumer_for(kafka_settings, bus, topic, f"g-{unique}", handle)):
        await wait_until(lambda: handled == ["good"])
        # Keys spread over partitions, so "good" may come before the others: wait for all three.
        dead = await read_all(kafka_settings, dlq_topic(topic), expected=3)
    by_key = {r.key: dict(r.headers) for r in dead}
    assert set(by_key) == {b"poison", b"bad", b"permanent"}
    assert by_key[b"bad"]["dlq.error"] == b"RuntimeError: always broken"
    assert by_key[b"bad"]["dlq.attempts"] == str(kafka_settings.max_retries + 1).encode()
    assert by_key[b"permanent"]["dlq.attempts"] == b"1"
    assert by_key[b"poison"]["dlq.error_type"] == b"EventError"
    assert by_key[b"bad"]["dlq.original_topic"] == topic.encode()


async def test_two_consumers_in_a_group_split_the_partitions(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    received: dict[str, set[str]] = {"a": set(), "b": set()}

    def handler(name: str) -> Callable[[Event], Awaitable[None]]:
        async def handle(event: Event) -> None:
            received[name].add(event.key)

        return handle

    group = f"g-{unique}"
    first = consumer_for(kafka_settings, bus, topic, group, handler("a"))
    second = consumer_for(kafka_settings, bus, topic, group, handler("b"))
    async with running(first), running(second):
        await wait_until(lambda: len(first._consumer.assignment() if first._consumer else ()) < 3)  # rebalanced
        await asyncio.sleep(1)
        keys = [f"rec-{i}" for i in range(60)]
        for key in keys:
            await publish_to(bus, topic, recording_stored(key))
        await wait_until(lambda: received["a"] | received["b"] == set(keys))
    assert received["a"] and received["b"], "both members should own partitions"
    assert not received["a"] & received["b"], "a key belongs to one partition, hence one member"


CRASHING_CONSUMER = textwrap.dedent(
    """
    import asyncio, os, sys
    from callqa.bus import Bus, Consumer
    from callqa.settings import KafkaSettings

    settings = KafkaSettings.model_validate_json(sys.argv[1])
    topic, group = sys.argv[2], sys.argv[3]

    async def handle(event):
        if event.key == "crash-here":
            os._exit(17)  # killed mid-message: no commit, no cleanup

    async def main():
        async with Bus(settings) as bus:
            await Consumer(settings, group, [topic], handle, dead_letters=bus).run()

    asyncio.run(main())
    """
)


async def test_a_crash_mid_message_redelivers_it_after_restart(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    group = f"g-{unique}"
    # One partition's worth: all three share a key so they arrive in order on one partition.
    for call_id in ("before", "crash-here", "after"):
        event = recording_stored("crash-here" if call_id == "crash-here" else "same-key", call_id=call_id)
        await (await bus.send(topic, event.to_bytes(), b"same-key"))
    env = {**os.environ}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_CONSUMER, kafka_settings.model_dump_json(), topic, group, env=env
    )
    assert await asyncio.wait_for(proc.wait(), 60) == 17

    seen: list[str] = []

    async def handle(event: Event) -> None:
        seen.append(event.payload.call_id)  # type: ignore[union-attr]

    async with running(consumer_for(kafka_settings, bus, topic, group, handle)):
        await wait_until(lambda: "after" in seen)
    # Offsets are committed per handled batch, so "before" may come again too: duplicates are
    # allowed, losing the message that was being handled at the crash is not.
    assert seen[-2:] == ["crash-here", "after"]


async def test_stop_finishes_the_current_message_and_commits_it(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    group = f"g-{unique}"
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    await publish_to(bus, topic, recording_stored("slow"))
    consumer = consumer_for(kafka_settings, bus, topic, group, slow)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), 30)
    consumer.stop()
    await asyncio.wait_for(task, 30)
    assert finished.is_set()

    again: list[str] = []

    async def record(event: Event) -> None:
        again.append(event.key)

    await publish_to(bus, topic, recording_stored("next"))
    async with running(consumer_for(kafka_settings, bus, topic, group, record)):
        await wait_until(lambda: "next" in again)
    assert again == ["next"], "the finished message was committed"


async def test_stop_with_abandon_leaves_the_message_uncommitted(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    group = f"g-{unique}"
    started = asyncio.Event()

    async def endless(event: Event) -> None:
        started.set()
        await asyncio.sleep(3600)

    await publish_to(bus, topic, recording_stored("long-job"))
    consumer = Consumer(kafka_settings, group, [topic], endless, bus, ConsumerOptions(max_records=1))
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), 30)
    consumer.stop(abandon=True)
    await asyncio.wait_for(task, 30)

    again: list[str] = []

    async def record(event: Event) -> None:
        again.append(event.key)

    async with running(consumer_for(kafka_settings, bus, topic, group, record)):
        await wait_until(lambda: "long-job" in again)


async def test_a_job_longer_than_the_session_timeout_keeps_its_partition(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    # Heartbeats go on in the background while the handler works, so a transcription that takes
    # minutes is not mistaken for a dead consumer (max_poll_interval_ms covers the gap between polls).
    calls: list[str] = []
    slow_for = kafka_settings.session_timeout_ms / 1000 * 2

    async def slow(event: Event) -> None:
        calls.append(event.key)
        await asyncio.sleep(slow_for)

    await publish_to(bus, topic, recording_stored("slow-job"))
    consumer = Consumer(kafka_settings, f"g-{unique}", [topic], slow, bus, ConsumerOptions(max_records=1))
    async with running(consumer):
        await wait_until(lambda: bool(calls))
        await asyncio.sleep(slow_for + 2)
    assert calls == ["slow-job"], "handled once: the partition was never taken away mid-job"


async def committed_offsets(settings: KafkaSettings, topic: str, group: str) -> tuple[list[int | None], list[int]]:
    """What `group` committed on each partition of `topic`, beside each partition's end."""
    probe = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        await probe.topics()  # fetches the metadata partitions_for_topic reads
        partitions = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or ())]
        ends = await probe.end_offsets(partitions)
        return [await probe.committed(tp) for tp in partitions], [ends[tp] for tp in partitions]
    finally:
        await probe.stop()


async def test_batch_mode_redoes_a_failed_batch_one_by_one_so_only_the_poison_is_parked(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    good = [recording_stored(f"rec-{n}") for n in range(30)]
    await (await bus.send(topic, b"\x00 not an event", b"poison"))
    for event in [*good[:15], recording_stored("bad"), *good[15:]]:
        await publish_to(bus, topic, event)
    batches: list[list[str]] = []
    handled: list[str] = []

    async def handle_batch(events: list[Event]) -> None:
        batches.append([e.key for e in events])
        if any(e.key == "bad" for e in events):
            raise RuntimeError("one bad message in the batch")  # nothing of the batch was kept
        handled.extend(e.key for e in events)

    async def handle(event: Event) -> None:
        if event.key == "bad":
            raise RuntimeError("always broken")
        handled.append(event.key)

    group = f"g-{unique}"
    consumer = Consumer(kafka_settings, group, [topic], handle, bus, batch_handler=handle_batch)
    async with running(consumer):
        await wait_until(lambda: len(handled) == len(good))
        dead = await read_all(kafka_settings, dlq_topic(topic), expected=2)
    assert sorted(handled) == sorted(e.key for e in good), "each good message handled once"
    assert max(map(len, batches)) > 1, "a poll was handed over as one batch"
    assert {r.key for r in dead} == {b"poison", b"bad"}
    assert dict(next(r for r in dead if r.key == b"bad").headers)["dlq.attempts"] == b"3"
    committed, ends = await committed_offsets(kafka_settings, topic, group)
    assert committed == ends


async def test_batch_mode_commits_nothing_of_an_abandoned_batch(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    started = asyncio.Event()

    async def endless(events: list[Event]) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def never(event: Event) -> None:
        raise AssertionError("the batch never failed")

    for n in range(5):
        await publish_to(bus, topic, recording_stored(f"rec-{n}"))
    group = f"g-{unique}"
    consumer = Consumer(kafka_settings, group, [topic], never, bus, batch_handler=endless)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), 30)
    consumer.stop(abandon=True)
    await asyncio.wait_for(task, 30)
    committed, _ = await committed_offsets(kafka_settings, topic, group)
    assert all(offset is None for offset in committed)
