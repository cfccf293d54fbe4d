"""What one evaluation contributes to the rollups, and which of two evaluations of the same call counts.

Rollups are sums over evaluations, kept per local day × agent × group × queue × scorecard version × source
(`EvaluationKey`) and, for each scorecard item, per the same key × item (`ItemKey`). Every figure is an
integer (a score is kept in hundredths of a percent), so the order in which evaluations arrive can never
change a sum: replaying the topics into an empty database gives identical rollups.

One call has at most one evaluation per scorecard version and source (`EvaluationIdentity`); the greater
`(revision, transcript_version, evaluation_id)` wins, whichever arrives first. Automatic evaluations have
revision 0: when the scorer scores the same call and version again from a newer transcript, the newer
transcript wins. Human ones (`evaluation.reviewed`, a review or an appeal) carry the evaluation's version
number as revision: a later version replaces the earlier one and is never counted beside it. Auto and human
are separate rollup cells (`source`), never summed into one another.

A human evaluation also records, per item, the automatic result it was compared with: the item rollups of
source `human` count how often the two agreed (the calibration and auto-scorer agreement report).

Item cells are kept as the difference from what the evaluation cell already implies: every item of the scorecard
version (`scorecard_items`, learned from the evaluations) passed in each of the cell's evaluations. A pass is ~94 %
of item results; so only failed, not-applicable, human-compared and missing items give an item cell, and an item's
figures are the evaluation cell's count (applicable) plus its item cell (`expand`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from callqa.events import EvaluationReviewed, EvaluationScored, Evidence, ItemResult, ScoreSource
from reporting.periods import local_day

NO_VALUE = ""  # rollup keys hold "" for a call without group or queue (NULL never equals NULL in a key)
AUTO_REVIEWER = "auto-scorer"
QUOTE_LIMIT = 200  # characters of evidence kept per failed item


class Source(StrEnum):
    auto = "auto"  # evaluation.scored
    human = "human"  # evaluation.reviewed (coaching): a review or a resolved appeal
    calibration = "calibration"  # evaluation.reviewed from a calibration session: kept apart from both


class EvidenceText(BaseModel):
    text: str | None = None


class ScoredItemView(BaseModel):
    item_id: str
    section: str
    result: ItemResult
    severity: Literal["A", "B", "C"] | None = None
    evidence: list[EvidenceText] = Field(default_factory=list)


class ScoredView(BaseModel):
    """What reporting reads of an `evaluation.scored` payload: the worker parses the messages straight into it
    (`callqa.events.view_parser`), skipping points, evidence positions and the rest of the ~2 KB it never uses."""

    evaluation_id: str
    recording_id: str
    agent_id: str
    group: str | None = None
    queue: str | None = None
    started_at: datetime
    scorecard_id: str
    scorecard_version: int
    transcript_version: str
    percentage: float
    passed: bool
    auto_failed: bool
    items: list[ScoredItemView]


class ItemOutcome(NamedTuple):
    """One item's result (a named tuple: ten per evaluation are built on the hot path, a frozen dataclass cost 3×)."""

    item_id: str
    section: str
    result: ItemResult
    severity: str | None
    quote: str | None = None  # the first evidence text of a failed item, None once the call is purged
    auto_result: ItemResult | None = None  # human evaluations: the automatic result of the same item


@dataclass(frozen=True)
class EvaluationIdentity:
    recording_id: str
    scorecard_id: str
    scorecard_version: int
    source: Source


@dataclass(frozen=True)
class Evaluation:
    """One evaluation as reporting keeps it."""

    evaluation_id: str
    recording_id: str
    source: Source
    reviewer: str
    agent_id: str
    group: str
    queue: str
    started_at: datetime
    day: date
    scorecard_id: str
    scorecard_version: int
    transcript_version: str
    percentage: float
    passed: bool
    auto_failed: bool
    items: tuple[ItemOutcome, ...] = field(default_factory=tuple)
    revision: int = 0  # human: the evaluation's version number (1 is the automatic one)
    cause: str = ""  # human: review | appeal

    @property
    def identity(self) -> EvaluationIdentity:
        return EvaluationIdentity(self.recording_id, self.scorecard_id, self.scorecard_version, self.source)

    @property
    def rank(self) -> tuple[int, str, str]:
        return (self.revision, self.transcript_version, self.evaluation_id)

    def without_quotes(self) -> Evaluation:
        return replace(self, items=tuple(item._replace(quote=None) for item in self.items))


