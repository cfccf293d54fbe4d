"""Plain helpers shared by the test areas (fixtures live in the conftest.py files, found by pytest)."""

from __future__ import annotations

import asyncio
import os

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import create_engine

from callqa.settings import KafkaSettings

POSTGRES_ADMIN_URL = os.environ.get("CALLQA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def fast_kafka_settings(bootstrap: str) -> KafkaSettings:
    """Fast group joins and retries (see DESIGN.md: Tansu joins are slow with the defaults)."""
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        rebalance_timeout_ms=2000,
        max_retries=2,
        retry_backoff_s=0.01,
        retry_backoff_max_s=0.05,
        topic_partitions=3,
    )


async def read_all(settings: KafkaSettings, topic: str, expected: int, timeout: float = 20) -> list[ConsumerRecord]:
    """Read a topic from the start without a group (the test's own view of what was written)."""
    reader = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest")
    await reader.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            for batch in (await reader.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await reader.stop()
    return records
