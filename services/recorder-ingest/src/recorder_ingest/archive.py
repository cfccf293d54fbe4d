"""The recording archive: accept, retain, hold, erase and purge recordings.

Write order keeps the invariants: the audio goes to the object store first, then the row and
its `recording.stored` event commit together (transactional outbox). A crash in between
leaves an orphan object that `sweep_orphans` removes, never a row without audio, and never an
event without a row. An upload that fails after its audio was stored (retention or hold refused,
the row not written) removes the audio before it answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from callqa.auth import Principal
from callqa.db import Database
from callqa.events import (
    ChannelLayout,
    ConsentStatus,
    PurgeReason,
    RecordingPurged,
    RecordingPurgedEvent,
    RecordingStored,
    RecordingStoredEvent,
    utcnow,
)
from callqa.outbox import enqueue
from callqa.storage import (
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageFeatureUnsupported,
    StorageUnavailable,
)
from recorder_ingest import policy
from recorder_ingest.audio import probe
from recorder_ingest.config import Settings
from recorder_ingest.object_lock import ObjectLockKeeper, ObjectLockUnavailable
from recorder_ingest.schemas import RecordingMetadata
from recorder_ingest.tables import AuditAction, AuditEntry, PurgeBlock, Recording, RecordingStatus

log = logging.getLogger(__name__)
PRODUCER = "recorder-ingest"
AUDIO_PREFIX = "recordings/"

RECORDINGS_INGESTED = Counter("callqa_ingest_recordings_total", "Recordings accepted", ["outcome"])
PURGED = Counter("callqa_ingest_purged_total", "Recordings purged when their retention expired")
PURGE_SKIPPED_HOLD = Counter("callqa_ingest_purge_skipped_hold_total", "Expired recordings kept for legal hold")
PURGE_FAILED = Counter(
    "callqa_ingest_purge_failed_total", "Purges that failed and will be retried, by why (a PurgeBlock)", ["reason"]
)
ORPHANS_SWEPT = Counter("callqa_ingest_orphans_swept_total", "Audio objects removed because no row referenced them")


class CallIdConflict(Exception):
    """Same call id posted again with different audio."""


class RecordingNotFound(KeyError):
    pass


class UnderLegalHold(Exception):
    pass


class AudioGone(Exception):
    """The recording exists but its audio was never kept or has been purged."""


@dataclass(frozen=True)
class PurgeReport:
    purged: int
    skipped_hold: int
    failed: int


@dataclass(frozen=True)
class RecordingQuery:
    agent_id: str | None = None
    group: str | None = None
    queue: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    tags: tuple[str, ...] = ()
    consent_status: str | None = None
    legal_hold: bool | None = None
    status: str | None = None
    customer_number: str | None = None


def sha256_of(path: Path, chunk: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class RecordingArchive:
    def __init__(self, settings: Settings, db: Database, store: ObjectStore) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.lock = ObjectLockKeeper(settings.s3.object_lock, db, store)
        self._fernet = None
        if settings.customer_number_encryption_key is not None:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(settings.customer_number_encryption_key.get_secret_value().encode())

    # --- accept -----------------------------------------------------------------------------

    def ingest(self, meta: RecordingMetadata, audio_path: Path, sha256: str | None = None) -> tuple[Recording, bool]:
        """Store one posted recording; returns (recording, created). Idempotent per call id."""
        facts = probe(audio_path, max_duration_s=self.settings.max_duration_s)
        layout = policy.channel_layout(meta, facts.channels, self.settings)
        retention = policy.retention_policy(meta, self.settings)
        consent = policy.consent_decision(meta, self.settings)
        sha256 = sha256 or sha256_of(audio_path)
        if (existing := self._by_call_id(meta.call_id)) is not None:
            return self._repeat(existing, sha256), False

        started_at = meta.started_at.astimezone(UTC)  # answered as read back later: in UTC
        recording = Recording(
            id=str(uuid.uuid4()),
            call_id=meta.call_id,
            platform=meta.platform,
            agent_id=meta.agent_id,
            group=meta.group,
            queue=meta.queue,
            direction=meta.direction,
            started_at=started_at,
            received_at=utcnow(),
            channel_layout=layout,
            language=meta.language,
            tags="," + ",".join(meta.tags) + ("," if meta.tags else ""),
            customer_number_hash=self.customer_number_hash(meta.customer_number),
            customer_number_encrypted=self._encrypt(meta.customer_number),
            consent_status=meta.consent.status,
            consent_method=meta.consent.method,
            consent_at=meta.consent.at.astimezone(UTC) if meta.consent.at else None,
            consent_outcome=consent.outcome,
            retention_policy=retention,
            retain_until=policy.retain_until(started_at, retention, self.settings),
            legal_hold=meta.legal_hold is not None,
            legal_hold_reason=meta.legal_hold.reason if meta.legal_hold else None,
            legal_hold_at=utcnow() if meta.legal_hold else None,
            status=RecordingStatus.audio_not_retained if consent.discard_audio else RecordingStatus.stored,
            audio_sha256=sha256,
            audio_size=audio_path.stat().st_size,
            container=facts.container,
            codec=facts.codec,
            channels=facts.channels,
            sample_rate=facts.sample_rate,
            duration_ms=facts.duration_ms,
        )
        if not consent.discard_audio:
            recording.audio_key = f"{AUDIO_PREFIX}{meta.started_at:%Y/%m/%d}/{recording.id}.{facts.extension}"
            self._store_audio(recording, audio_path)
        try:
            with self.db.session() as session:
                session.add(recording)
                if not consent.declined:  # declined consent: no transcription, so nobody needs the event
                    enqueue(session, self._stored_event(recording))
        except IntegrityError:
            # A concurrent post of the same call id won the race; undo our copy and answer as a repeat.
            self._discard_audio(recording, "another upload of the call id won")
            existing = self._by_call_id(meta.call_id)
            if existing is None:
                raise
            return self._repeat(existing, sha256), False
        except Exception:
            self._discard_audio(recording, "its row could not be written")  # no audio without a row
            raise
        RECORDINGS_INGESTED.labels(recording.status).inc()
        log.info("recording stored", extra={"recording_id": recording.id, "status": recording.status})
        return recording, True

    def _repeat(self, existing: Recording, sha256: str) -> Recording:
        if existing.audio_sha256 != sha256:
            raise CallIdConflict(
                f"call id {existing.call_id!r} was already posted with different audio (recording {existing.id})"
            )
        RECORDINGS_INGESTED.labels("duplicate").inc()
        return existing

    def customer_number_hash(self, number: str | None) -> str | None:
        if number is None:
            return None
        key = self.settings.customer_number_hash_key.get_secret_value().encode()
        return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()

    def _encrypt(self, number: str | None) -> str | None:
        if number is None or self._fernet is None:
            return None
        return self._fernet.encrypt(number.encode()).decode()

    def _store_audio(self, recording: Recording, audio_path: Path) -> None:
        assert recording.audio_key is not None
        self.lock.require()  # refuse (503) before storing audio that could not be protected
        metadata = {
            "recording-id": recording.id,
            "sha256": recording.audio_sha256,
            "consent-status": recording.consent_status,
            "retain-until": recording.retain_until.isoformat(),
        }
        with audio_path.open("rb") as audio:
            stored = self.store.put_stream(
                recording.audio_key,
                audio,
                length=recording.audio_size,
                content_type=f"audio/{recording.container.split(',')[0]}",
                metadata=metadata,
            )
        if stored.sha256 != recording.audio_sha256:  # the spool changed under us: never store a mismatch
            self._delete_audio(recording, bypass_governance=True)
            raise StorageError("audio changed while it was being stored")
        if not self.lock.required:
            return
        try:
            if recording.retain_until > utcnow():
                self.store.set_retention(recording.audio_key, recording.retain_until, "GOVERNANCE")
            if recording.legal_hold:
                self.store.set_legal_hold(recording.audio_key, True)
        except StorageError as exc:
            self._discard_audio(recording, "its retention or legal hold could not be set")
            if isinstance(exc, StorageFeatureUnsupported):  # the store lost object lock under us
                self.lock.lost(str(exc))
                raise ObjectLockUnavailable(f"the store refused retention or legal hold: {exc}") from exc
            raise

    def _discard_audio(self, recording: Recording, why: str) -> None:
        """Remove the audio of an upload that is being refused; the orphan sweep is the fallback."""
        if recording.audio_key is None:
            return
        try:
            if recording.legal_hold:
                with contextlib.suppress(StorageFeatureUnsupported, ObjectNotFound):  # maybe never held
                    self.store.set_legal_hold(recording.audio_key, False)
            self.store.delete_all_versions(recording.audio_key, bypass_governance=True)
            log.warning("refused upload: audio removed", extra={"recording_id": recording.id, "why": why})
        except Exception:
            log.exception(
                "refused upload: audio left behind for the orphan sweep",
                extra={"recording_id": recording.id, "key": recording.audio_key, "why": why},
            )

    def _delete_audio(self, recording: Recording, *, bypass_governance: bool) -> None:
        if recording.audio_key is not None:
            if recording.legal_hold and self.store.object_lock_enabled:
                self.store.set_legal_hold(recording.audio_key, False)
            self.store.delete_all_versions(recording.audio_key, bypass_governance=bypass_governance)

    def _stored_event(self, r: Recording) -> RecordingStoredEvent:
        assert r.audio_key is not None
        payload = RecordingStored(
            recording_id=r.id,
            call_id=r.call_id,
            agent_id=r.agent_id,
            group=r.group,
            queue=r.queue,
            direction=r.direction,
            started_at=r.started_at,
            duration_ms=r.duration_ms,
            channels=r.channels,
            sample_rate=r.sample_rate,
            codec=r.codec,
            channel_layout=ChannelLayout(r.channel_layout),
            language=r.language,
            tags=r.tag_list,
            consent_status=ConsentStatus(r.consent_status),
            bucket=self.store.bucket,
            audio_key=r.audio_key,
            audio_sha256=r.audio_sha256,
            retain_until=r.retain_until,
        )
        return RecordingStoredEvent(correlation_id=r.id, producer=PRODUCER, payload=payload)

    # --- read -------------------------------------------------------------------------------

    def _by_call_id(self, call_id: str) -> Recording | None:
        with self.db.session() as session:
            return session.exec(select(Recording).where(Recording.call_id == call_id)).first()

    def get(self, recording_id: str) -> Recording:
        if len(recording_id) > 36 or "\x00" in recording_id:  # no such id, and PostgreSQL refuses NUL in text
            raise RecordingNotFound(recording_id)
        with self.db.session() as session:
            recording = session.get(Recording, recording_id)
        if recording is None:
            raise RecordingNotFound(recording_id)
        return recording

    def search(self, query: RecordingQuery, limit: int, offset: int) -> tuple[list[Recording], int]:
        conditions: list[sa.ColumnElement[bool]] = []
        for column, value in (
            (Recording.agent_id, query.agent_id),
            (Recording.group, query.group),
            (Recording.queue, query.queue),
            (Recording.consent_status, query.consent_status),
            (Recording.legal_hold, query.legal_hold),
            (Recording.status, query.status),
            (Recording.customer_number_hash, self.customer_number_hash(query.customer_number)),
        ):
            if value is not None:
                conditions.append(col(column) == value)
        if query.started_from is not None:
            conditions.append(col(Recording.started_at) >= query.started_from)
        if query.started_to is not None:
            conditions.append(col(Recording.started_at) < query.started_to)
        conditions.extend(col(Recording.tags).contains(f",{tag},") for tag in query.tags)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(Recording).where(*conditions)).one()
            items = session.exec(
                select(Recording)
                .where(*conditions)
                .order_by(col(Recording.started_at).desc(), col(Recording.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(items), int(total)

    @staticmethod
    def audit(
        session: Session,
        principal: Principal,
        action: AuditAction,
        recording_id: str | None,
        *,
        purpose: str | None = None,
        client: str | None = None,
        outcome: str = "allowed",
        detail: str | None = None,
    ) -> None:
        session.add(
            AuditEntry(
                actor=principal.subject,
                roles=",".join(sorted(principal.roles)),
                action=action,
                recording_id=recording_id,
                purpose=purpose,
                outcome=outcome,
                client=client,
                detail=detail,
            )
        )

    def record_access(
        self,
        principal: Principal,
        action: AuditAction,
        recording_id: str | None,
        purpose: str | None,
        client: str | None,
        outcome: str = "allowed",
        detail: str | None = None,
    ) -> None:
        """Written and committed before any audio byte leaves, so no access goes unrecorded."""
        with self.db.session() as session:
            self.audit(
                session, principal, action, recording_id, purpose=purpose, client=client, outcome=outcome, detail=detail
            )

    def audio_available(self, recording: Recording) -> str:
        if recording.status != RecordingStatus.stored or recording.audio_key is None:
            raise AudioGone(f"recording {recording.id} has no audio: {recording.status}")
        return recording.audio_key

    def open_audio(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        return self.store.get(key, offset=offset, length=length)

    def audio_url(self, key: str) -> tuple[str, datetime]:
        ttl = timedelta(seconds=self.settings.audio_url_ttl_s)
        return self.store.presigned_get_url(key, ttl), utcnow() + ttl

    def audit_log(
        self,
        *,
        recording_id: str | None,
        actor: str | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEntry], int]:
        conditions: list[sa.ColumnElement[bool]] = []
        for column, value in (
            (AuditEntry.recording_id, recording_id),
            (AuditEntry.actor, actor),
            (AuditEntry.action, action),
        ):
            if value is not None:
                conditions.append(col(column) == value)
        if since is not None:
            conditions.append(col(AuditEntry.at) >= since)
        if until is not None:
            conditions.append(col(AuditEntry.at) < until)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
            entries = session.exec(
                select(AuditEntry).where(*conditions).order_by(col(AuditEntry.id).desc()).offset(offset).limit(limit)
            ).all()
        return list(entries), int(total)

    # --- hold, erase, purge -----------------------------------------------------------------

    def set_legal_hold(self, recording_id: str, reason: str, principal: Principal, client: str | None) -> Recording:
        return self._hold(recording_id, True, reason, principal, client)

    def release_legal_hold(self, recording_id: str, reason: str, principal: Principal, client: str | None) -> Recording:
        return self._hold(recording_id, False, reason, principal, client)

    def _hold(self, recording_id: str, on: bool, reason: str, principal: Principal, client: str | None) -> Recording:
        """The object's WORM legal hold first, then the row and its audit entry in one transaction."""
        recording = self.get(recording_id)
        if recording.status == RecordingStatus.stored and recording.audio_key and self.lock.required:
            self.lock.require()  # a hold the store cannot keep is refused (503), not recorded only here
            try:
                self.store.set_legal_hold(recording.audio_key, on)
            except StorageFeatureUnsupported as exc:
                self.lock.lost(str(exc))
                raise ObjectLockUnavailable(f"the store refused the legal hold: {exc}") from exc
        with self.db.session() as session:
            row = session.get(Recording, recording_id)
            assert row is not None
            row.legal_hold = on
            row.legal_hold_reason = reason if on else None
            row.legal_hold_by = principal.subject if on else None
            row.legal_hold_at = utcnow() if on else None
            session.add(row)
            action = AuditAction.legal_hold_set if on else AuditAction.legal_hold_released
            self.audit(session, principal, action, recording_id, purpose=reason, client=client)
        return self.get(recording_id)

    def erase(self, recording_id: str, reason: str, principal: Principal, client: str | None) -> Recording:
        """An erasure request: audio and personal data go now, whatever the retention says; a hold wins."""
        recording = self.get(recording_id)
        if recording.legal_hold:
            raise UnderLegalHold(f"recording {recording_id} is under legal hold: {recording.legal_hold_reason}")
        if recording.status != RecordingStatus.purged:
            self._delete_audio(recording, bypass_governance=True)
            self._mark_purged(recording, PurgeReason.erasure_request)
        with self.db.session() as session:
            self.audit(session, principal, AuditAction.erasure, recording_id, purpose=reason, client=client)
        return self.get(recording_id)

    def _mark_purged(self, recording: Recording, reason: PurgeReason) -> None:
        with self.db.session() as session:
            row = session.get(Recording, recording.id)
            assert row is not None
            row.status, row.purged_at, row.purge_reason = RecordingStatus.purged, utcnow(), reason
            row.customer_number_hash = row.customer_number_encrypted = None
            row.purge_blocked_reason = row.purge_blocked_detail = row.purge_blocked_at = None
            session.add(row)
            enqueue(
                session,
                RecordingPurgedEvent(
                    correlation_id=row.id,
                    producer=PRODUCER,
                    payload=RecordingPurged(recording_id=row.id, reason=reason, purged_at=row.purged_at),
                ),
            )

    def purge_expired(self, now: datetime | None = None, batch: int = 500) -> PurgeReport:
        """Delete audio whose retention has passed, never under legal hold. Safe to run twice."""
        now = now or utcnow()
        with self.db.session() as session:
            expired = session.exec(
                select(Recording)
                .where(Recording.status == RecordingStatus.stored, col(Recording.retain_until) <= now)
                .where(col(Recording.legal_hold).is_(False))
                .order_by(col(Recording.retain_until))
                .limit(batch)
            ).all()
            held = session.exec(
                select(func.count())
                .select_from(Recording)
                .where(Recording.status == RecordingStatus.stored, col(Recording.retain_until) <= now)
                .where(col(Recording.legal_hold).is_(True))
            ).one()
        purged = failed = 0
        for recording in expired:
            try:
                self._delete_audio(recording, bypass_governance=False)  # WORM: only once the store agrees
                self._mark_purged(recording, PurgeReason.retention_expired)
                purged += 1
            except Exception as exc:
                failed += 1
                self._purge_blocked(recording, exc, now)
        report = PurgeReport(purged=purged, skipped_hold=int(held), failed=failed)
        PURGED.inc(purged)
        PURGE_SKIPPED_HOLD.inc(report.skipped_hold)
        log.info("retention purge", extra={"purged": purged, "skipped_hold": report.skipped_hold, "failed": failed})
        return report

    def _purge_blocked(self, recording: Recording, exc: Exception, now: datetime) -> None:
        """Say why a purge failed where operators look: the metric's `reason`, the log, and the recording.

        Retried every run; a retention in the store that outlasts ours fails until the store's date passes.
        """
        reason, detail = self._why_purge_failed(recording, exc, now)
        PURGE_FAILED.labels(reason).inc()
        extra = {"recording_id": recording.id, "reason": reason, "detail": detail}
        if reason is PurgeBlock.error:
            log.error("purge failed", exc_info=exc, extra=extra)
        else:
            log.warning("purge blocked", extra=extra)
        try:
            with self.db.session() as session:
                row = session.get(Recording, recording.id)
                if row is not None:
                    row.purge_blocked_reason, row.purge_blocked_detail = reason, detail[:500]
                    row.purge_blocked_at = utcnow()
                    session.add(row)
        except Exception:  # the metric and the log already tell; the next run tries again
            log.exception("could not record why a purge failed", extra={"recording_id": recording.id})

    def _why_purge_failed(self, recording: Recording, exc: Exception, now: datetime) -> tuple[PurgeBlock, str]:
        if isinstance(exc, StorageUnavailable):
            return PurgeBlock.store_unavailable, str(exc)
        if not isinstance(exc, ObjectLocked) or recording.audio_key is None:
            return PurgeBlock.error, f"{type(exc).__name__}: {exc}"
        key = recording.audio_key
        try:  # the store refused: ask it why, so nobody has to
            until = self.store.get_retention(key)
            if until is not None and until > now:
                return PurgeBlock.retention_not_expired, (
                    f"the object store retains the audio until {until.isoformat()}; "
                    f"the recording's retention ended {recording.retain_until.isoformat()}"
                )
            if self.store.legal_hold(key):
                return PurgeBlock.legal_hold_in_store, "the audio is under legal hold in the object store"
        except StorageError:
            log.warning("could not ask the store why it refused a purge", exc_info=True)
        return PurgeBlock.object_locked, str(exc)

    def sweep_orphans(self, now: datetime | None = None) -> int:
        """Remove audio objects no row points at (a crash between upload and commit)."""
        cutoff = (now or utcnow()) - timedelta(seconds=self.settings.orphan_grace_s)
        swept = 0
        for key in self.store.list_keys(AUDIO_PREFIX):
            recording_id = Path(key).stem
            with self.db.session() as session:
                if session.get(Recording, recording_id) is not None:
                    continue
            try:
                info = self.store.stat(key)
            except ObjectNotFound:
                continue
            if info.last_modified is not None and info.last_modified > cutoff:
                continue  # may still be on its way to the database
            self.store.delete_all_versions(key, bypass_governance=True)
            swept += 1
            log.warning("swept orphan audio object", extra={"key": key})
        ORPHANS_SWEPT.inc(swept)
        return swept


def copy_to(source: BinaryIO, target: Path, chunk: int = 1024 * 1024) -> str:
    """Spool an upload to disk; returns its SHA-256, computed on the way (no second read)."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while block := source.read(chunk):
            out.write(block)
            digest.update(block)
    return digest.hexdigest()
