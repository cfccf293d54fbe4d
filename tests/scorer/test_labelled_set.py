"""The default scorecards against the hand-labelled dialogues of `tests/scorer/data/`.

The labels were decided from docs/scorecards.md alone (see each dialogue's `description`). A finding is
"positive" when the item fails: precision = correctly failed / all failed, recall = correctly failed /
all that should fail. Accuracy compares the full pass / fail / not_applicable result.

    .venv/bin/pytest tests/scorer/test_labelled_set.py -s      # with the per-item table
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

from tests.scorer.dataset import ITEM_IDS, ITEM_KINDS, METRIC_ITEMS, Dialogue, load_all

MIN_ZH = 44
MIN_EN = 22
MIN_POSITIVES = 3  # items with fewer "fail" labels are reported but not asserted
MIN_PRECISION = 0.95
MIN_RECALL = 0.95


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


@pytest.fixture(scope="module")
def dialogues() -> list[Dialogue]:
    return load_all()


def _scorecard_item_ids(language: str) -> list[str]:
    from scorer.scorecard import default_scorecard

    card = default_scorecard(language)
    return [item.id for section in card.sections for item in section.items]


def test_every_dialogue_is_fully_labelled(dialogues: list[Dialogue]) -> None:
    counts = Counter(d.language for d in dialogues)
    assert counts["zh"] >= MIN_ZH, counts
    assert counts["en"] >= MIN_EN, counts
    try:
        card_items = {language: _scorecard_item_ids(language) for language in ("zh", "en")}
    except ImportError:  # the engine is optional for this check: fall back to the documented item list
        card_items = {language: list(ITEM_IDS) for language in ("zh", "en")}
    problems = []
    for dialogue in dialogues:
        wanted = set(card_items[dialogue.language])
        missing = wanted - set(dialogue.expected)
        extra = set(dialogue.expected) - wanted
        if missing or extra:
            problems.append(f"{dialogue.id}: missing {sorted(missing)}, not in the scorecard {sorted(extra)}")
        if not dialogue.description or not dialogue.doc.turns:
            problems.append(f"{dialogue.id}: no description or no turns")
    assert not problems, "\n".join(problems)


def test_each_item_has_failing_and_passing_examples(dialogues: list[Dialogue]) -> None:
    """The set is only useful if every item is seen failing (≥ 3 times per language) and passing."""
    problems = []
    for language in ("zh", "en"):
        labels = Counter((item, d.expected[item]) for d in dialogues if d.language == language for item in ITEM_IDS)
        for item in ITEM_IDS:
            if labels[item, "fail"] < MIN_POSITIVES or labels[item, "pass"] == 0:
                problems.append(f"{language} {item}: {labels[item, 'fail']} fail, {labels[item, 'pass']} pass")
    assert not problems, "\n".join(problems)


def test_synthesised_metrics_follow_the_overrides(dialogues: list[Dialogue]) -> None:
    """The loader's timings must produce exactly the metric values the labels were decided on."""
    problems = []
    for dialogue in dialogues:
        overrides = dialogue.raw.get("metrics") or {}
        metrics = dialogue.doc.metrics
        for role in ("agent", "customer"):
            wanted = overrides.get(f"{role}_interruptions")
            overlaps = sum(1 for overlap in metrics.overlaps if overlap.interrupter == role)
            if wanted is not None and not (metrics.interruptions.get(role, 0) == overlaps == wanted):
                problems.append(f"{dialogue.id}: {role} interruptions {overlaps}, wanted {wanted}")
            rate = overrides.get(f"speech_rate_{role}")
            if rate is not None and metrics.roles[role].speech_rate != rate:
                problems.append(f"{dialogue.id}: {role} speech rate {metrics.roles[role].speech_rate}, wanted {rate}")
        latency = overrides.get("first_response_latency_ms")
        if latency is not None and metrics.response_latencies[0].latency_ms != latency:
            problems.append(
                f"{dialogue.id}: first latency {metrics.response_latencies[0].latency_ms}, wanted {latency}"
            )
        turns = dialogue.doc.turns
        if any(b.begin_ms < a.begin_ms for a, b in itertools.pairwise(turns)):
            problems.append(f"{dialogue.id}: turns out of order")
        gaps = [b.begin_ms - a.end_ms for a, b in itertools.pairwise(turns) if b.begin_ms - a.end_ms >= 3000]
        if len(gaps) > len(metrics.non_talk):
            problems.append(f"{dialogue.id}: {len(gaps)} gaps of >= 3 s but {len(metrics.non_talk)} non-talk spans")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def outcomes(dialogues: list[Dialogue]) -> list[Outcome]:
    pytest.importorskip("scorer.rules.engine", reason="the rule engine is not available")
    from scorer.rules.engine import compile_scorecard
    from scorer.scorecard import default_scorecard

    compiled = {language: compile_scorecard(default_scorecard(language)) for language in ("zh", "en")}
    found: list[Outcome] = []
    for dialogue in dialogues:
        evaluation = compiled[dialogue.language].evaluate(dialogue.doc)
        by_id = {item.item_id: item for item in evaluation.items}
        for item_id, expected in dialogue.expected.items():
            scored = by_id.get(item_id)
            got = str(scored.result) if scored is not None else "missing"
            evidence = "; ".join(
                f"{e.turn_id or '-'}@{e.begin_ms}: {e.text!r}" for e in (scored.evidence if scored else [])
            )
            found.append(Outcome(dialogue, item_id, expected, got, evidence))
    return found


