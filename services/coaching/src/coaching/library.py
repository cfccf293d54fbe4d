"""The training library (seed 001): calls curated as exemplary or problem cases with breakpoints, learning
assignments and learning records, and an FAQ built from what customers ask first.

Coaching has no audio of its own: it remembers from `transcript.ready` where the transcriber put the transcript
and its **redacted** audio copy (bucket `transcripts_bucket`), and serves a breakpoint's time range from that copy
only (never the original recording). A WAV copy is cut to the range (header rewritten, the original `fmt ` chunk
kept, so PCM and G.711 both work); any copy can also be answered as a short-lived presigned URL with a media
fragment `#t=start,end`.

FAQ: the customer's first turn of every call (already redacted by the transcriber), normalised (NFKC, lower case,
punctuation and spaces dropped), vectorised by character 1-3-grams TF-IDF (works for Chinese without a word
segmenter) and grouped by agglomerative clustering on cosine distance (average linkage, a distance threshold):
scikit-learn, deterministic for the same calls. An entry is a group of at least `min_calls` calls; its question is
the request closest to the group's centre; its best answers are the agent's first replies, exemplary library
calls first, then by the call's automatic score.

The FAQ is materialised (`faq_entries`, `faq_state`): what feeds it (a transcript, a score of a transcribed call, an
exemplary item, a purge) marks it changed, and the periodic task recomputes it when it is (over the
`max_calls` latest calls: clustering is quadratic); readers get the stored entries with `computed_at` and `stale`.

`recording.purged` deletes the call's transcript reference and its library items with their assignments, and takes
the call out of the stored FAQ at once (its request, its answer; an entry left with no call goes), before any
recomputation.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_distances
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select

from callqa.auth import Principal, Role
from callqa.db import Database
from callqa.events import RecordingPurged, TranscriptReady, utcnow
from callqa.storage import ObjectStore
from callqa.transcripts import TranscriptDocument
from coaching.errors import Invalid, NotFound, NotYours, WrongState
from coaching.ledger import is_staff, lock
from coaching.tables import (
    EvaluationRecord,
    FaqEntryRecord,
    FaqState,
    ImprovementPlan,
    LearningAssignment,
    LearningRecord,
    LibraryItem,
    PurgedRecording,
    TranscriptRef,
)

CURATORS = frozenset({Role.trainer, Role.supervisor, Role.admin})


@dataclass(frozen=True)
class Clip:
    media_type: str
    body: bytes


def first_exchange(document: TranscriptDocument) -> tuple[str | None, str | None]:
    """The customer's first turn and the agent's first turn after it."""
    request = next((t for t in document.turns if t.role == "customer" and t.text.strip()), None)
    if request is None:
        return None, None
    answer = next(
        (t for t in document.turns if t.role == "agent" and t.begin_ms >= request.begin_ms and t.text.strip()), None
    )
    return request.text.strip(), answer.text.strip() if answer else None


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", "", text)


def wav_slice(header: bytes, begin_ms: int, end_ms: int) -> tuple[bytes, int, int]:
    """From a WAV file's first bytes: (the `fmt ` chunk, byte offset, byte length) of [begin_ms, end_ms)."""
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise WrongState("the redacted copy is not a WAV file; ask for delivery=url")
    pos, fmt, data = 12, b"", None
    while pos + 8 <= len(header):
        chunk, size = header[pos : pos + 4], struct.unpack("<I", header[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            fmt = header[pos + 8 : pos + 8 + size]
        if chunk == b"data":
            data = (pos + 8, size)
            break
        pos += 8 + size + (size & 1)
    if not fmt or data is None:
        raise WrongState("the redacted copy's WAV header has no fmt or data chunk within its first bytes")
    sample_rate, block_align = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
    start = begin_ms * sample_rate // 1000 * block_align
    stop = min(end_ms * sample_rate // 1000 * block_align, data[1])
    if start >= stop:
        raise Invalid("the range is empty or past the end of the audio", "part")
    return fmt, data[0] + start, stop - start


def wav_file(fmt: bytes, frames: bytes) -> bytes:
    body = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


class Library:
    def __init__(
        self,
        db: Database,
        transcripts: ObjectStore | None,
        *,
        url_ttl: timedelta,
        faq_max_calls: int = 3000,
        faq_distance: float = 0.6,
        faq_answers: int = 3,
    ) -> None:
        self.db = db
        self.transcripts = transcripts
        self.url_ttl = url_ttl
        self.faq_max_calls = faq_max_calls
        self.faq_distance = faq_distance
        self.faq_answers = faq_answers

    # --- from the bus -----------------------------------------------------------------------------

    def on_transcript_ready(self, ready: TranscriptReady) -> bool:
        """Remember the transcript's references and first exchange; a duplicate changes nothing."""
        with self.db.session() as session:
            if session.get(PurgedRecording, ready.recording_id) is not None:
                return False
            known = session.get(TranscriptRef, ready.recording_id)
            if known is not None and known.model_version == ready.model_version:
                return False
        if ready.document is not None:
            document = TranscriptDocument.model_validate(ready.document)
        elif self.transcripts is not None:
            document = TranscriptDocument.model_validate_json(self.transcripts.get_bytes(ready.transcript_key))
        else:
            raise RuntimeError("the transcript is not inline and no transcript store is configured")
        request, answer = first_exchange(document)
        with self.db.session() as session:
            ref = session.get(TranscriptRef, ready.recording_id) or TranscriptRef(
                recording_id=ready.recording_id,
                model_version=ready.model_version,
                transcript_key=ready.transcript_key,
                language=ready.language,
                agent_id=ready.agent_id,
                started_at=ready.started_at,
                duration_ms=ready.duration_ms,
            )
            ref.model_version, ref.transcript_key = ready.model_version, ready.transcript_key
            ref.redacted_audio_key, ref.language, ref.group = document.redacted_audio_key, ready.language, ready.group
            ref.duration_ms, ref.first_request, ref.first_answer = ready.duration_ms, request, answer
            ref.received_at = utcnow()
            session.add(ref)
            faq_changed(session)
        return True

    def on_evaluation_scored(self, recording_id: str) -> None:
        """A new score ranks a transcribed call's answer: the FAQ has changed."""
        with self.db.session() as session:
            if session.get(TranscriptRef, recording_id) is not None:
                faq_changed(session)

    def on_recording_purged(self, purged: RecordingPurged) -> int:
        """The call leaves the library and the FAQ (its words with it); returns library items removed."""
        rid = purged.recording_id
        with self.db.session() as session:
            items = session.exec(select(LibraryItem).where(LibraryItem.recording_id == rid)).all()
            ids = [i.id for i in items]
            if ids:
                session.exec(delete(LearningAssignment).where(col(LearningAssignment.library_item_id).in_(ids)))
                session.exec(delete(LibraryItem).where(col(LibraryItem.id).in_(ids)))
            session.exec(delete(TranscriptRef).where(col(TranscriptRef.recording_id) == rid))
            for record in session.exec(select(LearningRecord).where(col(LearningRecord.library_item_id).in_(ids))):
                record.library_item_id = None
                session.add(record)
            self._purge_from_faq(session, rid)
        return len(ids)

    @staticmethod
    def _purge_from_faq(session: Session, rid: str) -> None:
        """Take the call out of the stored FAQ now (not at the next recomputation): its request and its answer."""
        lock_state(session)
        for entry in session.exec(select(FaqEntryRecord)).all():
            if rid not in entry.recording_ids:
                continue
            entry.recording_ids = [r for r in entry.recording_ids if r != rid]
            entry.examples = [e for e in entry.examples if e["recording_id"] != rid]
            entry.answers = [a for a in entry.answers if a["recording_id"] != rid]
            entry.calls = len(entry.recording_ids)
            if entry.question_recording_id == rid:
                if not entry.examples:
                    session.delete(entry)
                    continue
                nearest = entry.examples[0]  # the next member stands in for the question
                entry.question, entry.question_recording_id = nearest["text"], nearest["recording_id"]
            if not entry.recording_ids:
                session.delete(entry)
                continue
            session.add(entry)
        faq_changed(session)

    # --- library items ----------------------------------------------------------------------------

    def create(self, principal: Principal, fields: dict[str, Any]) -> LibraryItem:
        with self.db.session() as session:
            record = session.get(EvaluationRecord, fields["evaluation_id"])
            if record is None:
                raise Invalid(f"evaluation {fields['evaluation_id']!r} is unknown", "evaluation_id")
            if session.get(PurgedRecording, record.recording_id) is not None:
                raise Invalid("the call was purged", "evaluation_id")
            self._check_breakpoints(session, record.recording_id, fields["breakpoints"])
            item = LibraryItem(
                id=str(uuid.uuid4()), recording_id=record.recording_id, created_by=principal.subject, **fields
            )
            session.add(item)
            faq_changed(session)  # an exemplary call's answer goes first
        return item

    def edit(self, principal: Principal, item_id: str, fields: dict[str, Any]) -> LibraryItem:
        with self.db.session() as session:
            item = self._item(session, item_id)
            if "breakpoints" in fields:
                self._check_breakpoints(session, item.recording_id, fields["breakpoints"])
            for name, value in fields.items():
                if name != "evaluation_id":
                    setattr(item, name, value)
            item.updated_at = utcnow()
            session.add(item)
            faq_changed(session)
        return item

    @staticmethod
    def _check_breakpoints(session: Session, recording_id: str, breakpoints: list[dict[str, Any]]) -> None:
        ref = session.get(TranscriptRef, recording_id)
        previous = -1
        for n, bp in enumerate(breakpoints):
            if bp["at_ms"] <= previous:
                raise Invalid("breakpoints are in time order, one per timestamp", f"breakpoints[{n}].at_ms")
            if ref is not None and bp["at_ms"] > ref.duration_ms:
                raise Invalid(f"the call lasts {ref.duration_ms} ms", f"breakpoints[{n}].at_ms")
            end = bp.get("reply_end_ms")
            if end is not None and end <= bp["at_ms"]:
                raise Invalid("the model reply ends after the breakpoint", f"breakpoints[{n}].reply_end_ms")
            previous = bp["at_ms"]

    def _item(self, session: Session, item_id: str) -> LibraryItem:
        item = session.get(LibraryItem, item_id)
        if item is None:
            raise NotFound("library item", item_id)
        return item

    def _assigned(self, session: Session, principal: Principal, item_id: str) -> bool:
        return (
            session.exec(
                select(LearningAssignment).where(
                    LearningAssignment.library_item_id == item_id, LearningAssignment.agent_id == principal.subject
                )
            ).first()
            is not None
        )

    def get(self, principal: Principal, item_id: str) -> LibraryItem:
        with self.db.session() as session:
            item = self._item(session, item_id)
            if not is_staff(principal) and not self._assigned(session, principal, item_id):
                raise NotYours("agents see the library items assigned to them")
        return item

    def search(
        self, principal: Principal, *, kind: str | None, limit: int, offset: int
    ) -> tuple[list[LibraryItem], int]:
        conditions: list[Any] = []
        if kind is not None:
            conditions.append(col(LibraryItem.kind) == kind)
        if not is_staff(principal):
            mine = select(LearningAssignment.library_item_id).where(LearningAssignment.agent_id == principal.subject)
            conditions.append(col(LibraryItem.id).in_(mine.scalar_subquery()))
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(LibraryItem).where(*conditions)).one()
            rows = session.exec(
                select(LibraryItem)
                .where(*conditions)
                .order_by(col(LibraryItem.created_at).desc(), col(LibraryItem.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def breakpoint_range(self, item: LibraryItem, index: int, part: str) -> tuple[int, int]:
        """`prompt`: from the previous breakpoint (or the start) to this one; `reply`: the model reply after it."""
        if index >= len(item.breakpoints):
            raise NotFound("breakpoint", f"{item.id}/{index}")
        bp = item.breakpoints[index]
        if part == "prompt":
            return (item.breakpoints[index - 1]["at_ms"] if index else 0), bp["at_ms"]
        following = item.breakpoints[index + 1]["at_ms"] if index + 1 < len(item.breakpoints) else None
        end = bp.get("reply_end_ms") or following or bp["at_ms"] + 30_000
        return bp["at_ms"], end

    def audio(self, principal: Principal, item_id: str, index: int, part: str, delivery: str) -> Clip | str:
        """The breakpoint's range of the redacted copy: a WAV clip, or a presigned URL with `#t=`."""
        item = self.get(principal, item_id)
        with self.db.session() as session:
            ref = session.get(TranscriptRef, item.recording_id)
        if ref is None or not ref.redacted_audio_key or self.transcripts is None:
            raise WrongState("the call has no redacted audio copy (coaching serves no other)")
        begin, end = self.breakpoint_range(item, index, part)
        end = min(end, ref.duration_ms)
        if delivery == "url":
            url = self.transcripts.presigned_get_url(ref.redacted_audio_key, self.url_ttl)
            return f"{url}#t={begin / 1000:.3f},{end / 1000:.3f}"
        fmt, offset, length = wav_slice(self.transcripts.get_range(ref.redacted_audio_key, 0, 4096), begin, end)
        return Clip("audio/wav", wav_file(fmt, self.transcripts.get_range(ref.redacted_audio_key, offset, length)))

    # --- learning ---------------------------------------------------------------------------------

    def assign(
        self,
        principal: Principal,
        item_id: str,
        agent_ids: list[str],
        plan_id: str | None,
        due_at: datetime | None,
    ) -> list[LearningAssignment]:
        with self.db.session() as session:
            self._item(session, item_id)
            if plan_id is not None:
                plan = session.get(ImprovementPlan, plan_id)
                if plan is None or plan.agent_id not in agent_ids or len(agent_ids) != 1:
                    raise Invalid("a plan's learning goes to the plan's agent alone", "plan_id")
            out = []
            for agent_id in agent_ids:
                assignment = LearningAssignment(
                    id=str(uuid.uuid4()),
                    library_item_id=item_id,
                    agent_id=agent_id,
                    plan_id=plan_id,
                    status="assigned",
                    due_at=due_at,
                    assigned_by=principal.subject,
                )
                session.add(assignment)
                out.append(assignment)
        return out

    def assignments(
        self, principal: Principal, *, agent_id: str | None, limit: int, offset: int
    ) -> tuple[list[LearningAssignment], int]:
        if not is_staff(principal):
            agent_id = principal.subject
        conditions = [] if agent_id is None else [col(LearningAssignment.agent_id) == agent_id]
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(LearningAssignment).where(*conditions)).one()
            rows = session.exec(
                select(LearningAssignment)
                .where(*conditions)
                .order_by(col(LearningAssignment.assigned_at).desc(), col(LearningAssignment.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def complete(self, principal: Principal, assignment_id: str) -> LearningAssignment:
        with self.db.session() as session:
            assignment = session.get(LearningAssignment, assignment_id)
            if assignment is None:
                raise NotFound("learning assignment", assignment_id)
            if assignment.agent_id != principal.subject:
                raise NotYours("only the assigned agent completes it")
            if assignment.status == "completed":
                raise WrongState("already completed")
            assignment.status, assignment.completed_at = "completed", utcnow()
            session.add(assignment)
        return assignment

    def record(self, principal: Principal, fields: dict[str, Any]) -> LearningRecord:
        with self.db.session() as session:
            plan_id = fields.get("plan_id")
            if plan_id is not None:
                plan = session.get(ImprovementPlan, plan_id)
                if plan is None or plan.agent_id != principal.subject:
                    raise Invalid("the plan is not one of yours", "plan_id")
            item_id = fields.get("library_item_id")
            if item_id is not None and not self._assigned(session, principal, item_id):
                raise Invalid("the library item is not assigned to you", "library_item_id")
            record = LearningRecord(id=str(uuid.uuid4()), agent_id=principal.subject, **fields)
            session.add(record)
        return record

    def records(
        self, principal: Principal, *, agent_id: str | None, plan_id: str | None, limit: int, offset: int
    ) -> tuple[list[LearningRecord], int]:
        if not is_staff(principal):
            agent_id = principal.subject
        conditions: list[Any] = []
        if agent_id is not None:
            conditions.append(col(LearningRecord.agent_id) == agent_id)
        if plan_id is not None:
            conditions.append(col(LearningRecord.plan_id) == plan_id)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(LearningRecord).where(*conditions)).one()
            rows = session.exec(
                select(LearningRecord)
                .where(*conditions)
                .order_by(col(LearningRecord.day).desc(), col(LearningRecord.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def get_record(self, principal: Principal, record_id: str) -> LearningRecord:
        with self.db.session() as session:
            record = session.get(LearningRecord, record_id)
        if record is None:
            raise NotFound("learning record", record_id)
        if not is_staff(principal) and record.agent_id != principal.subject:
            raise NotYours("agents see only their own learning records")
        return record

    # --- FAQ --------------------------------------------------------------------------------------

    def faq(self, *, min_calls: int = 2) -> tuple[FaqState | None, list[FaqEntryRecord]]:
        """The stored FAQ: its state (None: never computed) and the entries of at least `min_calls` calls."""
        with self.db.session() as session:
            state = session.get(FaqState, 1)
            entries = session.exec(
                select(FaqEntryRecord)
                .where(col(FaqEntryRecord.calls) >= min_calls)
                .order_by(col(FaqEntryRecord.position))
            ).all()
        return state, list(entries)

    def refresh_faq(self, now: datetime | None = None, *, force: bool = False) -> dict[str, int]:
        """Recompute the stored FAQ if what feeds it changed since (or `force`); the periodic task's step."""
        now = now or utcnow()
        with self.db.session() as session:
            state = session.get(FaqState, 1)
            if (
                not force
                and state is not None
                and state.computed_at is not None
                and state.changed_at <= state.computed_at
            ):
                return {"recomputed": 0}
            refs: list[TranscriptRef] = list(
                session.exec(
                    select(TranscriptRef)
                    .where(col(TranscriptRef.first_request).is_not(None))
                    .order_by(col(TranscriptRef.started_at).desc(), col(TranscriptRef.recording_id))
                    .limit(self.faq_max_calls)
                ).all()
            )
            refs.sort(key=lambda r: r.recording_id)  # the clustering's input order: stable for the same calls
            exemplary = {
                i.recording_id: i.id
                for i in session.exec(select(LibraryItem).where(LibraryItem.kind == "exemplary")).all()
            }
            scores: dict[str, tuple[str, float]] = {}
            ids = [x.recording_id for x in refs]
            for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
                for r in session.exec(
                    select(EvaluationRecord).where(col(EvaluationRecord.recording_id).in_(chunk))
                ).all():
                    scores[r.recording_id] = (r.id, r.auto_percentage)
        entries = self._cluster(refs, exemplary, scores)
        with self.db.session() as session:
            # The state row's lock serialises writers (a refresh and a purge), so one set of entries is stored.
            state = lock_state(session)
            session.exec(delete(FaqEntryRecord))
            for position, entry in enumerate(entries):
                session.add(FaqEntryRecord(position=position, computed_at=now, **entry))
            state.computed_at = now
            state.calls = len(refs)
            session.add(state)
        return {"recomputed": 1, "entries": len(entries)}

    def _cluster(
        self, refs: list[TranscriptRef], exemplary: dict[str, str], scores: dict[str, tuple[str, float]]
    ) -> list[dict[str, Any]]:
        texts = [normalise(r.first_request or "") for r in refs]
        keep = [i for i, t in enumerate(texts) if t]
        if not keep:
            return []
        matrix = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit_transform([texts[i] for i in keep])
        labels = np.zeros(len(keep), dtype=int)
        if len(keep) > 1:
            # cosine distances straight from the sparse TF-IDF rows: n x n floats, never n x vocabulary dense
            labels = AgglomerativeClustering(
                n_clusters=None, metric="precomputed", linkage="average", distance_threshold=self.faq_distance
            ).fit_predict(cosine_distances(matrix))
        entries: list[dict[str, Any]] = []
        for label in sorted(set(labels)):
            members = [keep[i] for i in np.flatnonzero(labels == label)]
            rows = matrix[[keep.index(m) for m in members]]
            centre = np.asarray(rows.mean(axis=0)).ravel()
            closest = members[int(np.argmax(rows @ centre))]
            ranked = sorted(
                (refs[m] for m in members if refs[m].first_answer),
                key=lambda r: (
                    r.recording_id not in exemplary,
                    -scores.get(r.recording_id, ("", 0.0))[1],
                    r.recording_id,
                ),
            )
            entries.append(
                {
                    "question": refs[closest].first_request,
                    "question_recording_id": refs[closest].recording_id,
                    "calls": len(members),
                    "recording_ids": [refs[m].recording_id for m in members],
                    "examples": [
                        {"recording_id": refs[m].recording_id, "text": refs[m].first_request} for m in members[:5]
                    ],
                    "answers": [
                        {
                            "text": r.first_answer,
                            "recording_id": r.recording_id,
                            "evaluation_id": scores.get(r.recording_id, (None, 0.0))[0],
                            "library_item_id": exemplary.get(r.recording_id),
                            "score": scores.get(r.recording_id, ("", None))[1],
                        }
                        for r in ranked[: self.faq_answers]
                    ],
                }
            )
        entries.sort(key=lambda e: (-int(e["calls"]), str(e["question"])))
        return entries


def lock_state(session: Session) -> FaqState:
    """The FAQ's state row, locked (made if missing) so writers of the stored FAQ take turns."""
    statement = lock(select(FaqState).where(FaqState.id == 1), session)
    state = session.exec(statement).first()
    if state is None:  # the migration makes the row; a database emptied by hand gets it back here
        try:
            with session.begin_nested():
                session.add(FaqState(id=1, changed_at=utcnow()))
        except IntegrityError:  # a concurrent writer made it meanwhile
            pass
        state = session.exec(statement).one()
    return state


def faq_changed(session: Session) -> None:
    """Mark the FAQ's inputs changed (an UPDATE of one row; the row is made on first use)."""
    now = utcnow()
    updated = session.execute(sa.update(FaqState).where(col(FaqState.id) == 1).values(changed_at=now))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(FaqState(id=1, changed_at=now))
        except IntegrityError:  # made by a concurrent writer meanwhile: mark it
            session.execute(sa.update(FaqState).where(col(FaqState.id) == 1).values(changed_at=now))
