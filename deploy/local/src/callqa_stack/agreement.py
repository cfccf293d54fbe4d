"""How a scorecard's results agree with labelled dialogues: "problem found" (an item failed) precision and
recall, and accuracy over pass / fail / not_applicable, per item, kind, rule type and language.

A finding is "positive" when the item fails: precision = correctly failed / all failed, recall = correctly
failed / all that should fail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callqa.transcripts import TranscriptDocument
from callqa_stack.labelled import ITEM_IDS, ITEM_KINDS, METRIC_ITEMS, Dialogue
from scorer.rules.engine import CompiledScorecard, compile_scorecard
from scorer.scorecard import Scorecard, default_scorecard


@dataclass
class Outcome:
    dialogue: Dialogue
    item_id: str
    expected: str
    got: str
    evidence: str


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def positives(self) -> int:
        return sum(o.expected == "fail" for o in self.outcomes)

    @property
    def tp(self) -> int:
        return sum(o.expected == "fail" and o.got == "fail" for o in self.outcomes)

    @property
    def fp(self) -> int:
        return sum(o.expected != "fail" and o.got == "fail" for o in self.outcomes)

    @property
    def fn(self) -> int:
        return sum(o.expected == "fail" and o.got != "fail" for o in self.outcomes)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 1.0

    @property
    def accuracy(self) -> float:
        return sum(o.expected == o.got for o in self.outcomes) / self.total if self.total else 1.0

    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.expected != o.got]


def rules_only(card: Scorecard) -> Scorecard:
    """The card with its learned judgements switched off (their rule cues decide)."""

    def unlearn(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("type") == "judgement":
                return unlearn(node["cues"])
            return {k: False if k == "learned" else unlearn(v) for k, v in node.items()}
        return [unlearn(v) for v in node] if isinstance(node, list) else node

    return Scorecard.model_validate(unlearn(card.model_dump(mode="json")))


def rules_only_cards() -> dict[str, CompiledScorecard]:
    """The default cards by language, compiled with their learned judgements off."""
    return {language: compile_scorecard(rules_only(default_scorecard(language))) for language in ("zh", "en")}


def score(
    dialogues: Iterable[Dialogue],
    cards: Mapping[str, CompiledScorecard] | None = None,
    documents: Mapping[str, TranscriptDocument] | None = None,
) -> list[Outcome]:
    """Each labelled item of each dialogue with what the card (by language: the default cards unless given)
    made of it; `documents` replaces a dialogue's own transcript (e.g. one recognised from its audio)."""
    compiled = cards or {language: compile_scorecard(default_scorecard(language)) for language in ("zh", "en")}
    found: list[Outcome] = []
    for dialogue in dialogues:
        doc = (documents or {}).get(dialogue.id, dialogue.doc)
        by_id = {item.item_id: item for item in compiled[dialogue.language].evaluate(doc).items}
        for item_id, expected in dialogue.expected.items():
            scored = by_id.get(item_id)
            got = str(scored.result) if scored is not None else "missing"
            evidence = "; ".join(
                f"{e.turn_id or '-'}@{e.begin_ms}: {e.text!r}" for e in (scored.evidence if scored else [])
            )
            found.append(Outcome(dialogue, item_id, expected, got, evidence))
    return found


def group(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> dict[str, Tally]:
    groups: dict[str, Tally] = defaultdict(Tally)
    for outcome in outcomes:
        groups[key(outcome)].add(outcome)
    return groups


HEADER = f"{'':<24} {'n':>4} {'pos':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'P':>6} {'R':>6} {'acc':>6}"


def row(name: str, tally: Tally) -> str:
    return (
        f"{name:<24} {tally.total:>4} {tally.positives:>4} {tally.tp:>4} {tally.fp:>4} {tally.fn:>4}"
        f" {tally.precision:>6.3f} {tally.recall:>6.3f} {tally.accuracy:>6.3f}"
    )


def report(outcomes: Sequence[Outcome], title: str = "the labelled set", disagreements: bool = True) -> str:
    lines = [f"fail-finding precision / recall on {title}", HEADER, "-- per item"]
    by_item = group(outcomes, lambda o: o.item_id)
    lines += [row(item, by_item[item]) for item in ITEM_IDS if item in by_item]
    lines.append("-- per item kind")
    lines += [row(kind, tally) for kind, tally in sorted(group(outcomes, lambda o: ITEM_KINDS[o.item_id]).items())]
    lines.append("-- per rule type")
    by_type = group(outcomes, lambda o: "metric" if o.item_id in METRIC_ITEMS else "text")
    lines += [row(kind, tally) for kind, tally in sorted(by_type.items())]
    lines.append("-- per language")
    lines += [
        row(language, tally) for language, tally in sorted(group(outcomes, lambda o: o.dialogue.language).items())
    ]
    lines.append(row("overall", group(outcomes, lambda o: "all")["all"]))
    mismatches = [o for o in outcomes if o.expected != o.got]
    if mismatches and disagreements:
        lines.append(f"-- {len(mismatches)} disagreements")
        lines += [describe(o) for o in mismatches]
    return "\n".join(lines)


def describe(outcome: Outcome) -> str:
    return (
        f"{outcome.dialogue.id} {outcome.item_id}: expected {outcome.expected}, got {outcome.got}"
        f" — evidence [{outcome.evidence}]"
    )
