"""The rollup store: evaluations in, rollup cells kept in step, and the sums reports are made of.

`record` takes a batch of evaluations, keeps the one that counts per call × scorecard version × source
(`rollups.winners`), and applies the difference to the rollup cells with upserts in the same transaction:
a duplicate changes nothing, a replacement subtracts the old evaluation and adds the new one. Item cells hold
only what differs from "every item of the version passed" (see `rollups`); the readers add the implied passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, Table, case, delete, func, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from callqa.db import Database
from callqa.events import ItemResult
from reporting.rollups import (
    ITEM_COLUMNS,
    ITEM_KEY_COLUMNS,
    KEY_COLUMNS,
    TALLY_COLUMNS,
    Deltas,
    Evaluation,
    EvaluationIdentity,
    ItemOutcome,
    ItemSpec,
    Source,
    VersionKey,
    expand,
    item_spec,
    winners,
)
from reporting.tables import ROLLUP_KEY, EvaluationRollup, EvaluationRow, ItemRollup, PurgedRecording, ScorecardItem

CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits
ITEM_KEY = ITEM_KEY_COLUMNS
EVALUATION_ROLLUPS: Table = EvaluationRollup.__table__  # type: ignore[attr-defined]
ITEM_ROLLUPS: Table = ItemRollup.__table__  # type: ignore[attr-defined]
EVALUATIONS: Table = EvaluationRow.__table__  # type: ignore[attr-defined]
SCORECARD_ITEMS: Table = ScorecardItem.__table__  # type: ignore[attr-defined]


def _insert_of(connection: Connection) -> Any:
    """The dialect's INSERT (the one with ON CONFLICT)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


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
    groups: tuple[str, ...] | None = None  # the groups the reader may see; None: every group

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
        if self.groups is not None:
            conditions.append(col(table.group).in_(self.groups))
        if self.versions is not None:
            if not self.versions:
                conditions.append(col(table.scorecard_version) < 0)  # nothing selected
            else:
                pair = tuple_(col(table.scorecard_id), col(table.scorecard_version))
                conditions.append(pair.in_(list(self.versions)))
        return conditions


ROW_COLUMNS = (
    "evaluation_id",
    "recording_id",
    "source",
    "reviewer",
    "agent_id",
    "group",
    "queue",
    "started_at",
    "day",
    "scorecard_id",
    "scorecard_version",
    "transcript_version",
    "percentage",
    "passed",
    "auto_failed",
    "items",
    "text_purged",
    "revision",
    "cause",
)


def _row_of(evaluation: Evaluation, text_purged: bool) -> tuple[Any, ...]:
    """An evaluation row's values in ROW_COLUMNS order."""
    return (
        evaluation.evaluation_id,
        evaluation.recording_id,
        evaluation.source.value,
        evaluation.reviewer,
        evaluation.agent_id,
        evaluation.group,
        evaluation.queue,
        evaluation.started_at,
        evaluation.day,
        evaluation.scorecard_id,
        evaluation.scorecard_version,
        evaluation.transcript_version,
        evaluation.percentage,
        evaluation.passed,
        evaluation.auto_failed,
        [_item_of(item) for item in evaluation.items],
        text_purged,
        evaluation.revision,
        evaluation.cause,
    )


def _item_of(item: ItemOutcome) -> dict[str, Any]:
    # Enums as they are (a StrEnum is written as its value); no quote key for the items without one.
    data = {"item_id": item.item_id, "section": item.section, "result": item.result, "severity": item.severity}
    if item.quote is not None:
        data["quote"] = item.quote
    if item.auto_result is not None:
        data["auto_result"] = item.auto_result
    return data


def _evaluation_of(row: Any) -> Evaluation:
    """An `EvaluationRow` (or a core row of its table) as the dataclass the rollups work with."""
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
            ItemOutcome(
                i["item_id"],
                i["section"],
                ItemResult(i["result"]),
                i.get("severity"),
                i.get("quote"),
                ItemResult(i["auto_result"]) if i.get("auto_result") else None,
            )
            for i in row.items
        ),
        revision=row.revision,
        cause=row.cause,
    )


class RollupStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._compiled: dict[tuple[str, str], Any] = {}  # statements compiled for this database's dialect

    # --- writing ------------------------------------------------------------------------

    def record(self, evaluations: Sequence[Evaluation]) -> int:
        """Store a batch of evaluations and bring the rollups in step; returns how many changed anything.

        Set-based, whatever the batch size: one read of what is stored for the batch's calls, one delete of
        the evaluations replaced, one insert of the new ones, one upsert per rollup table (executemany).
        """
        if not evaluations:
            return 0
        incoming = winners(evaluations)  # duplicates and superseded versions inside the batch
        with self.db.session() as session:
            recordings = sorted({identity.recording_id for identity in incoming})
            existing = self._existing(session, recordings)
            purged = self._purged(session, recordings)
            implied = self._implied(session, incoming.values())
            deltas = Deltas()
            replaced: list[int] = []
            new_rows: list[tuple[Any, ...]] = []
            for identity, evaluation in incoming.items():
                if identity.recording_id in purged:
                    evaluation = evaluation.without_quotes()
                current = existing.get(identity)
                if current is not None:
                    row_id, stored = current
                    if evaluation.rank <= stored.rank:
                        continue  # a duplicate, or older than what counts already (across batches)
                    deltas.apply(stored, implied[version_of(stored)], sign=-1)
                    replaced.append(row_id)
                deltas.apply(evaluation, implied[version_of(evaluation)])
                new_rows.append(_row_of(evaluation, identity.recording_id in purged))
            for start in range(0, len(replaced), CHUNK):
                session.execute(delete(EVALUATIONS).where(EVALUATIONS.c.id.in_(replaced[start : start + CHUNK])))
            if new_rows:
                self._executemany(session, "insert", EVALUATIONS.insert, EVALUATIONS, ROW_COLUMNS, new_rows)
            deltas.compact()
            self._apply(session, deltas)
        return len(new_rows)

    def _implied(self, session: Session, evaluations: Iterable[Evaluation]) -> dict[VersionKey, frozenset[ItemSpec]]:
        """The items of each scorecard version in the batch (what an evaluation cell implies passed).

        An item seen for the first time joins its version's items, and the evaluation cells already counted for the
        version take its implied pass back: their evaluations were stored without it. Every evaluation of a version
        carries the same items in practice (a scorecard version never changes), so this happens once per version,
        before any cell exists. A later one keeps the figures right with one writer at a time; two replicas of the
        worker could each write, unseen by the other, evaluations of one version with different items."""
        seen: dict[VersionKey, set[ItemSpec]] = {}
        for evaluation in evaluations:
            seen.setdefault(version_of(evaluation), set()).update(map(item_spec, evaluation.items))
        known = {version: set(specs) for version, specs in self._version_items(session, list(seen)).items()}
        connection = session.connection()
        insert = _insert_of(connection)
        cells = EVALUATION_ROLLUPS
        for version, specs in seen.items():
            mine = known.setdefault(version, set())
            for spec in sorted(specs - mine):
                values = dict(
                    zip(
                        ("scorecard_id", "scorecard_version", "item_id", "section", "severity"),
                        (*version, *spec),
                        strict=True,
                    )
                )
                added = connection.execute(insert(SCORECARD_ITEMS).values(values).on_conflict_do_nothing())
                mine.add(spec)
                if not added.rowcount:
                    continue  # another writer added it (and took the passes back) first
                taken_back = select(
                    *[cells.c[c] for c in KEY_COLUMNS],
                    *[literal(v) for v in spec],
                    -cells.c.evaluations,
                    *[literal(0) for _ in ITEM_COLUMNS[1:]],
                ).where(cells.c.scorecard_id == version[0], cells.c.scorecard_version == version[1])
                statement = insert(ITEM_ROLLUPS).from_select([*ITEM_KEY_COLUMNS, *ITEM_COLUMNS], taken_back)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=list(ITEM_KEY_COLUMNS),
                        set_={c: ITEM_ROLLUPS.c[c] + statement.excluded[c] for c in ITEM_COLUMNS},
                    )
                )
        return {version: frozenset(specs) for version, specs in known.items()}

    def _version_items(
        self, session: Session, versions: list[VersionKey] | None = None
    ) -> dict[VersionKey, frozenset[ItemSpec]]:
        """The items of the given scorecard versions (all when None)."""
        table = SCORECARD_ITEMS
        statement = select(table)
        if versions is not None:
            if not versions:
                return {}
            statement = statement.where(tuple_(table.c.scorecard_id, table.c.scorecard_version).in_(versions))
        found: dict[VersionKey, set[ItemSpec]] = {}
        for row in session.execute(statement):
            found.setdefault((row.scorecard_id, row.scorecard_version), set()).add(
                (row.item_id, row.section, row.severity)
            )
        return {version: frozenset(specs) for version, specs in found.items()}

    def _existing(self, session: Session, recordings: list[str]) -> dict[EvaluationIdentity, tuple[int, Evaluation]]:
        found: dict[EvaluationIdentity, tuple[int, Evaluation]] = {}
        for start in range(0, len(recordings), CHUNK):
            rows = session.execute(
                select(EVALUATIONS).where(EVALUATIONS.c.recording_id.in_(recordings[start : start + CHUNK]))
            ).all()
            for row in rows:
                evaluation = _evaluation_of(row)
                found[evaluation.identity] = (row.id, evaluation)
        return found

    def _purged(self, session: Session, recordings: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(recordings), CHUNK):
            statement = select(col(PurgedRecording.recording_id)).where(
                col(PurgedRecording.recording_id).in_(recordings[start : start + CHUNK])
            )
            found.update(row[0] for row in session.execute(statement).all())
        return found

    def _apply(self, session: Session, deltas: Deltas) -> None:
        if deltas.evaluations:
            self._upsert_cells(session, EVALUATION_ROLLUPS, KEY_COLUMNS, TALLY_COLUMNS, deltas.evaluations)
        if deltas.items:
            self._upsert_cells(session, ITEM_ROLLUPS, ITEM_KEY_COLUMNS, ITEM_COLUMNS, deltas.items)
        if deltas.removals:  # cells that dropped to nothing go, as if they had never been touched
            days = sorted({key[0] for key in deltas.evaluations} | {key[0] for key in deltas.items})
            session.execute(
                delete(EvaluationRollup).where(
                    col(EvaluationRollup.day).in_(days), col(EvaluationRollup.evaluations) == 0
                )
            )
            session.execute(
                delete(ItemRollup).where(
                    col(ItemRollup.day).in_(days), *[getattr(ItemRollup, c) == 0 for c in ITEM_COLUMNS]
                )
            )

    def _upsert_cells(
        self,
        session: Session,
        table: Table,
        key: Sequence[str],
        sums: Sequence[str],
        cells: dict[Any, list[int]],
    ) -> None:
        """One executemany of the dialect's upsert (insert … on conflict: add) for every cell of the batch."""
        rows = [(*k, *v) for k, v in cells.items()]
        upsert = partial(_upsert, _insert_of(session.connection()), table, key, sums)
        self._executemany(session, "upsert", upsert, table, (*key, *sums), rows)

    def _executemany(
        self,
        session: Session,
        name: str,
        statement: Callable[[], Any],
        table: Table,
        names: Sequence[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        """Run `statement()` (compiled once per `name` and table for this database) for each row of plain values in
        `names` order. Each value goes through its column type's bind processor, as SQLAlchemy does it, but the rows
        go to the driver without SQLAlchemy's per-row parameter handling, which cost more than the database's work."""
        connection = session.connection()
        prepared = self._compiled.get((table.name, name))
        if prepared is None:
            dialect = connection.dialect
            compiled = statement().compile(dialect=dialect, column_keys=list(names))
            processors = [
                (index, processor)
                for index, column in enumerate(names)
                if (processor := table.c[column].type.dialect_impl(dialect).bind_processor(dialect)) is not None
            ]
            # qmark / numeric styles: positions in the statement's order; named styles: a dict per row
            positions = compiled.positiontup
            order = [names.index(column) for column in positions] if positions is not None else None
            prepared = self._compiled[(table.name, name)] = (compiled.string, processors, order)
        sql, processors, order = prepared
        if processors:
            converted = []
            for row in rows:
                values = list(row)
                for index, processor in processors:
                    values[index] = processor(values[index])
                converted.append(tuple(values))
            rows = converted
        if order is None:
            parameters: list[Any] = [dict(zip(names, row, strict=True)) for row in rows]
        elif order == sorted(order):
            parameters = rows
        else:
            parameters = [tuple(row[i] for i in order) for row in rows]
        connection.exec_driver_sql(sql, parameters)

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
        """Per scorecard item: applicable, failed, not applicable, and how many agents failed it at least once.

        Applicable counts the passes the evaluation cells imply (each of their evaluations × their version's items)
        plus the item cells' differences."""
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
        cells = EvaluationRollup
        version = (col(cells.scorecard_id), col(cells.scorecard_version))
        counts = select(*version, func.sum(cells.evaluations)).where(*scope.where(cells)).group_by(*version)
        with self.db.session() as session:
            found = {
                (row.scorecard_id, row.item_id, row.section, row.severity): _plain(row)
                for row in session.execute(statement).all()
            }
            per_version = {(card, int(number)): int(count or 0) for card, number, count in session.execute(counts)}
            items = self._version_items(session, list(per_version))
        for (card, number), count in per_version.items():
            for spec in items.get((card, number), ()):
                row = found.get((card, *spec))
                if row is None:
                    row = found[(card, *spec)] = dict(
                        zip(("scorecard_id", "item_id", "section", "severity"), (card, *spec), strict=True)
                    ) | {"applicable": 0, "failed": 0, "not_applicable": 0, "agents_failed": 0}
                row["applicable"] += count
        return [row for row in found.values() if row["applicable"] or row["failed"] or row["not_applicable"]]

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
        self,
        scope: Scope,
        *,
        order: str = "started",
        limit: int = 100,
        offset: int = 0,
        auto_failed: bool | None = None,
    ) -> tuple[list[Evaluation], int]:
        """Evaluations in scope: by call start (`started`) or worst first (`worst`), and the total."""
        table = EvaluationRow
        where = scope.where(table)
        if auto_failed is not None:
            where.append(col(table.auto_failed) == auto_failed)
        ordering: list[Any] = (
            [col(table.auto_failed).desc(), col(table.percentage), col(table.started_at), col(table.id)]
            if order == "worst"
            else [col(table.started_at), col(table.id)]
        )
        # The page's ids from the index alone (it holds the filters and the worst order), then only their rows.
        page = select(col(table.id)).where(*where).order_by(*ordering).limit(limit).offset(offset)
        with self.db.session() as session:
            total = int(session.execute(select(func.count()).select_from(table).where(*where)).scalar_one())
            rows = session.execute(select(table).where(col(table.id).in_(page)).order_by(*ordering)).all()
            return [_evaluation_of(row[0]) for row in rows], total

    def agreement(self, scope: Scope, by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Per scorecard item (and the key columns in `by`): human results beside the automatic ones."""
        table = ItemRollup
        keys = [
            col(table.scorecard_id),
            col(table.item_id),
            col(table.section),
            col(table.severity),
            *[getattr(table, name) for name in by],
        ]
        sums = [func.sum(getattr(table, c)).label(c) for c in ("compared", "agreed", "auto_stricter", "auto_lenient")]
        statement = select(*keys, *sums).where(*scope.where(table)).group_by(*keys)
        with self.db.session() as session:
            return [_plain(row) for row in session.execute(statement).all() if row.compared]

    def human_versions(self, scope: Scope, limit: int) -> list[tuple[Evaluation, Evaluation | None]]:
        """Human versions in scope (the latest of each call, earliest calls first, at most `limit`), each with the
        automatic evaluation of the same call and scorecard version when reporting has it."""
        human = replace(scope, sources=(Source.human.value,))
        table = EvaluationRow
        with self.db.session() as session:
            rows = session.execute(
                select(EVALUATIONS)
                .where(*human.where(table))
                .order_by(col(table.started_at), col(table.id))
                .limit(limit)
            ).all()
            versions = [_evaluation_of(row) for row in rows]
            autos: dict[EvaluationIdentity, Evaluation] = {}
            recordings = sorted({v.recording_id for v in versions})
            for start in range(0, len(recordings), CHUNK):
                for row in session.execute(
                    select(EVALUATIONS).where(
                        EVALUATIONS.c.recording_id.in_(recordings[start : start + CHUNK]),
                        EVALUATIONS.c.source == Source.auto.value,
                    )
                ).all():
                    auto = _evaluation_of(row)
                    autos[auto.identity] = auto
        return [(v, autos.get(replace(v.identity, source=Source.auto))) for v in versions]

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every rollup cell, sorted, item cells with their implied passes: what the replay test compares."""
        with self.db.session() as session:
            evaluation_cells = session.execute(
                select(*[getattr(EvaluationRollup, c) for c in (*ROLLUP_KEY, *TALLY_COLUMNS)])
            ).all()
            item_cells = session.execute(select(*[getattr(ItemRollup, c) for c in (*ITEM_KEY, *ITEM_COLUMNS)])).all()
            versions = self._version_items(session)
        return {
            "evaluations": sorted(tuple(row) for row in evaluation_cells),
            "items": sorted(expand(evaluation_cells, item_cells, versions)),
        }


def version_of(evaluation: Evaluation) -> VersionKey:
    return (evaluation.scorecard_id, evaluation.scorecard_version)


def _plain(row: Row[Any]) -> dict[str, Any]:
    """A result row as a dict; sums as int (PostgreSQL's SUM of a BIGINT is a NUMERIC, a Decimal here)."""
    counts = (*TALLY_COLUMNS, *ITEM_COLUMNS, "agents_failed")
    return {k: (int(v or 0) if k in counts else v) for k, v in row._mapping.items()}
