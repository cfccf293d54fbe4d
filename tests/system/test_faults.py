"""The fault suite: the local stack as `./run stack up` starts it, a batch of short calls, and in turn a
transcriber killed mid-call, the broker stopped and restarted, the object store stopped and restarted,
poison messages; then every retained recording must have exactly one transcript and one evaluation per
scorecard, no object without its row, no row without its object, and every legal hold still set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from callqa.events import dlq_topic, topic_for
from callqa_stack import consistency
from callqa_stack.consistency import StackClient
from callqa_stack.samples import SampleCall
from callqa_stack.throwaway import ThrowawayStack

pytestmark = pytest.mark.timeout(600)

STORED = topic_for("recording.stored")
READY = topic_for("transcript.ready")


class Batch:
    """Calls posted under fresh call ids; remembers which recordings ingest accepted."""

    def __init__(self, client: StackClient, calls: list[SampleCall]) -> None:
        self.client = client
        self.calls = calls
        self.accepted: set[str] = set()
        self.count = 0

    def post(self, copies: int = 1) -> list[str]:
        ids = []
        for _ in range(copies):
            for call in self.calls:
                self.count += 1
                response = self.client.post(call, f"fault-{self.count:04d}-{call.call_id}")
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
        self.accepted.update(ids)
        return ids


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def readiness(stack: ThrowawayStack, service: str) -> int:
    return httpx.get(f"{stack.url(service)}/readyz", timeout=10).status_code


def retained(client: StackClient, ids: set[str]) -> set[str]:
    return {r["id"] for r in client.recordings() if r["id"] in ids and r["consent"]["status"] != "declined"}


def scored(client: StackClient, ids: set[str]) -> bool:
    return ids <= {e["recording_id"] for e in client.evaluations()}


async def inject_poison(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in (STORED, READY):
            await producer.send_and_wait(topic, b"\x00not json at all", key=b"poison")
            await producer.send_and_wait(topic, b'{"event_type": "recording.stored", "payload": {}}', key=b"poison")
    finally:
        await producer.stop()


async def dead_letters(bootstrap: str, topic: str, group: str, wait_s: float = 60) -> dict[str, int]:
    """Poison parked on the topic's DLQ, per consumer group that parked it (each consumer of a topic parks
    its own copy), read until `group` has parked both."""
    consumer = AIOKafkaConsumer(dlq_topic(topic), bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    parked: dict[str, int] = {}
    deadline = time.monotonic() + wait_s
    try:
        while parked.get(group, 0) < 2 and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if r.key == b"poison":
                        by = dict(r.headers).get("dlq.consumer_group", b"?").decode()
                        parked[by] = parked.get(by, 0) + 1
    finally:
        await consumer.stop()
    return parked


def test_nothing_lost_or_duplicated_under_faults(
    local_stack: ThrowawayStack, client: StackClient, english_calls: list[SampleCall]
) -> None:
    batch = Batch(client, english_calls)

    # 1. A transcriber killed mid-call (no clean-up at all), started again as an operator would.
    first = batch.post(copies=2)
    local_stack.wait_until_transcribing()
    local_stack.kill("transcriber")
    local_stack.run("up")

    # 2. The broker stopped while calls are posted (ingest keeps them in its outbox), then back.
    local_stack.stop("tansu")
    # Cut off from their broker, the workers say so.
    wait_for(lambda: readiness(local_stack, "transcriber") == 503, "transcriber not ready without its broker", 30)
    wait_for(lambda: readiness(local_stack, "scorer") == 503, "scorer not ready without its broker", 30)
    assert readiness(local_stack, "recorder-ingest") == 200, "ingest keeps accepting calls into its outbox"
    batch.post()
    local_stack.run("up")
    assert all(readiness(local_stack, worker) == 200 for worker in ("transcriber", "scorer"))

    # 3. The object store stopped: uploads are refused clearly and store nothing; back, holds intact.
    for rid in sorted(retained(client, set(first)))[:2]:
        client.hold(rid)
    local_stack.stop("ministack")
    refused = client.post(english_calls[0], "fault-while-store-down")
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    local_stack.run("up")
    wait_for(lambda: client.ingest.get("/readyz").status_code == 200, "ingest ready after the store is back", 60)
    batch.post()

    # 4. Poison on the pipeline's topics goes to the dead-letter topics; the calls after it still flow.
    bootstrap = local_stack.bootstrap
    asyncio.run(inject_poison(bootstrap))
    batch.post()

    retained_ids = retained(client, batch.accepted)
    wait_for(lambda: scored(client, retained_ids), "every retained call to be evaluated", timeout=300)
    assert asyncio.run(dead_letters(bootstrap, STORED, "transcriber"))["transcriber"] == 2
    assert asyncio.run(dead_letters(bootstrap, READY, "scorer"))["scorer"] == 2
    time.sleep(2)  # a duplicate would arrive right behind the first evaluation
    state = consistency.check(client, expected=batch.accepted)
    assert state.problems == {}
    assert state.retained == len(retained_ids) > 0
    assert "fault-while-store-down" not in {r["call_id"] for r in client.recordings()}
