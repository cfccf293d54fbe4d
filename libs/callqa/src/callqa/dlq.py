"""Dead-letter topics for operators: see what is parked and why, and send it back once the cause is fixed.

    python -m callqa.dlq list   callqa.transcript.ready.v1 [--bootstrap HOST:PORT]
    python -m callqa.dlq replay callqa.transcript.ready.v1 [--bootstrap HOST:PORT] [--max N]

`replay` republishes each parked message to the topic it came from (same key, value and headers, without
the `dlq.*` ones) and commits its place in consumer group `callqa-dlq-replay.<topic>`: a message is sent
back once, however often the command runs. Consumers are idempotent, so one that had been handled after all
changes nothing. A message that fails again is parked again, with its new error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from callqa.bus import Bus
from callqa.events import dlq_topic
from callqa.settings import KafkaSettings

IDLE_MS = 2000  # a DLQ that yields nothing for this long has been read to its end


@dataclass(frozen=True)
class Parked:
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def error(self) -> str:
        return self.headers.get("dlq.error", "?")


@asynccontextmanager
async def _reading(settings: KafkaSettings, topic: str, group: str | None) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        dlq_topic(topic),
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=settings.max_request_size,
        fetch_max_bytes=settings.max_request_size * 2,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _records(consumer: AIOKafkaConsumer, limit: int | None) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    seen = 0
    while limit is None or seen < limit:
        batch = await consumer.getmany(timeout_ms=IDLE_MS, max_records=100)
        if not batch:
            return
        for records in batch.values():
            for record in records:
                yield record
                seen += 1
                if limit is not None and seen >= limit:
                    return


def _parked(record: ConsumerRecord[bytes, bytes]) -> Parked:
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    return Parked(record.offset, record.key, record.value or b"", headers)


async def parked(settings: KafkaSettings, topic: str, limit: int | None = None) -> list[Parked]:
    """What the DLQ of `topic` holds (read without a group: nothing is marked)."""
    async with _reading(settings, topic, group=None) as consumer:
        return [_parked(record) async for record in _records(consumer, limit)]


async def replay(settings: KafkaSettings, topic: str, limit: int | None = None) -> int:
    """Send parked messages back to `topic`; returns how many. Each is sent back once (see module doc)."""
    sent = 0
    async with (
        _reading(settings, topic, group=f"callqa-dlq-replay.{topic}") as consumer,
        Bus(settings, client_id="callqa-dlq-replay") as bus,
    ):
        async for record in _records(consumer, limit):
            headers = [(k, v) for k, v in record.headers or () if not k.startswith("dlq.")]
            await (await bus.send(topic, record.value or b"", record.key, headers))
            await consumer.commit()  # after the broker has it: a crash here sends it at most once more
            sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callqa.dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("topic", help="the original topic, e.g. callqa.transcript.ready.v1")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--max", type=int, default=None, help="at most this many messages")
    args = parser.parse_args(argv)
    settings = KafkaSettings(bootstrap_servers=args.bootstrap)
    if args.command == "list":
        found = asyncio.run(parked(settings, args.topic, args.max))
        for message in found:
            key = (message.key or b"").decode(errors="replace")
            print(f"{message.offset:>8}  {key:<38} {message.headers.get('dlq.failed_at', ''):<33} {message.error}")
        print(f"{len(found)} parked on {dlq_topic(args.topic)}")
    else:
        print(f"{asyncio.run(replay(settings, args.topic, args.max))} sent back to {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
