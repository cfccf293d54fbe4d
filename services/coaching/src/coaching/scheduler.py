"""The service's periodic tasks (scheduled releases, review reminders, plan follow-ups, the FAQ), safe with several
replicas.

Every replica ticks; a task's row in `scheduled_tasks` says when it is next due. A replica runs a due task only
after claiming it with one conditional UPDATE (`lease_until` empty or past, `next_run_at` reached): the database
lets exactly one UPDATE match, so a run happens once however many replicas tick at the same moment. The lease
bounds how long a crashed replica holds a task; the tasks themselves change each object with a conditional
UPDATE or under a row lock, so even a run that outlives its lease cannot do a step twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select

from callqa.db import Database
from callqa.events import utcnow
from coaching.tables import ScheduledTask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    name: str
    interval: timedelta
    run: Callable[[datetime], dict[str, int]]


class Scheduler:
    def __init__(self, db: Database, tasks: Sequence[Task], *, lease: timedelta, owner: str | None = None) -> None:
        self.db = db
        self.tasks = {t.name: t for t in tasks}
        self.lease = lease
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._known = False

    def _ensure(self, now: datetime) -> None:
        """Add the rows of tasks this version knows and the database does not (the first replica wins)."""
        if self._known:
            return
        with self.db.session() as session:
            present = set(session.exec(select(ScheduledTask.name)).all())
        for name in self.tasks.keys() - present:
            try:
                with self.db.session() as session:
                    session.add(ScheduledTask(name=name, next_run_at=now))
            except IntegrityError:  # another replica added it
                pass
        self._known = True

    def claim(self, name: str, now: datetime, *, force: bool = False) -> bool:
        """Take the task's lease if it is due (or `force`) and nobody holds a live lease."""
        conditions: list[Any] = [
            col(ScheduledTask.name) == name,
            or_(col(ScheduledTask.lease_until).is_(None), col(ScheduledTask.lease_until) < now),
        ]
        if not force:
            conditions.append(col(ScheduledTask.next_run_at) <= now)
        with self.db.session() as session:
            claimed = session.execute(
                sa.update(ScheduledTask)
                .where(*conditions)
                .values(lease_owner=self.owner, lease_until=now + self.lease, last_started_at=now)
            )
            return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    def _finish(self, name: str, now: datetime, result: dict[str, int] | None, error: str | None) -> None:
        task = self.tasks[name]
        with self.db.session() as session:
            session.execute(
                sa.update(ScheduledTask)
                .where(col(ScheduledTask.name) == name, col(ScheduledTask.lease_owner) == self.owner)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    next_run_at=now + task.interval,
                    runs=ScheduledTask.runs + 1,
                    last_finished_at=utcnow(),
                    last_result=result,
                    last_error=error,
                )
            )

    def tick(self, now: datetime | None = None, *, force: bool = False) -> dict[str, dict[str, int]]:
        """Run every task that is due (every task with `force`) and this replica could claim; their results."""
        now = now or utcnow()
        self._ensure(now)
        done: dict[str, dict[str, int]] = {}
        for name, task in self.tasks.items():
            if not self.claim(name, now, force=force):
                continue
            try:
                result = task.run(now)
            except Exception as error:  # the database may be away: recorded, and the next run tries again
                log.exception("scheduled task failed", extra={"task": name})
                self._finish(name, now, None, f"{type(error).__name__}: {error}"[:2000])
                continue
            self._finish(name, now, result, None)
            if any(result.values()):
                log.info("scheduled task ran", extra={"task": name, **result})
            done[name] = result
        return done

    async def loop(self, every_s: float) -> None:
        """Tick every `every_s` seconds until cancelled (in a thread: the tasks use the database)."""
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # claiming needs the database; the next round tries again
                log.exception("scheduler tick failed")
            await asyncio.sleep(every_s)

    def status(self) -> list[ScheduledTask]:
        with self.db.session() as session:
            return list(session.exec(select(ScheduledTask).order_by(col(ScheduledTask.name))).all())
