"""Operators' view of the dead-letter topics: what is parked and why, and sending it back once fixed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from callqa import dlq
from callqa.bus import Bus, Consumer, PermanentError, ensure_topics
from callqa.events import Event
from callqa.settings import KafkaSettings
from callqa_stack.factories import recording_stored
from tests.helpers import read_all

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def topic(kafka_settings: KafkaSettings, unique: str) -> str:
    name = f"test.dlq.{unique}"
    await ensure_topics(kafka_settings, [name])
    return name


@pytest.fixture
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[Bus]:
    async with Bus(kafka_settings) as started:
        yield started


async def consume(settings: KafkaSettings, bus: Bus, topic: str, group: str, fixed: bool, until: int) -> list[str]:
    """Run a consumer until it has seen `until` messages; before the fix every message fails."""
    handled: list[str] = []

    async def handle(event: Event) -> None:
        handled.append(event.key)
        if not fixed:
            raise PermanentError(f"cannot handle {event.key} yet")

    consumer = Consumer(settings, group, [topic], handle, dead_letters=bus)
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(60):
            while len(handled) < until:
                await asyncio.sleep(0.05)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
    return handled


async def test_parked_messages_are_listed_with_their_error_and_sent_back_once(
    kafka_settings: KafkaSettings, bus: Bus, topic: str, unique: str
) -> None:
    for key in ("call-1", "call-2"):
        event = recording_stored(key)
        await (await bus.send(topic, event.to_bytes(), key.encode()))
    await consume(kafka_settings, bus, topic, f"g-{unique}", fixed=False, until=2)
    await read_all(kafka_settings, f"{topic}.dlq", expected=2)

    found = await dlq.parked(kafka_settings, topic)
    assert sorted(m.key for m in found) == [b"call-1", b"call-2"]
    assert all(m.error.startswith("PermanentError: cannot handle") for m in found)

    assert await dlq.replay(kafka_settings, topic) == 2
    assert await dlq.replay(kafka_settings, topic) == 0, "each parked message goes back once"
    back = await read_all(kafka_settings, topic, expected=4)
    assert Counter(r.key for r in back) == {b"call-1": 2, b"call-2": 2}, "the originals and one copy each"
    assert all(not key.startswith("dlq.") for r in back for key, _ in r.headers), "sent back clean"

    # The cause fixed, the same consumer group picks them up where it left off.
    handled = await consume(kafka_settings, bus, topic, f"g-{unique}", fixed=True, until=2)
    assert sorted(handled) == ["call-1", "call-2"]
