"""Object lock that outlives the object store's memory: the database is the record of what to protect.

A compliance archive must not silently downgrade. A store can come back from a restart without its
object-lock configuration, legal holds and retention dates (ministack, the local stack's store, keeps the
objects but not their locks) while the database still says which recordings are held and until when.
So the service does not trust the store: it restores the store from the database, and while it cannot (the
bucket has no object lock and the store will not turn it on: MinIO allows it only when the bucket is
created) it refuses audio loudly: uploads and hold changes answer 503 with a problem document, readiness
fails, the retention purge waits. Audio it cannot protect is never kept.

How a loss is noticed: a canary object under legal hold. A store that lost its holds lost the canary's
too; then every legal hold and retention date in the database is applied again (holds first: there are
few and they matter most) and the canary last, so an interrupted restore runs again. Checked at start-up,
every `object_lock_check_interval_s`, and at once when a lock operation fails. Uploads are accepted while
the restore runs: each sets its own retention, and one that cannot is refused and its audio removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from prometheus_client import Counter, Gauge
from sqlmodel import col, select

from callqa.db import Database
from callqa.events import utcnow
from callqa.storage import ObjectLocked, ObjectNotFound, ObjectStore, StorageError, StorageUnavailable
from recorder_ingest.tables import Recording, RecordingStatus

log = logging.getLogger(__name__)

CANARY_KEY = "callqa/object-lock-canary"
CANARY_BODY = (
    b"Kept under legal hold by recorder-ingest on purpose: when this hold is gone, the store lost its\n"
    b"object locks and recorder-ingest restores every legal hold and retention date from its database.\n"
)
BATCH = 500

PROTECTED = Gauge(
    "callqa_ingest_object_lock_protected",
    "1 while the audio bucket has object lock and the database's holds and retention are known to be in place",
)
RESTORED = Counter(
    "callqa_ingest_object_locks_restored_total",
    "Legal holds and retention dates applied again from the database after the store lost them",
    ["kind"],
)
MISSING_AUDIO = Counter(
    "callqa_ingest_stored_audio_missing_total", "Recordings the database says are stored whose audio object is gone"
)


class LockState(StrEnum):
    unchecked = "unchecked"  # not known yet: starting, the store unreachable, or a lock operation just failed
    unavailable = "unavailable"  # the bucket has no object lock and the store will not turn it on
    restoring = "restoring"  # object lock is on; holds and retention are being applied again from the database
    protected = "protected"
    not_required = "not_required"  # the operator configured a bucket without object lock (s3.object_lock=false)


class ObjectLockUnavailable(StorageError):
    """Audio cannot be protected right now: refused (503) rather than stored without retention."""


@dataclass(frozen=True)
class RestoreReport:
    legal_holds: int
    retention: int
    missing: int


class ObjectLockKeeper:
    def __init__(self, required: bool, db: Database, store: ObjectStore) -> None:
        self.required = required
        self.db = db
        self.store = store
        self.state = LockState.unchecked if required else LockState.not_required
        self.reason = "not checked yet"
        self._unreachable = False
        self._checking = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        PROTECTED.set(0 if required else 1)

    # --- what callers ask -------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """Audio can be stored and protected now (each upload sets its own retention and hold)."""
        return self.state in (LockState.restoring, LockState.protected, LockState.not_required)

    @property
    def protected(self) -> bool:
        """Everything the database protects is protected in the store: purging may go ahead."""
        return self.state in (LockState.protected, LockState.not_required)

    def require(self) -> None:
        if self.accepting:
            return
        if self._unreachable:
            raise StorageUnavailable(f"object store unavailable: {self.reason}")
        raise ObjectLockUnavailable(f"audio is not accepted while it cannot be protected: {self.reason}")

    def lost(self, reason: str) -> None:
        """A lock operation failed: protection is unknown until the next check, which starts now."""
        if not self.required:
            return
        log.error("object lock failed; audio is refused until it is restored", extra={"reason": reason})
        self._set(LockState.unchecked, reason)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # --- checking and restoring --------------------------------------------------------------

    def check(self, *, restore: bool = True) -> LockState:
        """Make sure the bucket has object lock and the store still holds what the database protects,
        restoring it when it does not (`restore=False`: leave that to the next check). Blocking."""
        if not self.required:
            return self.state
        with self._checking:
            try:
                self._check(restore)
            except StorageError as exc:
                self._unreachable = isinstance(exc, StorageUnavailable)
                self._set(LockState.unchecked, f"the object store could not be checked: {exc}")
                log.warning("object lock check failed; retrying", extra={"reason": str(exc)})
        return self.state

    def _check(self, restore: bool) -> None:
        if self.state in (LockState.unchecked, LockState.unavailable):
            self.store.ensure_bucket()
        self._unreachable = False
        if not (self.store.refresh_object_lock() or self.store.enable_object_lock()):
            if self.state is not LockState.unavailable:
                log.error(
                    "the audio bucket has no object lock and the store will not turn it on: audio is refused",
                    extra={"bucket": self.store.bucket},
                )
            self._set(LockState.unavailable, f"bucket {self.store.bucket} has no object lock")
            return
        if self._canary_held():
            self._set(LockState.protected, "")
            return
        if self.state is not LockState.restoring:
            log.warning("the store lost its object locks: restoring legal holds and retention from the database")
        self._set(LockState.restoring, "restoring legal holds and retention from the database")
        if not restore:
            return
        report = self.restore()
        self._plant_canary()
        self._set(LockState.protected, "")
        log.warning(
            "object locks restored from the database",
            extra={"legal_holds": report.legal_holds, "retention": report.retention, "missing": report.missing},
        )

    def _canary_held(self) -> bool:
        try:
            return self.store.legal_hold(CANARY_KEY)
        except ObjectNotFound:
            return False

    def _plant_canary(self) -> None:
        if not self.store.exists(CANARY_KEY):
            self.store.put_bytes(CANARY_KEY, CANARY_BODY, content_type="text/plain")
        self.store.set_legal_hold(CANARY_KEY, True)

    def restore(self, now: datetime | None = None) -> RestoreReport:
        """Apply every legal hold and every unexpired retention date the database records. Idempotent."""
        now = now or utcnow()
        holds = retention = missing = 0
        for recording in self._stored(held=True):
            assert recording.audio_key is not None
            try:
                self.store.set_legal_hold(recording.audio_key, True)
            except ObjectNotFound:
                missing += self._missing(recording)
                continue
            if not self._row(recording.id).legal_hold:  # released while we restored: the row is the record
                self.store.set_legal_hold(recording.audio_key, False)
                continue
            holds += 1
        for recording in self._stored(retained_after=now):
            assert recording.audio_key is not None
            try:
                self.store.set_retention(recording.audio_key, recording.retain_until, "GOVERNANCE")
            except ObjectNotFound:
                missing += self._missing(recording)
                continue
            except ObjectLocked:
                pass  # the store already retains it for longer, which a restore does not shorten
            retention += 1
        RESTORED.labels("legal_hold").inc(holds)
        RESTORED.labels("retention").inc(retention)
        return RestoreReport(legal_holds=holds, retention=retention, missing=missing)

    def _stored(self, *, held: bool = False, retained_after: datetime | None = None) -> Iterator[Recording]:
        """Recordings with audio in the store, in pages by id (a restore may cover millions)."""
        after = ""
        while True:
            query = (
                select(Recording)
                .where(Recording.status == RecordingStatus.stored, col(Recording.audio_key).is_not(None))
                .where(col(Recording.id) > after)
                .order_by(col(Recording.id))
                .limit(BATCH)
            )
            if held:
                query = query.where(col(Recording.legal_hold).is_(True))
            if retained_after is not None:
                query = query.where(col(Recording.retain_until) > retained_after)
            with self.db.session() as session:
                page = list(session.exec(query))
            yield from page
            if len(page) < BATCH:
                return
            after = page[-1].id

    def _row(self, recording_id: str) -> Recording:
        with self.db.session() as session:
            row = session.get(Recording, recording_id)
        assert row is not None
        return row

    def _missing(self, recording: Recording) -> int:
        if self._row(recording.id).status != RecordingStatus.stored:
            return 0  # purged or erased while we restored
        MISSING_AUDIO.inc()
        log.error(
            "a stored recording's audio object is missing",
            extra={"recording_id": recording.id, "key": recording.audio_key},
        )
        return 1

    def _set(self, state: LockState, reason: str) -> None:
        self.state, self.reason = state, reason
        PROTECTED.set(1 if self.protected else 0)

    # --- the background check ----------------------------------------------------------------

    async def watch(self, interval_s: float) -> None:
        """Check every `interval_s`, and at once after `lost()`."""
        if not self.required:
            return
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # e.g. the database is down mid-restore: the canary is not planted, so it resumes
                log.exception("object lock check failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval_s)
            self._wake.clear()
