"""What one evaluation contributes to the rollups, and which of two evaluations of the same call counts.

Rollups are sums over evaluations, kept per local day × agent × group × queue × scorecard version × source
(`EvaluationKey`) and, for each scorecard item, per the same key × item (`ItemKey`). Every figure is an
integer (a score is kept in hundredths of a percent), so the order in which evaluations arrive can never
change a sum: replaying the topics into an empty database gives identical rollups.

One call has at most one evaluation per scorecard version and source (`EvaluationIdentity`); when the
scorer scores the same call and version again from a newer transcript, the greater
`(transcript_version, evaluation_id)` wins, whichever arrives first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from callqa.events import EvaluationScored, ItemResult
from reporting.periods import local_day

NO_VALUE = ""  # rollup keys hold "" for a call without group or queue (NULL never equals NULL in a key)
AUTO_REVIEWER = "auto-scorer"
QUOTE_LIMIT = 200  # characters of evidence kept per failed item


class Source(StrEnum):
    auto = "auto"  # evaluation.scored
    human = "human"  # evaluation.reviewed (coaching), when it publishes it


@dataclass(frozen=True)
class ItemOutcome:
    item_id: str
    section: str
    result: ItemResult
    severity: str | None
    quote: str | None = None  # the first evidence text of a failed item, None once the call is purged


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

    @property
    def identity(self) -> EvaluationIdentity:
        return EvaluationIdentity(self.recording_id, self.scorecard_id, self.scorecard_version, self.source)

    @property
    def rank(self) -> tuple[str, str]:
        return (self.transcript_version, self.evaluation_id)

    def without_quotes(self) -> Evaluation:
        return replace(self, items=tuple(replace(item, quote=None) for item in self.items))


def from_scored(scored: EvaluationScored, zone: ZoneInfo) -> Evaluation:
    items = tuple(
        ItemOutcome(
            item_id=item.item_id,
            section=item.section,
            result=item.result,
            severity=item.severity,
            quote=next((e.text[:QUOTE_LIMIT] for e in item.evidence if e.text), None)
            if item.result is ItemResult.failed
            else None,
        )
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


@dataclass(frozen=True)
class EvaluationKey:
    day: date
    agent_id: str
    group: str
    queue: str
    scorecard_id: str
    scorecard_version: int
    source: Source


@dataclass(frozen=True)
class ItemKey:
    day: date
    agent_id: str
    group: str
    queue: str
    scorecard_id: str
    scorecard_version: int
    source: Source
    item_id: str
    section: str
    severity: str  # "" when the item has none


@dataclass
class Tally:
    """Evaluation-level sums of one rollup cell."""

    evaluations: int = 0
    passed: int = 0
    auto_failed: int = 0
    score_centi: int = 0  # sum of percentages × 100
    failed_a: int = 0  # failed items by severity: seed 004's A/B/C problems
    failed_b: int = 0
    failed_c: int = 0

    def add(self, other: Tally, sign: int = 1) -> None:
        self.evaluations += sign * other.evaluations
        self.passed += sign * other.passed
        self.auto_failed += sign * other.auto_failed
        self.score_centi += sign * other.score_centi
        self.failed_a += sign * other.failed_a
        self.failed_b += sign * other.failed_b
        self.failed_c += sign * other.failed_c

    def is_zero(self) -> bool:
        return not any(astuple(self))


@dataclass
class ItemTally:
    applicable: int = 0  # passed or failed
    failed: int = 0
    not_applicable: int = 0

    def add(self, other: ItemTally, sign: int = 1) -> None:
        self.applicable += sign * other.applicable
        self.failed += sign * other.failed
        self.not_applicable += sign * other.not_applicable

    def is_zero(self) -> bool:
        return not (self.applicable or self.failed or self.not_applicable)


def score_centi(percentage: float) -> int:
    return round(percentage * 100)


def evaluation_key(evaluation: Evaluation) -> EvaluationKey:
    return EvaluationKey(
        evaluation.day,
        evaluation.agent_id,
        evaluation.group,
        evaluation.queue,
        evaluation.scorecard_id,
        evaluation.scorecard_version,
        evaluation.source,
    )


def contribution(evaluation: Evaluation) -> tuple[EvaluationKey, Tally, dict[ItemKey, ItemTally]]:
    """The cells one evaluation adds to."""
    failed = [item for item in evaluation.items if item.result is ItemResult.failed]
    tally = Tally(
        evaluations=1,
        passed=int(evaluation.passed),
        auto_failed=int(evaluation.auto_failed),
        score_centi=score_centi(evaluation.percentage),
        failed_a=sum(item.severity == "A" for item in failed),
        failed_b=sum(item.severity == "B" for item in failed),
        failed_c=sum(item.severity == "C" for item in failed),
    )
    key = evaluation_key(evaluation)
    items: dict[ItemKey, ItemTally] = {}
    for item in evaluation.items:
        item_key = ItemKey(
            key.day,
            key.agent_id,
            key.group,
            key.queue,
            key.scorecard_id,
            key.scorecard_version,
            key.source,
            item.item_id,
            item.section,
            item.severity or "",
        )
        cell = items.setdefault(item_key, ItemTally())
        if item.result is ItemResult.not_applicable:
            cell.not_applicable += 1
        else:
            cell.applicable += 1
            cell.failed += int(item.result is ItemResult.failed)
    return key, tally, items


@dataclass
class Deltas:
    """Changes to apply to the rollup cells, accumulated over a batch of evaluations."""

    evaluations: dict[EvaluationKey, Tally] = field(default_factory=dict)
    items: dict[ItemKey, ItemTally] = field(default_factory=dict)
    removals: bool = False  # something was subtracted: cells may have dropped to zero

    def apply(self, evaluation: Evaluation, sign: int = 1) -> None:
        key, tally, items = contribution(evaluation)
        self.evaluations.setdefault(key, Tally()).add(tally, sign)
        for item_key, item_tally in items.items():
            self.items.setdefault(item_key, ItemTally()).add(item_tally, sign)
        self.removals = self.removals or sign < 0

    def compact(self) -> None:
        self.evaluations = {k: v for k, v in self.evaluations.items() if not v.is_zero()}
        self.items = {k: v for k, v in self.items.items() if not v.is_zero()}


def winners(evaluations: Iterable[Evaluation]) -> dict[EvaluationIdentity, Evaluation]:
    """The evaluation that counts for each identity: the greatest `(transcript_version, evaluation_id)`."""
    best: dict[EvaluationIdentity, Evaluation] = {}
    for evaluation in evaluations:
        current = best.get(evaluation.identity)
        if current is None or evaluation.rank > current.rank:
            best[evaluation.identity] = evaluation
    return best
