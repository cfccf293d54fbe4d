"""The transcriber's message handlers: `recording.stored` -> transcript, `recording.purged` -> erase.

Idempotent per recording id + model version: a redelivered or duplicated event finds the
index row and does nothing. The transcript and the redacted audio are written to the object
store before the index row and the `transcript.ready` event commit together (outbox).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select

from callqa.bus import PermanentError
from callqa.db import Database
from callqa.events import (
    ConsentStatus,
    RecordingStored,
    TranscriptReady,
    TranscriptReadyEvent,
)
from callqa.outbox import enqueue
from callqa.storage import BucketNotFound, ObjectNotFound, ObjectStore
from callqa.transcripts import TranscriptDocument
from transcriber.audio import UndecodableAudio
from transcriber.config import Settings
from transcriber.pipeline import CallInfo, TranscriptionPipeline
from transcriber.redact import redact_audio
from transcriber.tables import TranscriptRecord

log = logging.getLogger(__name__)
PRODUCER = "transcriber"

AUDIO_SECONDS = Counter("callqa_transcriber_audio_seconds_total", "Seconds of audio transcribed")
BUSY = Gauge("callqa_transcriber_busy", "Calls being transcribed right now by this process")
REAL_TIME_FACTOR = Histogram(
    "callqa_transcriber_real_time_factor",
    "Processing time ÷ audio duration per recording",
    buckets=(0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
)


def transcript_key(recording_id: str, model_version: str) -> str:
    return f"transcripts/{recording_id}/{model_version.replace('/', '_')}.json"


def redacted_audio_key(recording_id: str, model_version: str, extension: str) -> str:
    return f"redacted-audio/{recording_id}/{model_version.replace('/', '_')}.{extension}"


class Transcriber:
    def __init__(
        self, settings: Settings, db: Database, store: ObjectStore, pipeline: TranscriptionPipeline | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store  # this service's bucket: transcripts and redacted audio
        self._pipeline = pipeline  # the model, loaded once by `load()` at start-up
        self._recordings: dict[str, ObjectStore] = {}  # read-only views of recorder-ingest's bucket(s)
        self.cancelled = threading.Event()  # set on shutdown: the running call is abandoned

    def load(self) -> None:
        if self._pipeline is None:
            self._pipeline = TranscriptionPipeline(self.settings)

    @property
    def pipeline(self) -> TranscriptionPipeline:
        if self._pipeline is None:
            raise RuntimeError("the transcription model is not loaded yet")
        return self._pipeline

    def abandon(self) -> None:
        self.cancelled.set()

    def recordings(self, bucket: str) -> ObjectStore:
        if bucket not in self._recordings:
            self._recordings[bucket] = ObjectStore.from_settings(self.settings.s3.model_copy(update={"bucket": bucket}))
        return self._recordings[bucket]

    def already_done(self, recording_id: str) -> bool:
        with self.db.session() as session:
            found = session.exec(
                select(TranscriptRecord.id).where(
                    TranscriptRecord.recording_id == recording_id,
                    TranscriptRecord.model_version == self.model_version,
                )
            ).first()
        return found is not None

    @property
    def model_version(self) -> str:
        return f"{self.pipeline.model.id}@{self.pipeline.model.version}"

    def transcribe(self, recording: RecordingStored) -> None:
        if recording.consent_status is ConsentStatus.declined:
            log.info("consent declined: not transcribed")
            return
        if self.already_done(recording.recording_id):
            log.info("already transcribed with this model: duplicate event ignored")
            return
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="callqa-transcribe-") as workdir:
            source = Path(workdir) / f"audio.{recording.audio_key.rsplit('.', 1)[-1]}"
            try:
                self._download(recording.bucket, recording.audio_key, source)
            except ObjectNotFound:
                log.warning("audio gone before transcription (purged?): skipped")
                return
            except BucketNotFound as exc:  # misconfiguration, not a passing fault: park it visibly
                raise PermanentError(str(exc)) from exc
            call = CallInfo(recording.recording_id, recording.channel_layout, recording.language, recording.queue)
            BUSY.inc()
            try:
                document = self.pipeline.run(source, call, self.cancelled)
            except UndecodableAudio as exc:
                raise PermanentError(f"undecodable audio: {exc}") from exc
            finally:
                BUSY.dec()
            self._store_redacted_audio(document, source, Path(workdir))
        self._commit(recording, document)
        elapsed = time.perf_counter() - started
        AUDIO_SECONDS.inc(document.duration_ms / 1000)
        if document.duration_ms:
            REAL_TIME_FACTOR.observe(elapsed / (document.duration_ms / 1000))
        log.info(
            "transcribed",
            extra={"turns": len(document.turns), "language": document.language, "seconds": round(elapsed, 2)},
        )

    def _download(self, bucket: str, key: str, target: Path) -> None:
        with target.open("wb") as out:
            for chunk in self.recordings(bucket).get(key):
                out.write(chunk)

    def _store_redacted_audio(self, document: TranscriptDocument, source: Path, workdir: Path) -> None:
        mode = self.settings.redacted_audio
        if mode == "off":
            return
        target = workdir / f"redacted{source.suffix}"
        redact_audio(source, target, document.redactions, mode=mode)
        key = redacted_audio_key(document.recording_id, self.model_version, source.suffix.lstrip("."))
        with target.open("rb") as f:
            self.store.put_stream(key, f, length=target.stat().st_size, content_type="audio/" + source.suffix[1:])
        document.redacted_audio_key = key

    def _commit(self, recording: RecordingStored, document: TranscriptDocument) -> None:
        key = transcript_key(recording.recording_id, self.model_version)
        body = document.model_dump_json().encode()
        self.store.put_bytes(key, body, content_type="application/json")
        inline = document.model_dump(mode="json") if len(body) <= self.settings.inline_transcript_max_bytes else None
        event = TranscriptReadyEvent(
            correlation_id=recording.recording_id,
            producer=PRODUCER,
            payload=TranscriptReady(
                recording_id=recording.recording_id,
                agent_id=recording.agent_id,
                group=recording.group,
                queue=recording.queue,
                started_at=recording.started_at,
                language=document.language,
                model_version=self.model_version,
                duration_ms=document.duration_ms,
                transcript_key=key,
                document=inline,
                direction=recording.direction,
                tags=recording.tags,
            ),
        )
        try:
            with self.db.session() as session:
                session.add(
                    TranscriptRecord(
                        recording_id=recording.recording_id,
                        model_version=self.model_version,
                        language=document.language,
                        duration_ms=document.duration_ms,
                        turns=len(document.turns),
                        transcript_key=key,
                        redacted_audio_key=document.redacted_audio_key,
                    )
                )
                enqueue(session, event)
        except IntegrityError:
            log.info("a concurrent worker stored this transcript first")

    def erase(self, recording_id: str) -> None:
        """recording.purged: the transcript and the redacted audio go too."""
        with self.db.session() as session:
            records = session.exec(select(TranscriptRecord).where(TranscriptRecord.recording_id == recording_id)).all()
        for record in records:
            self.store.delete_all_versions(record.transcript_key)
            if record.redacted_audio_key:
                self.store.delete_all_versions(record.redacted_audio_key)
        with self.db.session() as session:
            session.exec(delete(TranscriptRecord).where(col(TranscriptRecord.recording_id) == recording_id))
        log.info("transcripts erased", extra={"count": len(records)})
