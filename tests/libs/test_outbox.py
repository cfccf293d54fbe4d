"""Transactional outbox on SQLite and PostgreSQL, relaying to a real Tansu broker."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Iterator

import pytest
from sqlmodel import SQLModel, select

from callqa.bus import ensure_topics
from callqa.db import Database
from callqa.events import parse_event
from callqa.outbox import OutboxMessage, OutboxRelay, enqueue
from callqa.settings import KafkaSettings
from callqa_stack.factories import recording_stored
from tests.helpers import read_all

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    SQLModel.metadata.create_all(database.engine, tables=[OutboxMessage.__table__])  # type: ignore[attr-defined]
    yield database
    database.dispose()


def unsent(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.sent_at == None)))  # noqa: E711


def test_an_event_is_only_queued_when_its_transaction_commits(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        enqueue(session, recording_stored("rolled-back"))
        raise RuntimeError("the state change failed")
    assert unsent(db) == []
    with db.session() as session:
        enqueue(session, recording_stored("committed"))
    assert [row.key for row in unsent(db)] == ["committed"]


async def test_relay_publishes_in_order_and_marks_rows_sent(
    db: Database, kafka_settings: KafkaSettings, unique: str
) -> None:
    key = f"same-call-{unique}"
    events = [recording_stored(key, call_id=f"step-{i}") for i in range(30)]
    await ensure_topics(kafka_settings, [events[0].topic])
    with db.session() as session:
        for event in events:
            enqueue(session, event)
    relay = OutboxRelay(db, kafka_settings, "tests", batch_size=7)
    while await relay.publish_pending():
        pass
    await relay.bus.stop()
    assert unsent(db) == []
    records = await read_all(kafka_settings, events[0].topic, expected=10**6, timeout=3)
    received = [parse_event(r.value) for r in records if r.key == key.encode()]
    assert [e.event_id for e in received] == [e.event_id for e in events]


RELAY_KILLED_AFTER_PUBLISH = textwrap.dedent(
    """
    import asyncio, os, sys
    from callqa.db import Database
    from callqa.outbox import OutboxRelay
    from callqa.settings import KafkaSettings

    async def die(ids):
        os._exit(9)  # killed after the broker acknowledged, before the rows were marked

    kafka = KafkaSettings.model_validate_json(sys.argv[2])
    relay = OutboxRelay(Database(sys.argv[1]), kafka, "tests", after_publish=die)
    asyncio.run(relay.run())
    """
)


async def test_relay_killed_between_publish_and_mark_loses_nothing(db: Database, kafka_settings: KafkaSettings) -> None:
    event = recording_stored()
    await ensure_topics(kafka_settings, [event.topic])
    with db.session() as session:
        enqueue(session, event)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RELAY_KILLED_AFTER_PUBLISH, db.url, kafka_settings.model_dump_json(), env={**os.environ}
    )
    assert await asyncio.wait_for(proc.wait(), 60) == 9
    assert [row.event_id for row in unsent(db)] == [str(event.event_id)], "not marked: the kill came first"

    relay = OutboxRelay(db, kafka_settings, "tests", poll_interval_s=0.05)
    task = asyncio.create_task(relay.run())
    deadline = asyncio.get_running_loop().time() + 20
    while unsent(db) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    relay.stop()
    await task
    assert unsent(db) == []
    records = await read_all(kafka_settings, event.topic, expected=10**6, timeout=3)
    copies = [r for r in records if r.key == event.key.encode()]
    assert len(copies) == 2, "published once before the kill and again after: a duplicate, not a loss"
    assert {parse_event(r.value).event_id for r in copies} == {event.event_id}


async def test_relay_waits_out_a_broker_outage(db: Database, kafka_settings: KafkaSettings) -> None:
    dead = kafka_settings.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})
    with db.session() as session:
        enqueue(session, recording_stored())
    relay = OutboxRelay(db, dead, "tests", poll_interval_s=0.05)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(1.5)
    assert not task.done(), "the relay keeps trying instead of crashing"
    assert len(unsent(db)) == 1
    relay.stop()
    await asyncio.wait_for(task, 30)


async def test_only_one_relay_leads_on_postgres(postgres_url: str, kafka_settings: KafkaSettings) -> None:
    db = Database(postgres_url)
    first = OutboxRelay(db, kafka_settings, "tests")
    second = OutboxRelay(db, kafka_settings, "tests")
    try:
        assert first._lead() is True
        assert second._lead() is False, "a second replica waits while the first holds the lock"
        first._resign()
        assert second._lead() is True
    finally:
        first._resign()
        second._resign()
        db.dispose()
