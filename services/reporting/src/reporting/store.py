"""The rollup store: evaluations in, rollup cells kept in step, and the sums reports are made of.

`record` takes a batch of evaluations, keeps the one that counts per call × scorecard version × source
(`rollups.winners`), and applies the difference to the rollup cells with upserts in the same transaction:
a duplicate changes nothing, a replacement subtracts the old evaluation and adds the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Table, case, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from callqa.db import Database
from callqa.events import ItemResult
from reporting.rollups import (
    Deltas,
    Evaluation,
    EvaluationIdentity,
    ItemOutcome,
    Source,
    winners,
)
from reporting.tables import ROLLUP_KEY, EvaluationRollup, EvaluationRow, ItemRollup, PurgedRecording

TALLY_COLUMNS = ("evaluations", "passed", "auto_failed", "score_centi", "failed_a", "failed_b", "failed_c")
ITEM_COLUMNS = ("applicable", "failed", "not_applicable")
ITEM_KEY = (*ROLLUP_KEY, "item_id", "section", "severity")
EVALUATION_ROLLUPS: Table = EvaluationRollup.__table__  # type: ignore[attr-defined]
ITEM_ROLLUPS: Table = ItemRollup.__table__  # type: ignore[attr-defined]
EVALUATIONS: Table = EvaluationRow.__table__  # type: ignore[attr-defined]


def _upsert(insert: Any, table: Table, key: Sequence[str], sums: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE SET each sum += the new row's: one cell, whichever writer comes first."""
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={c: table.c[c] + statement.excluded[c] for c in sums}
    )