def from_scored(scored: ScoredView | EvaluationScored, zone: ZoneInfo) -> Evaluation:
    failed = ItemResult.failed
    items = tuple(
        ItemOutcome(item.item_id, item.section, item.result, item.severity, _quote(item.evidence))
        if item.result is failed
        else ItemOutcome(item.item_id, item.section, item.result, item.severity)
        for item in scored.items
    )
    return Evaluation(
        evaluation_id=scored.evaluation_id,
        recording_id=scored.recording_id,
        source=Source.auto,
        reviewer=AUTO_REVIEWER,
        agent_id=scored.agent_id,
        group=scored.group or NO_VALUE,
        queue=scored.queue or NO_VALUE,
        started_at=scored.started_at,
        day=local_day(scored.started_at, zone),
        scorecard_id=scored.scorecard_id,
        scorecard_version=scored.scorecard_version,
        transcript_version=scored.transcript_version,
        percentage=scored.percentage,
        passed=scored.passed,
        auto_failed=scored.auto_failed,
        items=items,
    )


def _quote(evidence: Sequence[Evidence | EvidenceText]) -> str | None:
    return next((e.text[:QUOTE_LIMIT] for e in evidence if e.text), None)


REVIEW_SOURCES = {ScoreSource.human: Source.human, ScoreSource.calibration: Source.calibration}


def from_reviewed(reviewed: EvaluationReviewed, zone: ZoneInfo) -> Evaluation | None:
    """A human version; None for one that claims to be automatic (those come from evaluation.scored)."""
    source = REVIEW_SOURCES.get(reviewed.source)
    if source is None:
        return None
    return Evaluation(
        evaluation_id=reviewed.evaluation_id,
        recording_id=reviewed.recording_id,
        source=source,
        reviewer=reviewed.reviewer_id,
        agent_id=reviewed.agent_id,
        group=reviewed.group or NO_VALUE,
        queue=reviewed.queue or NO_VALUE,
        started_at=reviewed.started_at,
        day=local_day(reviewed.started_at, zone),
        scorecard_id=reviewed.scorecard_id,
        scorecard_version=reviewed.scorecard_version,
        transcript_version=NO_VALUE,
        percentage=reviewed.percentage,
        passed=reviewed.passed,
        auto_failed=reviewed.auto_failed,
        items=tuple(
            ItemOutcome(
                item_id=item.item_id,
                section=item.section,
                result=item.result,
                severity=item.severity,
                auto_result=item.auto_result,
            )
            for item in reviewed.items
        ),
        revision=reviewed.version,
        cause=reviewed.cause,
    )


# The hot path of ingestion works on plain tuples: a dataclass per cell (and `asdict` to turn it into a row)
# cost more than the database writes. Keys and sums are in the order of these column names.
KEY_COLUMNS = ("day", "agent_id", "group", "queue", "scorecard_id", "scorecard_version", "source")
ITEM_KEY_COLUMNS = (*KEY_COLUMNS, "item_id", "section", "severity")  # severity "" when the item has none
TALLY_COLUMNS = ("evaluations", "passed", "auto_failed", "score_centi", "failed_a", "failed_b", "failed_c")
# applicable = passed or failed; compared.. only for human versions: the item beside the automatic result,
# auto_stricter = the scorer failed what the human passed, auto_lenient = the scorer passed what the human failed
ITEM_COLUMNS = ("applicable", "failed", "not_applicable", "compared", "agreed", "auto_stricter", "auto_lenient")
EvaluationKey = tuple[date, str, str, str, str, int, str]
ItemKey = tuple[date, str, str, str, str, int, str, str, str, str]
ItemSpec = tuple[str, str, str]  # item_id, section, severity: an item of a scorecard version
VersionKey = tuple[str, int]  # scorecard_id, scorecard_version
_SEVERITY_COLUMN = {"A": 4, "B": 5, "C": 6}  # failed_a, failed_b, failed_c in TALLY_COLUMNS


def score_centi(percentage: float) -> int:
    return round(percentage * 100)


def evaluation_key(evaluation: Evaluation) -> EvaluationKey:
    return (
        evaluation.day,
        evaluation.agent_id,
        evaluation.group,
        evaluation.queue,
        evaluation.scorecard_id,
        evaluation.scorecard_version,
        evaluation.source.value,
    )


def item_spec(item: ItemOutcome) -> ItemSpec:
    return (item.item_id, item.section, item.severity or "")


