"""The call index: what search needs about each call, kept from the event stream (idempotent, order-tolerant:
any of a call's events may arrive first), and the search over it (the words said: `console.search`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, false, func
from sqlmodel import Session, col, select

from callqa.db import Database
from console import search
from console.search import Segmenter, Term
from console.tables import CallEntry, CallScore, CallText

STAFF_ROLES = frozenset({"qa_analyst", "supervisor", "trainer", "auditor", "admin"})


def bars(values: list[str]) -> str:
    """`|a|b|`: a list stored so that one value matches exactly with LIKE '%|a|%'."""
    return "|" + "|".join(v.replace("|", "/") for v in values) + "|" if values else ""


@dataclass(frozen=True)
class CallFilter:
    agent_id: str | None = None
    group: str | None = None
    queue: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    score_min: float | None = None
    score_max: float | None = None
    passed: bool | None = None
    failed_item: str | None = None
    tag: str | None = None
    words: str | None = None


@dataclass(frozen=True)
class Found:
    call: CallEntry
    scores: list[CallScore]
    snippet: str | None


class CallIndex:
    def __init__(self, db: Database, segmenter: Segmenter | None = None) -> None:
        self.db = db
        self.segmenter = segmenter or Segmenter()

    def _entry(self, session: Session, recording_id: str, facts: dict[str, Any]) -> CallEntry:
        entry = session.get(CallEntry, recording_id)
        if entry is None:
            entry = CallEntry(recording_id=recording_id, **facts)
            session.add(entry)
        return entry

    def recording_stored(self, recording_id: str, facts: dict[str, Any], tags: list[str], call_id: str) -> None:
        with self.db.session() as session:
            entry = self._entry(session, recording_id, facts)
            for name, value in facts.items():
                setattr(entry, name, value)
            entry.tags = bars(tags)
            entry.call_id = call_id

    def transcript_ready(self, recording_id: str, facts: dict[str, Any], document: dict[str, Any]) -> None:
        with self.db.session() as session:
            entry = self._entry(session, recording_id, facts)
            if entry.purged:
                return  # the purge came first: keep nothing of the call's words
            entry.transcript_version = (
                str(document.get("model", {}).get("id", "")) + "@" + str(document.get("model", {}).get("version", ""))
            )
            entry.language = document.get("language") or entry.language
            entry.document = document
            entry.text = "\n".join(str(t.get("text", "")) for t in document.get("turns", []))
            words = self.segmenter.index_words(entry.text)
            row = session.exec(select(CallText).where(CallText.recording_id == recording_id)).first()
            if row is None:
                session.add(CallText(recording_id=recording_id, words=words))
            else:
                row.words = words

    def scored(
        self,
        evaluation_id: str,
        recording_id: str,
        facts: dict[str, Any],
        *,
        scorecard: tuple[str, int],
        source: str,
        version: int,
        percentage: float,
        passed: bool,
        failed_items: list[str],
    ) -> None:
        with self.db.session() as session:
            self._entry(session, recording_id, facts)
            score = session.get(CallScore, evaluation_id)
            if score is not None and score.version > version:
                return  # an older version arriving late changes nothing
            if score is None:
                score = CallScore(
                    evaluation_id=evaluation_id,
                    recording_id=recording_id,
                    scorecard_id=scorecard[0],
                    scorecard_version=scorecard[1],
                    source=source,
                    version=version,
                    percentage=percentage,
                    passed=passed,
                )
                session.add(score)
            score.source, score.version, score.percentage, score.passed = source, version, percentage, passed
            score.failed_items = bars(failed_items)

    def purged(self, recording_id: str) -> None:
        """The call's words go; its facts and scores stay (as in the other services)."""
        with self.db.session() as session:
            session.exec(delete(CallText).where(col(CallText.recording_id) == recording_id))
            entry = session.get(CallEntry, recording_id)
            if entry is None:
                return
            entry.purged, entry.text, entry.document = True, "", None

    def get(self, recording_id: str) -> CallEntry | None:
        with self.db.session() as session:
            return session.get(CallEntry, recording_id)

    def search(self, where: CallFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[Found], int]:
        query = select(CallEntry)
        for column, value in (
            (CallEntry.agent_id, where.agent_id),
            (CallEntry.group, where.group),
            (CallEntry.queue, where.queue),
        ):
            if value:
                query = query.where(col(column) == value)
        if where.started_from:
            query = query.where(col(CallEntry.started_at) >= where.started_from)
        if where.started_to:
            query = query.where(col(CallEntry.started_at) < where.started_to)
        if where.tag:
            query = query.where(col(CallEntry.tags).contains(bars([where.tag]), autoescape=True))
        terms = self.segmenter.query_terms(where.words) if where.words else []
        if where.words:
            # Words with nothing to look for (punctuation only) match no call rather than every call.
            dialect = self.db.engine.dialect.name
            query = query.where(col(CallEntry.recording_id).in_(search.matching(dialect, terms)) if terms else false())
        scored = [col(CallScore.recording_id) == CallEntry.recording_id]
        if where.score_min is not None:
            scored.append(col(CallScore.percentage) >= where.score_min)
        if where.score_max is not None:
            scored.append(col(CallScore.percentage) <= where.score_max)
        if where.passed is not None:
            scored.append(col(CallScore.passed) == where.passed)
        if where.failed_item:
            scored.append(col(CallScore.failed_items).contains(bars([where.failed_item]), autoescape=True))
        if len(scored) > 1:
            query = query.where(exists().where(*scored))
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(query.subquery())).one()
            rows = session.exec(query.order_by(col(CallEntry.started_at).desc()).limit(limit).offset(offset)).all()
            ids = [r.recording_id for r in rows]
            scores: dict[str, list[CallScore]] = {i: [] for i in ids}
            if ids:
                for score in session.exec(select(CallScore).where(col(CallScore.recording_id).in_(ids))).all():
                    scores[score.recording_id].append(score)
        return [Found(r, scores[r.recording_id], snippet(r.text, terms)) for r in rows], int(total)


def snippet(text: str, terms: list[Term], around: int = 40) -> str | None:
    """The text around the first place a query word (or a word inside it) was said; a stemmed match ("refunds"
    for "refund") that appears nowhere as typed shows the start of the call."""
    if not terms:
        return None
    folded = text.lower()
    places = [(at, len(w)) for t in terms for w in (t.whole, *t.parts) if (at := folded.find(w.lower())) >= 0]
    at, length = min(places) if places else (0, 0)
    start, end = max(0, at - around), min(len(text), at + length + around)
    return ("…" if start else "") + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")
