"""The scorecard library: versioned scorecards in the database, compiled once and cached."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from callqa.db import Database
from scorer.rules.engine import CompiledScorecard, compile_scorecard
from scorer.scorecard import Scorecard, default_scorecard
from scorer.tables import ScorecardVersion


class ScorecardNotFound(KeyError):
    pass


class ScorecardExists(Exception):
    pass


def as_document(card: Scorecard, version: int) -> dict[str, Any]:
    return card.model_copy(update={"version": version}).model_dump(mode="json")


class ScorecardLibrary:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._compiled: dict[tuple[str, int], CompiledScorecard] = {}
        self._lock = threading.Lock()

    def create(self, card: Scorecard, actor: str) -> ScorecardVersion:
        if self._latest_version(card.id) is not None:
            raise ScorecardExists(f"scorecard {card.id!r} exists; PUT /v1/scorecards/{card.id} makes a new version")
        return self._save(card, 1, actor)

    def revise(self, scorecard_id: str, card: Scorecard, actor: str) -> ScorecardVersion:
        """Editing never changes a stored version: it appends the next one."""
        latest = self._latest_version(scorecard_id)
        if latest is None:
            raise ScorecardNotFound(scorecard_id)
        return self._save(card.model_copy(update={"id": scorecard_id}), latest + 1, actor)

    def _save(self, card: Scorecard, version: int, actor: str) -> ScorecardVersion:
        row = ScorecardVersion(
            scorecard_id=card.id,
            version=version,
            name=card.name,
            language=card.language,
            document=as_document(card, version),
            created_by=actor,
        )
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError as exc:  # two editors saved at once: the other one got this number
            raise ScorecardExists(f"version {version} of {card.id!r} was just created; retry") from exc
        return row

    def _latest_version(self, scorecard_id: str) -> int | None:
        with self.db.session() as session:
            latest = session.exec(
                select(func.max(ScorecardVersion.version)).where(ScorecardVersion.scorecard_id == scorecard_id)
            ).one()
        return int(latest) if latest is not None else None

    def get(self, scorecard_id: str, version: int | None = None) -> ScorecardVersion:
        with self.db.session() as session:
            query = select(ScorecardVersion).where(ScorecardVersion.scorecard_id == scorecard_id)
            if version is None:
                query = query.order_by(col(ScorecardVersion.version).desc())
            else:
                query = query.where(ScorecardVersion.version == version)
            row = session.exec(query.limit(1)).first()
        if row is None:
            raise ScorecardNotFound(f"{scorecard_id}" + (f" v{version}" if version else ""))
        return row

    def latest_all(self) -> list[ScorecardVersion]:
        with self.db.session() as session:
            newest = (
                select(ScorecardVersion.scorecard_id, func.max(ScorecardVersion.version).label("v"))
                .group_by(col(ScorecardVersion.scorecard_id))
                .subquery()
            )
            rows = session.exec(
                select(ScorecardVersion)
                .join(
                    newest,
                    (col(ScorecardVersion.scorecard_id) == newest.c.scorecard_id)
                    & (col(ScorecardVersion.version) == newest.c.v),
                )
                .order_by(col(ScorecardVersion.scorecard_id))
            ).all()
        return list(rows)

    def versions(self, scorecard_id: str) -> list[ScorecardVersion]:
        with self.db.session() as session:
            rows = session.exec(
                select(ScorecardVersion)
                .where(ScorecardVersion.scorecard_id == scorecard_id)
                .order_by(col(ScorecardVersion.version))
            ).all()
        if not rows:
            raise ScorecardNotFound(scorecard_id)
        return list(rows)

    def applicable(self, language: str, queue: str | None, group: str | None) -> list[ScorecardVersion]:
        """Latest versions whose language matches and whose queue/group filters admit the call."""
        chosen = []
        for row in self.latest_all():
            card = Scorecard.model_validate(row.document)
            if card.language != language.split("-")[0]:
                continue
            if card.applies_to.queues and queue not in card.applies_to.queues:
                continue
            if card.applies_to.groups and group not in card.applies_to.groups:
                continue
            chosen.append(row)
        return chosen

    def compiled(self, row: ScorecardVersion) -> CompiledScorecard:
        key = (row.scorecard_id, row.version)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = compile_scorecard(Scorecard.model_validate(row.document))
            return self._compiled[key]

    def seed_defaults(self) -> None:
        for language in ("zh", "en"):
            card = default_scorecard(language)
            if self._latest_version(card.id) is None:
                with contextlib.suppress(ScorecardExists):  # another replica seeded it first
                    self._save(card, 1, "callqa")