def contribution(
    evaluation: Evaluation, implied: frozenset[ItemSpec]
) -> tuple[EvaluationKey, list[int], dict[ItemKey, list[int]]]:
    """The cells one evaluation adds to, and what it adds (in TALLY_COLUMNS / ITEM_COLUMNS order).

    Item cells hold the difference from the default `implied` by the evaluation cell: each of the scorecard
    version's items (`implied`) passed. A plain pass of an implied item adds nothing; an implied item the
    evaluation lacks takes its applicable pass back."""
    tally = [1, int(evaluation.passed), int(evaluation.auto_failed), score_centi(evaluation.percentage), 0, 0, 0]
    key = evaluation_key(evaluation)
    items: dict[ItemKey, list[int]] = {}
    present: set[ItemSpec] = set()
    for item in evaluation.items:
        spec = (item.item_id, item.section, item.severity or "")
        present.add(spec)
        result = item.result
        auto = item.auto_result
        if result is ItemResult.passed and auto is None and spec in implied:
            continue  # what the evaluation cell implies
        failed = result is ItemResult.failed
        cell = items.get(item_key := (*key, *spec))
        if cell is None:
            cell = items[item_key] = [0, 0, 0, 0, 0, 0, 0]
        if result is ItemResult.not_applicable:
            cell[2] += 1
        else:
            cell[0] += 1
            if failed:
                cell[1] += 1
                column = _SEVERITY_COLUMN.get(item.severity or "")
                if column is not None:
                    tally[column] += 1
        if spec in implied:
            cell[0] -= 1
        if auto is not None:
            cell[3] += 1
            cell[4] += auto is result
            cell[5] += auto is ItemResult.failed and result is ItemResult.passed
            cell[6] += auto is ItemResult.passed and failed
    for spec in implied - present:
        cell = items.setdefault((*key, *spec), [0, 0, 0, 0, 0, 0, 0])
        cell[0] -= 1
    return key, tally, items


@dataclass
class Deltas:
    """Changes to apply to the rollup cells, accumulated over a batch of evaluations."""

    evaluations: dict[EvaluationKey, list[int]] = field(default_factory=dict)
    items: dict[ItemKey, list[int]] = field(default_factory=dict)
    removals: bool = False  # something was subtracted: cells may have dropped to zero

    def apply(self, evaluation: Evaluation, implied: frozenset[ItemSpec], sign: int = 1) -> None:
        key, tally, items = contribution(evaluation, implied)
        _add(self.evaluations, key, tally, sign)
        for item_key, item_tally in items.items():
            _add(self.items, item_key, item_tally, sign)
        self.removals = self.removals or sign < 0

    def compact(self) -> None:
        self.evaluations = {k: v for k, v in self.evaluations.items() if any(v)}
        self.items = {k: v for k, v in self.items.items() if any(v)}


def _add(cells: dict[Any, list[int]], key: Any, values: list[int], sign: int) -> None:
    cell = cells.get(key)
    if cell is None:
        cells[key] = values if sign > 0 else [-v for v in values]  # `values` is the caller's fresh list
    else:
        for index, value in enumerate(values):
            cell[index] += sign * value


def expand(
    evaluation_cells: Iterable[tuple[Any, ...]],
    item_cells: Iterable[tuple[Any, ...]],
    versions: dict[VersionKey, frozenset[ItemSpec]],
) -> list[tuple[Any, ...]]:
    """Every item cell as a sum over its evaluations (what the rollups held before implied passes): the stored
    difference plus each evaluation cell's count as applicable passes of its version's items; empty cells left out.
    `evaluation_cells`: (*EvaluationKey, evaluations, ...); `item_cells`: (*ItemKey, *ITEM_COLUMNS)."""
    width = len(KEY_COLUMNS)
    cells: dict[tuple[Any, ...], list[int]] = {}
    for row in evaluation_cells:
        key, count = tuple(row[:width]), int(row[width])
        for spec in versions.get((key[4], key[5]), ()):
            cells[(*key, *spec)] = [count, 0, 0, 0, 0, 0, 0]
    for row in item_cells:
        key, values = tuple(row[: len(ITEM_KEY_COLUMNS)]), row[len(ITEM_KEY_COLUMNS) :]
        cell = cells.setdefault(key, [0, 0, 0, 0, 0, 0, 0])
        for index, value in enumerate(values):
            cell[index] += int(value)
    return [(*key, *cell) for key, cell in cells.items() if any(cell)]


def winners(evaluations: Iterable[Evaluation]) -> dict[EvaluationIdentity, Evaluation]:
    """The evaluation that counts for each identity: the greatest `(transcript_version, evaluation_id)`."""
    best: dict[EvaluationIdentity, Evaluation] = {}
    for evaluation in evaluations:
        current = best.get(evaluation.identity)
        if current is None or evaluation.rank > current.rank:
            best[evaluation.identity] = evaluation
    return best
