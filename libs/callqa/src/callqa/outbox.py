"""Transactional outbox: an event is written to the `outbox` table in the same transaction as
the state change it announces; `OutboxRelay` publishes unsent rows in order and marks them.

A crash between publish and mark publishes the row again on restart (a duplicate, never a
loss); consumers are idempotent. On PostgreSQL one relay per database holds an advisory lock,
so several replicas of a service can all run the relay without reordering events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy import Connection
from sqlmodel import Field, Session, SQLModel, col, select

from callqa.bus import Bus
from callqa.db import Database
from callqa.events import Envelope, utcnow
from callqa.settings import KafkaSettings

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter("callqa_outbox_published_total", "Outbox rows published", ["service"])
OUTBOX_PENDING = Gauge("callqa_outbox_pending", "Outbox rows waiting to be published", ["service"])


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    topic: str = Field(max_length=255)
    key: str = Field(max_length=255)
    event_type: str = Field(max_length=100)
    correlation_id: str = Field(max_length=255)
    payload: bytes
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, index=True)


def enqueue(session: Session, event: Envelope) -> None:
    """Add `event` to the caller's transaction; it is published only if that transaction commits."""
    session.add(
        OutboxMessage(
            event_id=str(event.event_id),
            topic=event.topic,
            key=event.key,
            event_type=event.event_type,
            correlation_id=event.correlation_id,
            payload=event.to_bytes(),
        )
    )


AfterPublish = Callable[[Sequence[int]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        kafka: KafkaSettings,
        service: str,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 0.2,
        after_publish: AfterPublish | None = None,  # test hook: runs between publish and mark
    ) -> None:
        self.db = db
        self.bus = Bus(kafka, client_id=f"{service}-outbox")
        self._bus_started = False
        self._known_topics: set[str] = set()
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.after_publish = after_publish
        self._stopping = asyncio.Event()
        self._leader: Connection | None = None
        self._lock_id = zlib.crc32(f"callqa-outbox-{service}".encode())

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Publish until stopped; broker outages are waited out, nothing is skipped."""
        try:
            while not self._stopping.is_set():
                try:
                    published = await self.publish_pending() if await asyncio.to_thread(self._lead) else 0
                except Exception as exc:
                    log.warning("outbox relay could not publish, will retry: %s", exc)
                    await self._reset_bus()
                    published = 0
                if published < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), self.poll_interval_s)
        finally:
            await self._reset_bus()
            await asyncio.to_thread(self._resign)

    async def _reset_bus(self) -> None:
        if self._bus_started:
            self._bus_started = False
            with contextlib.suppress(Exception):
                await self.bus.stop()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows in insertion order; return how many were sent."""
        rows = await asyncio.to_thread(self._fetch_unsent)
        if not rows:
            return 0
        if not self._bus_started:
            await self.bus.start()  # lazily, so the service starts while the broker is down
            self._bus_started = True
        if new_topics := {topic for _, topic, _, _ in rows} - self._known_topics:
            await self.bus.ensure_topics(new_topics)
            self._known_topics |= new_topics
        futures = [await self.bus.send(topic, payload, key.encode()) for _, topic, key, payload in rows]
        await asyncio.gather(*futures)
        ids = [row_id for row_id, *_ in rows]
        if self.after_publish is not None:
            await self.after_publish(ids)
        await asyncio.to_thread(self._mark_sent, ids)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(ids))
        return len(ids)

    def _fetch_unsent(self) -> list[tuple[int, str, str, bytes]]:
        with self.db.session() as session:
            pending = session.exec(
                select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.key, OutboxMessage.payload)
                .where(col(OutboxMessage.sent_at).is_(None))
                .order_by(col(OutboxMessage.id))
                .limit(self.batch_size)
            ).all()
            OUTBOX_PENDING.labels(self.service).set(self._count_unsent(session))
        return [(int(i), t, k, p) for i, t, k, p in pending if i is not None]

    @staticmethod
    def _count_unsent(session: Session) -> int:
        query = select(sa.func.count()).select_from(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
        return int(session.exec(query).one())

    def _mark_sent(self, ids: Sequence[int]) -> None:
        with self.db.session() as session:
            session.execute(sa.update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(sent_at=utcnow()))

    def prune(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete rows sent before `older_than` ago (they only matter for debugging)."""
        with self.db.session() as session:
            result = session.execute(sa.delete(OutboxMessage).where(col(OutboxMessage.sent_at) < utcnow() - older_than))
            return int(getattr(result, "rowcount", 0) or 0)

    def _lead(self) -> bool:
        """Hold a PostgreSQL advisory lock so only one relay per service publishes (keeps order)."""
        if self.db.is_sqlite:
            return True
        if self._leader is not None:
            return True
        conn = self.db.engine.connect()
        if conn.execute(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": self._lock_id}).scalar():
            conn.commit()
            self._leader = conn
            return True
        conn.close()
        return False

    def _resign(self) -> None:
        if self._leader is not None:
            # A pooled connection outlives close(), so release the lock explicitly.
            with contextlib.suppress(Exception):
                self._leader.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": self._lock_id})
                self._leader.commit()
            self._leader.close()
            self._leader = None
