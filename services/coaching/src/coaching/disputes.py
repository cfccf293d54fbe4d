"""What an agent does with a released evaluation: acknowledge it, or appeal items of it; and how an
appeal is resolved. The rules are `appeals.py`'s; this keeps the state and the timeline.

    released --acknowledge--> acknowledged (final)
    released --appeal (window, rounds)--> appealed --resolve--> released (the resolution's version, if
    anything changed) --appeal (next round)--> ...
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlmodel import Session, col, func, select

from callqa.auth import Principal, Role
from callqa.db import Database
from callqa.events import utcnow
from coaching import appeals, scoring
from coaching.appeals import AppealRefused, Policy, Resolution
from coaching.errors import NotFound, NotYours, WrongState
from coaching.ledger import Ledger, is_staff, lock, note
from coaching.scoring import Totals
from coaching.tables import Appeal, EvaluationRecord, EvaluationVersion


class Disputes:
    def __init__(self, db: Database, ledger: Ledger, policy: Policy) -> None:
        self.db = db
        self.ledger = ledger
        self.policy = policy

    def _agent_record(self, session: Session, principal: Principal, evaluation_id: str) -> EvaluationRecord:
        record = self.ledger.record(session, evaluation_id, for_update=True)
        if record.agent_id != principal.subject:
            raise NotYours("agents may only acknowledge or appeal their own evaluations")
        return record

    def _released(self, session: Session, record: EvaluationRecord) -> EvaluationVersion:
        version = self.ledger.released(session, record.id)
        if version is None:
            raise NotFound("evaluation", record.id)  # not released: does not exist for the agent
        return version

    def _open_appeal(self, session: Session, evaluation_id: str) -> Appeal | None:
        return session.exec(
            select(Appeal).where(Appeal.evaluation_id == evaluation_id, Appeal.status == "open")
        ).first()

    def acknowledge(self, principal: Principal, evaluation_id: str, comment: str | None) -> EvaluationRecord:
        with self.db.session() as session:
            record = self._agent_record(session, principal, evaluation_id)
            version = self._released(session, record)
            if record.acknowledged_version is not None:
                raise AppealRefused(f"version {record.acknowledged_version} was already acknowledged")
            if self._open_appeal(session, evaluation_id) is not None:
                raise AppealRefused("an appeal of this evaluation is open: wait for its resolution")
            record.acknowledged_version = version.version
            session.add(record)
            note(session, record, principal.subject, "acknowledged", version=version.version, comment=comment)
            return record

    def appeal(
        self, principal: Principal, evaluation_id: str, items: Sequence[tuple[str, str]], comment: str | None
    ) -> Appeal:
        """`items`: (item id, reason) pairs."""
        with self.db.session() as session:
            record = self._agent_record(session, principal, evaluation_id)
            version = self._released(session, record)
            appeals.check_appeal(
                self.policy,
                released_at=version.released_at,
                now=utcnow(),
                rounds_so_far=record.appeal_rounds,
                open_appeal=self._open_appeal(session, evaluation_id) is not None,
                acknowledged=record.acknowledged_version is not None,
            )
            appeals.check_items([i for i, _ in items], version.items)
            reviewer = version.author if version.source == "human" else None
            record.appeal_rounds += 1
            appeal = Appeal(
                id=str(uuid.uuid4()),
                evaluation_id=record.id,
                agent_id=record.agent_id,
                round=record.appeal_rounds,
                version=version.version,
                items=[{"item_id": i, "reason": r} for i, r in items],
                comment=comment,
                status="open",
                assignee=appeals.route(self.policy, reviewer),
            )
            session.add(record)
            session.add(appeal)
            note(
                session,
                record,
                principal.subject,
                "appealed",
                version=version.version,
                comment=comment,
                appeal=appeal.id,
                round=appeal.round,
                items=[i for i, _ in items],
                assignee=appeal.assignee,
            )
            return appeal

    def get(self, principal: Principal, appeal_id: str) -> Appeal:
        with self.db.session() as session:
            appeal = session.get(Appeal, appeal_id)
            if appeal is None:
                raise NotFound("appeal", appeal_id)
        if not is_staff(principal) and appeal.agent_id != principal.subject:
            raise NotYours("agents may only see their own appeals")
        return appeal

    def search(
        self,
        principal: Principal,
        *,
        status: str | None,
        assignee: str | None,
        evaluation_id: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Appeal], int]:
        conditions: list[Any] = []
        if not is_staff(principal):
            conditions.append(col(Appeal.agent_id) == principal.subject)
        for name, value in (("status", status), ("assignee", assignee), ("evaluation_id", evaluation_id)):
            if value is not None:
                conditions.append(col(getattr(Appeal, name)) == value)
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(Appeal).where(*conditions)).one()
            rows = session.exec(
                select(Appeal)
                .where(*conditions)
                .order_by(col(Appeal.raised_at), col(Appeal.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)

    def resolve(
        self, principal: Principal, appeal_id: str, resolutions: Sequence[Resolution]
    ) -> tuple[Appeal, EvaluationVersion | None]:
        with self.db.session() as session:
            appeal = session.exec(lock(select(Appeal).where(Appeal.id == appeal_id), session)).first()
            if appeal is None:
                raise NotFound("appeal", appeal_id)
            supervisor = bool(principal.roles & {Role.supervisor, Role.admin})
            if not supervisor and appeal.assignee != principal.subject:
                raise NotYours("the appeal is routed to " + (appeal.assignee or "a supervisor"))
            if appeal.status != "open":
                raise WrongState(f"a {appeal.status} appeal cannot be resolved")
            record = self.ledger.record(session, appeal.evaluation_id, for_update=True)
            appealed = self.ledger.version(session, record.id, appeal.version)
            before = scoring.apply(appealed.items, [])  # carries each item's automatic result along
            items = appeals.resolve(before, [i["item_id"] for i in appeal.items], resolutions)
            version = None
            if any(
                i["result"] != b["result"] or i["points"] != b["points"] for i, b in zip(items, before, strict=True)
            ):
                auto = self.ledger.version(session, record.id, 1)
                totals = scoring.totals(
                    items,
                    max_points=appealed.max_points,
                    pass_threshold=self.ledger.pass_threshold(record),
                    auto=Totals(auto.total_points, auto.max_points, auto.percentage, auto.passed, auto.auto_failed),
                )
                version = self.ledger.add_human_version(
                    session,
                    record,
                    items=items,
                    totals=totals,
                    cause="appeal",
                    author=principal.subject,
                    notes=appealed.notes,
                    released_at=utcnow(),
                )
            appeal.status, appeal.resolved_by, appeal.resolved_at = "resolved", principal.subject, utcnow()
            appeal.resolutions = [asdict(r) | {"outcome": r.outcome.value} for r in resolutions]
            appeal.result_version = version.version if version else None
            session.add(appeal)
            note(
                session,
                record,
                principal.subject,
                "appeal_resolved",
                version=version.version if version else appeal.version,
                appeal=appeal.id,
                comment="; ".join(f"{r.item_id}: {r.reason}" for r in resolutions),  # erased on purge
                outcomes={r.item_id: r.outcome.value for r in resolutions},
            )
            return appeal, version