def _group(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> dict[str, Tally]:
    groups: dict[str, Tally] = defaultdict(Tally)
    for outcome in outcomes:
        groups[key(outcome)].add(outcome)
    return groups


def _row(name: str, tally: Tally) -> str:
    return (
        f"{name:<24} {tally.total:>4} {tally.positives:>4} {tally.tp:>4} {tally.fp:>4} {tally.fn:>4}"
        f" {tally.precision:>6.3f} {tally.recall:>6.3f} {tally.accuracy:>6.3f}"
    )


def report(outcomes: list[Outcome]) -> str:
    header = f"{'':<24} {'n':>4} {'pos':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'P':>6} {'R':>6} {'acc':>6}"
    lines = ["fail-finding precision / recall on the labelled set", header, "-- per item"]
    by_item = _group(outcomes, lambda o: o.item_id)
    lines += [_row(item, by_item[item]) for item in ITEM_IDS if item in by_item]
    lines.append("-- per item kind")
    by_kind = _group(outcomes, lambda o: ITEM_KINDS[o.item_id])
    lines += [_row(kind, tally) for kind, tally in sorted(by_kind.items())]
    lines.append("-- per rule type")
    by_type = _group(outcomes, lambda o: "metric" if o.item_id in METRIC_ITEMS else "text")
    lines += [_row(kind, tally) for kind, tally in sorted(by_type.items())]
    lines.append("-- per language")
    by_language = _group(outcomes, lambda o: o.dialogue.language)
    lines += [_row(language, tally) for language, tally in sorted(by_language.items())]
    lines.append(_row("overall", _group(outcomes, lambda o: "all")["all"]))
    mismatches = [o for o in outcomes if o.expected != o.got]
    if mismatches:
        lines.append(f"-- {len(mismatches)} disagreements")
        lines += [_describe(o) for o in mismatches]
    return "\n".join(lines)


def _describe(outcome: Outcome) -> str:
    return (
        f"{outcome.dialogue.id} {outcome.item_id}: expected {outcome.expected}, got {outcome.got}"
        f" — evidence [{outcome.evidence}]"
    )


def test_precision_and_recall_of_fail_findings(outcomes: list[Outcome]) -> None:
    print("\n" + report(outcomes))
    by_item = _group(outcomes, lambda o: o.item_id)
    overall = _group(outcomes, lambda o: "all")["all"]
    failures = []
    for item, tally in sorted(by_item.items()):
        if tally.positives < MIN_POSITIVES:
            continue
        if tally.precision < MIN_PRECISION or tally.recall < MIN_RECALL:
            failures.append(f"{item}: precision {tally.precision:.3f}, recall {tally.recall:.3f}")
            failures += [f"    {_describe(o)}" for o in tally.mismatches() if "fail" in (o.expected, o.got)]
    if overall.precision < MIN_PRECISION or overall.recall < MIN_RECALL:
        failures.append(f"overall: precision {overall.precision:.3f}, recall {overall.recall:.3f}")
    assert not failures, "\n".join(failures)


def test_pass_and_not_applicable_agree(outcomes: list[Outcome]) -> None:
    """Beyond the fail findings: pass vs not_applicable must match the labels too."""
    wrong = [o for o in outcomes if o.expected != o.got and "fail" not in (o.expected, o.got)]
    assert not wrong, "\n".join(_describe(o) for o in wrong)
