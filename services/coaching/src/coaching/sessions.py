"""Calibration sessions: several analysts score the same calls blind, the lead sets the reference, and
the session reports agreement (`calibration.report`). Kept apart from evaluations: a calibration score
never becomes a version of an evaluation and never reaches an agent.

    active --every analyst submitted, lead closes--> closed
Blind: an analyst sees only their own scores (and not the automatic ones) until they submit; the report
is the lead's and supervisors' at any time, an analyst's after submitting.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, func, select

from callqa.auth import Principal, Role
from callqa.db import Database
from callqa.events import utcnow
from coaching import calibration, scoring
from coaching.calibration import Score, Subject
from coaching.errors import InvalidDecision, NotFound, NotYours, WrongState
from coaching.ledger import Ledger, lock
from coaching.tables import CalibrationScore, CalibrationSession, EvaluationVersion

RESULTS = (scoring.PASS, scoring.FAIL, scoring.NA)


class Calibrations:
    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger

    def create(
        self, principal: Principal, name: str, evaluation_ids: Sequence[str], analysts: Sequence[str]
    ) -> CalibrationSession:
        with self.db.session() as session:
            for n, evaluation_id in enumerate(evaluation_ids):
                try:
                    self.ledger.record(session, evaluation_id)
                except NotFound as exc:
                    raise InvalidDecision(f"evaluation {evaluation_id!r} not found", f"evaluation_ids.{n}") from exc
            if principal.subject in analysts:
                raise InvalidDecision("the lead sets the reference and does not score as an analyst", "analysts")
            created = CalibrationSession(
                id=str(uuid.uuid4()),
                name=name,
                lead_id=principal.subject,
                status="active",
                evaluation_ids=list(dict.fromkeys(evaluation_ids)),
                analysts=list(dict.fromkeys(analysts)),
            )
            session.add(created)
            return created

    def _get(self, session: Session, session_id: str, *, for_update: bool = False) -> CalibrationSession:
        statement = select(CalibrationSession).where(CalibrationSession.id == session_id)
        found = session.exec(lock(statement, session) if for_update else statement).first()
        if found is None:
            raise NotFound("calibration session", session_id)
        return found

    @staticmethod
    def leads(cal: CalibrationSession, principal: Principal) -> bool:
        return cal.lead_id == principal.subject or bool(principal.roles & {Role.supervisor, Role.admin})

    def get(self, principal: Principal, session_id: str) -> CalibrationSession:
        with self.db.session() as session:
            cal = self._get(session, session_id)
        if not self.leads(cal, principal) and principal.subject not in cal.analysts:
            raise NotYours("only the session's lead, its analysts and supervisors see it")
        return cal

    def search(self, principal: Principal, *, limit: int, offset: int) -> tuple[list[CalibrationSession], int]:
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(CalibrationSession)).one()
            rows = session.exec(
                select(CalibrationSession)
                .order_by(col(CalibrationSession.created_at).desc(), col(CalibrationSession.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def call(
        self, principal: Principal, session_id: str, evaluation_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """What a rater scores: the items (no automatic results, no evidence), and the rater's own scores."""
        with self.db.session() as session:
            cal = self._get(session, session_id)
            self._may_score(cal, principal, evaluation_id)
            auto = self.ledger.version(session, evaluation_id, 1)
            mine = self._score(session, session_id, evaluation_id, principal.subject)
        blank = [
            {"item_id": i["item_id"], "section": i.get("section", ""), "max_points": scoring.item_maximum(i)}
            for i in auto.items
        ]
        return blank, mine.items if mine else []

    def _may_score(self, cal: CalibrationSession, principal: Principal, evaluation_id: str) -> None:
        if evaluation_id not in cal.evaluation_ids:
            raise NotFound("call in the session", evaluation_id)
        if principal.subject not in cal.analysts and not self.leads(cal, principal):
            raise NotYours("only the session's analysts and lead score it")

    def _score(self, session: Session, session_id: str, evaluation_id: str, rater: str) -> CalibrationScore | None:
        return session.exec(
            select(CalibrationScore).where(
                CalibrationScore.session_id == session_id,
                CalibrationScore.evaluation_id == evaluation_id,
                CalibrationScore.rater_id == rater,
            )
        ).first()

    def score(
        self, principal: Principal, session_id: str, evaluation_id: str, items: Sequence[dict[str, Any]]
    ) -> CalibrationScore:
        """An analyst's score of a call, or the lead's reference; replaced until the analyst submits."""
        with self.db.session() as session:
            cal = self._get(session, session_id, for_update=True)
            self._may_score(cal, principal, evaluation_id)
            if cal.status != "active":
                raise WrongState(f"a {cal.status} session takes no scores")
            reference = principal.subject not in cal.analysts
            if not reference and principal.subject in cal.submitted:
                raise WrongState("you submitted this session: your scores are final")
            auto = self.ledger.version(session, evaluation_id, 1)
            known = {i["item_id"]: i for i in auto.items}
            seen: set[str] = set()
            for n, item in enumerate(items):
                if item["item_id"] not in known:
                    raise scoring.ItemNotInScorecard(item["item_id"], f"items.{n}.item_id")
                if item["item_id"] in seen:
                    raise InvalidDecision(f"item {item['item_id']!r} is scored twice", f"items.{n}.item_id")
                seen.add(item["item_id"])
                maximum = known[item["item_id"]].get("max_points")
                if item["points"] < 0 or (maximum is not None and item["points"] > maximum):
                    raise InvalidDecision(f"points must be between 0 and {maximum}", f"items.{n}.points")
            stored = self._score(session, session_id, evaluation_id, principal.subject)
            if stored is None:
                stored = CalibrationScore(
                    session_id=session_id, evaluation_id=evaluation_id, rater_id=principal.subject, items=[]
                )
            stored.items, stored.is_reference, stored.updated_at = [dict(i) for i in items], reference, utcnow()
            session.add(stored)
            return stored

    def submit(self, principal: Principal, session_id: str) -> CalibrationSession:
        with self.db.session() as session:
            cal = self._get(session, session_id, for_update=True)
            if principal.subject not in cal.analysts:
                raise NotYours("only the session's analysts submit")
            if cal.status != "active":
                raise WrongState(f"a {cal.status} session takes no submissions")
            if principal.subject in cal.submitted:
                raise WrongState("already submitted")
            scored = set(
                session.exec(
                    select(CalibrationScore.evaluation_id).where(
                        CalibrationScore.session_id == session_id, CalibrationScore.rater_id == principal.subject
                    )
                ).all()
            )
            if missing := [e for e in cal.evaluation_ids if e not in scored]:
                raise WrongState(f"score every call first; missing: {', '.join(missing)}")
            cal.submitted = [*cal.submitted, principal.subject]
            session.add(cal)
            return cal

    def close(self, principal: Principal, session_id: str) -> CalibrationSession:
        with self.db.session() as session:
            cal = self._get(session, session_id, for_update=True)
            if not self.leads(cal, principal):
                raise NotYours("only the lead or a supervisor closes a session")
            if cal.status != "active":
                raise WrongState(f"a {cal.status} session cannot be closed")
            cal.status, cal.closed_at = "closed", utcnow()
            session.add(cal)
            return cal

    def report(self, principal: Principal, session_id: str) -> tuple[CalibrationSession, calibration.Report]:
        with self.db.session() as session:
            cal = self._get(session, session_id)
            if not self.leads(cal, principal) and principal.subject not in cal.submitted:
                raise NotYours("the report is the lead's, and each analyst's once they submitted")
            scores = session.exec(select(CalibrationScore).where(CalibrationScore.session_id == session_id)).all()
            autos = session.exec(
                select(EvaluationVersion).where(
                    col(EvaluationVersion.evaluation_id).in_(cal.evaluation_ids), EvaluationVersion.version == 1
                )
            ).all()
        analysts: dict[str, dict[Subject, Score]] = {a: {} for a in cal.submitted}
        reference: dict[Subject, Score] = {}
        for row in scores:
            target = reference if row.is_reference else analysts.get(row.rater_id)
            if target is None:
                continue  # an analyst who has not submitted yet is not counted
            for item in row.items:
                target[(row.evaluation_id, item["item_id"])] = Score(item["result"], float(item["points"]))
        auto: dict[Subject, Score] = {}
        maxima: dict[Subject, float] = {}
        for version in autos:
            for item in version.items:
                auto[(version.evaluation_id, item["item_id"])] = Score(item["result"], float(item["points"]))
                maxima[(version.evaluation_id, item["item_id"])] = scoring.item_maximum(item)
        for subject, ref in reference.items():  # a reference that passes an item tells its maximum too
            maxima[subject] = max(maxima.get(subject, 0.0), ref.points)
        return cal, calibration.report(analysts, reference, auto, maxima)