@dataclass(frozen=True)
class Scope:
    """Which rollup cells a report reads: local days, optional group/queue/agent, sources, scorecard versions."""

    first: date
    last: date
    group: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    sources: tuple[str, ...] = (Source.auto.value, Source.human.value)
    versions: tuple[tuple[str, int], ...] | None = None  # None: every version

    def where(self, table: type[EvaluationRollup] | type[ItemRollup] | type[EvaluationRow]) -> list[Any]:
        conditions: list[Any] = [
            col(table.day) >= self.first,
            col(table.day) <= self.last,
            col(table.source).in_(self.sources),
        ]
        for name in ("group", "queue", "agent_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(getattr(table, name) == value)
        if self.versions is not None:
            if not self.versions:
                conditions.append(col(table.scorecard_version) < 0)  # nothing selected
            else:
                pair = tuple_(col(table.scorecard_id), col(table.scorecard_version))
                conditions.append(pair.in_(list(self.versions)))
        return conditions


def _row_of(evaluation: Evaluation) -> dict[str, Any]:
    data = asdict(evaluation)
    data["source"] = evaluation.source.value
    data["items"] = [
        {
            "item_id": item.item_id,
            "section": item.section,
            "result": item.result.value,
            "severity": item.severity,
            "quote": item.quote,
        }
        for item in evaluation.items
    ]
    return data


def _evaluation_of(row: EvaluationRow) -> Evaluation:
    return Evaluation(
        evaluation_id=row.evaluation_id,
        recording_id=row.recording_id,
        source=Source(row.source),
        reviewer=row.reviewer,
        agent_id=row.agent_id,
        group=row.group,
        queue=row.queue,
        started_at=row.started_at,
        day=row.day,
        scorecard_id=row.scorecard_id,
        scorecard_version=row.scorecard_version,
        transcript_version=row.transcript_version,
        percentage=row.percentage,
        passed=row.passed,
        auto_failed=row.auto_failed,
        items=tuple(
            ItemOutcome(i["item_id"], i["section"], ItemResult(i["result"]), i.get("severity"), i.get("quote"))
            for i in row.items
        ),
    )


class RollupStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- writing ------------------------------------------------------------------------

    def record(self, evaluations: Sequence[Evaluation]) -> int:
        """Store a batch of evaluations and bring the rollups in step; returns how many changed anything."""
        if not evaluations:
            return 0
        incoming = winners(evaluations)
        with self.db.session() as session:
            existing = self._existing(session, list(incoming))
            purged = self._purged(session, {identity.recording_id for identity in incoming})
            deltas = Deltas()
            changed = 0
            new_rows: list[dict[str, Any]] = []
            for identity, evaluation in incoming.items():
                if identity.recording_id in purged:
                    evaluation = evaluation.without_quotes()
                current = existing.get(identity)
                if current is not None and evaluation.rank <= _evaluation_of(current).rank:
                    continue  # a duplicate, or older than what counts already
                changed += 1
                if current is not None:
                    deltas.apply(_evaluation_of(current), sign=-1)
                    session.delete(current)
                    session.flush()
                deltas.apply(evaluation)
                new_rows.append(_row_of(evaluation) | {"text_purged": identity.recording_id in purged})
            if new_rows:
                session.execute(EVALUATIONS.insert(), new_rows)
            deltas.compact()
            self._apply(session, deltas)
        return changed

    def _existing(
        self, session: Session, identities: list[EvaluationIdentity]
    ) -> dict[EvaluationIdentity, EvaluationRow]:
        found: dict[EvaluationIdentity, EvaluationRow] = {}
        recordings = sorted({identity.recording_id for identity in identities})
        for start in range(0, len(recordings), 500):
            rows = session.exec(
                select(EvaluationRow).where(col(EvaluationRow.recording_id).in_(recordings[start : start + 500]))  # type: ignore[call-overload]
            ).all()
            for (row,) in rows:
                key = EvaluationIdentity(row.recording_id, row.scorecard_id, row.scorecard_version, Source(row.source))
                found[key] = row
        return found

    def _purged(self, session: Session, recordings: set[str]) -> set[str]:
        if not recordings:
            return set()
        statement = select(col(PurgedRecording.recording_id)).where(
            col(PurgedRecording.recording_id).in_(sorted(recordings))
        )
        return {row[0] for row in session.execute(statement).all()}

    def _apply(self, session: Session, deltas: Deltas) -> None:
        insert: Any = postgresql.insert if self.db.engine.dialect.name == "postgresql" else sqlite.insert
        if deltas.evaluations:
            rows = [{**_key_dict(k), **asdict(t)} for k, t in deltas.evaluations.items()]
            session.execute(_upsert(insert, EVALUATION_ROLLUPS, ROLLUP_KEY, TALLY_COLUMNS), rows)
        if deltas.items:
            rows = [{**_key_dict(k), **asdict(t)} for k, t in deltas.items.items()]
            session.execute(_upsert(insert, ITEM_ROLLUPS, ITEM_KEY, ITEM_COLUMNS), rows)
        if deltas.removals:  # cells that dropped to nothing go, as if they had never been touched
            days = sorted({key.day for key in deltas.evaluations} | {key.day for key in deltas.items})
            session.execute(
                delete(EvaluationRollup).where(
                    col(EvaluationRollup.day).in_(days), col(EvaluationRollup.evaluations) == 0
                )
            )
            session.execute(
                delete(ItemRollup).where(
                    col(ItemRollup.day).in_(days),
                    col(ItemRollup.applicable) == 0,
                    col(ItemRollup.not_applicable) == 0,
                    col(ItemRollup.failed) == 0,
                )
            )

    def purge(self, recording_id: str, reason: str, purged_at: datetime) -> None:
        """Counts stay; quoted text goes, now and for any evaluation of the call that arrives later."""
        with self.db.session() as session:
            if session.get(PurgedRecording, recording_id) is None:
                session.add(PurgedRecording(recording_id=recording_id, reason=reason, purged_at=purged_at))
            rows = session.exec(
                select(EvaluationRow).where(col(EvaluationRow.recording_id) == recording_id)  # type: ignore[call-overload]
            ).all()
            for (row,) in rows:
                session.execute(
                    update(EvaluationRow)
                    .where(col(EvaluationRow.id) == row.id)
                    .values(items=[item | {"quote": None} for item in row.items], text_purged=True)
                )

    # --- reading ------------------------------------------------------------------------

    def tallies(self, scope: Scope, by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Evaluation sums over `scope`, grouped by the rollup key columns named in `by`."""
        table = EvaluationRollup
        keys = [getattr(table, name) for name in by]
        sums = [func.coalesce(func.sum(getattr(table, c)), 0).label(c) for c in TALLY_COLUMNS]
        statement = select(*keys, *sums).where(*scope.where(table))
        if keys:
            statement = statement.group_by(*keys)
        with self.db.session() as session:
            return [_plain(row) for row in session.execute(statement).all() if row.evaluations]

    def agent_count(self, scope: Scope) -> int:
        statement = select(func.count(func.distinct(EvaluationRollup.agent_id))).where(*scope.where(EvaluationRollup))
        with self.db.session() as session:
            return int(session.execute(statement).scalar_one())

    def item_tallies(self, scope: Scope) -> list[dict[str, Any]]:
        """Per scorecard item: applicable, failed, and how many agents failed it at least once."""
        table = ItemRollup
        keys = [col(table.scorecard_id), col(table.item_id), col(table.section), col(table.severity)]
        statement = (
            select(
                *keys,
                func.sum(table.applicable).label("applicable"),
                func.sum(table.failed).label("failed"),
                func.sum(table.not_applicable).label("not_applicable"),
                func.count(func.distinct(case((col(table.failed) > 0, table.agent_id)))).label("agents_failed"),
            )
            .where(*scope.where(table))
            .group_by(*keys)
        )
        with self.db.session() as session:
            return [_plain(row) for row in session.execute(statement).all()]

    def versions(self, scope: Scope) -> list[tuple[str, int]]:
        table = EvaluationRollup
        statement = (
            select(col(table.scorecard_id), col(table.scorecard_version))
            .where(*scope.where(table))
            .distinct()
            .order_by(col(table.scorecard_id), col(table.scorecard_version))
        )
        with self.db.session() as session:
            return [(row[0], int(row[1])) for row in session.execute(statement).all()]

    def evaluations(
        self, scope: Scope, *, order: str = "started", limit: int = 100, offset: int = 0
    ) -> tuple[list[Evaluation], int]:
        """Evaluations in scope: by call start (`started`) or worst first (`worst`), and the total."""
        table = EvaluationRow
        where = scope.where(table)
        ordering: list[Any] = (
            [col(table.auto_failed).desc(), col(table.percentage), col(table.started_at), col(table.id)]
            if order == "worst"
            else [col(table.started_at), col(table.id)]
        )
        with self.db.session() as session:
            total = int(session.execute(select(func.count()).select_from(table).where(*where)).scalar_one())
            rows = session.execute(select(table).where(*where).order_by(*ordering).limit(limit).offset(offset)).all()
            return [_evaluation_of(row[0]) for row in rows], total

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every rollup cell, sorted: what the replay test compares."""
        with self.db.session() as session:
            evaluation_cells = session.execute(
                select(*[getattr(EvaluationRollup, c) for c in (*ROLLUP_KEY, *TALLY_COLUMNS)])
            ).all()
            item_cells = session.execute(select(*[getattr(ItemRollup, c) for c in (*ITEM_KEY, *ITEM_COLUMNS)])).all()
        return {
            "evaluations": sorted(tuple(row) for row in evaluation_cells),
            "items": sorted(tuple(row) for row in item_cells),
        }


def _key_dict(key: Any) -> dict[str, Any]:
    data = asdict(key)
    data["source"] = key.source.value
    return data


def _plain(row: Row[Any]) -> dict[str, Any]:
    """A result row as a dict; sums as int (PostgreSQL's SUM of a BIGINT is a NUMERIC, a Decimal here)."""
    counts = (*TALLY_COLUMNS, *ITEM_COLUMNS, "agents_failed")
    return {k: (int(v or 0) if k in counts else v) for k, v in row._mapping.items()}
