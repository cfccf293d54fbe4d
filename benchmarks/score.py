"""Scoring throughput on one core: a floor, not a race. Plus the memory of one compiled scorecard and what
scoring costs beside transcription for a whole call.

Side by side on the same ~5-minute transcripts and the same scorecard (default-zh unless told):

- callqa, warm: `scorer.rules.engine.compile_scorecard(card)` once, then `.evaluate(doc)` per transcript, as a
  worker scoring a stream of calls does. The card keeps jieba's cut of the clauses it has seen (a bounded
  memo of a pure function: agents say the same scripted clauses call after call).
- callqa, cold: the same, with that memo emptied before every call (the worst case: every clause new).
- These three score the card's rules: its learned judgements (`dissatisfaction` with `learned: true` and
  `judgement` conditions: sentence embeddings of the customer's turns) are switched off on every side (their
  rule cues decide), and timed on their own per call with the embeddings' cache emptied (every call new; a
  rescored call embeds nothing again), then added to the whole-call budget.
- baseline: the obvious implementation of the very same scorecard document. For each item, for each
  phrase or regex of its rule, a Python `re` scan (patterns compiled once, up front) over the raw text
  of every turn in scope; word boundaries from jieba's dictionary cut (`lcut(text, HMM=False)`) for CJK or
  `\\b` for words; negations, exclusions, proximity, repetition and metric thresholds applied to those hits,
  then the same pass / fail / not_applicable logic. No Aho-Corasick automaton, no normalised view of the
  turns (so it also misses what only normalisation finds: traditional characters, full-width forms,
  numerals), and nothing derived from a turn is shared between items (`--baseline-shared-segmentation`:
  each turn is segmented at most once per evaluation, a less naive baseline).

The floor: >= 300 evaluations/s on one core for default-zh's rules (then one scorer core keeps up with ~25
million calls a day), cold as well as warm; with the learned judgement, scoring stays under 5 % of a call's CPU.

The transcripts (`--transcripts`, default 100) are built from the labelled dialogues of
`tests/scorer/data/`: one dialogue's opening and closing around the middle turns of other randomly
chosen dialogues, 60-75 turns and about five minutes each, with realistic metrics (a hold silence,
a few interruptions by either side). Timing runs single-threaded in this one process (OMP_NUM_THREADS=1;
`--cpu N` also pins it to CPU N). The sides alternate, one pass through the transcripts each, for
`--seconds`: evaluations/s is the median over a side's passes, ratios the median of back-to-back ratios
(robust to a shared machine's load drifting).

Memory: what compiling the card allocates (tracemalloc), jieba's shared dictionary apart (loaded once per
process, whatever the number of cards). Whole-call budget (`--no-transcription` skips it): the sample calls
of `samples/calls.yaml` rendered and transcribed by `transcriber.pipeline.TranscriptionPipeline` with the
project's defaults (CPU seconds per audio second), scaled to the transcripts' mean length, beside the CPU of
scoring one call cold.

    ./run bench score                         default-zh, 100 transcripts
    ./run bench score --language en           default-en
    ./run bench score --json out.json         also write the figures as JSON
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before anything that may load a BLAS

import argparse
import itertools
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jieba

SCRIPT = Path(__file__).resolve()

from callqa.events import Evidence, ItemResult, ScoredItem  # noqa: E402
from callqa.transcripts import TranscriptDocument, Turn  # noqa: E402
from callqa_stack.agreement import rules_only  # noqa: E402
from callqa_stack.labelled import Dialogue, build_document, load_all  # noqa: E402
from scorer.rules import judgement  # noqa: E402
from scorer.rules.engine import CompiledScorecard, compile_scorecard  # noqa: E402
from scorer.rules.lexicon import (  # noqa: E402
    DISSATISFACTION,
    DISSATISFACTION_NEGATIONS,
    DISSATISFACTION_WEIGHTS,
    EXCLAMATIONS,
    IDENTIFIER_WITHIN,
    IDENTIFIERS,
    REPEATS_WEIGHT,
    REQUESTS,
)
from scorer.scorecard import (  # noqa: E402
    AllCondition,
    AnyCondition,
    Condition,
    DissatisfactionCondition,
    IdentifierRequestCondition,
    MetricCondition,
    NotCondition,
    PhrasesCondition,
    ProximityCondition,
    RegexCondition,
    RepetitionCondition,
    Scope,
    Scorecard,
    default_scorecard,
)

FLOOR_EVALS_PER_S = 300.0
BUDGET_SHARE = 0.05  # scoring, the learned judgement included, of a whole call's CPU
CJK_LANGUAGES = ("zh", "cmn", "yue", "ja")
_SEP = re.compile(r"[\W_]")


# --- the transcripts ------------------------------------------------------------------------------------------


def build_transcripts(dialogues: Sequence[Dialogue], count: int, seed: int) -> list[TranscriptDocument]:
    """`count` distinct ~5-minute calls stitched together from the labelled dialogues."""
    sources = [
        d
        for d in dialogues
        if {"agent", "customer"} <= {turn["role"] for turn in d.raw["turns"]} and len(d.raw["turns"]) >= 8
    ]
    rng = random.Random(seed)
    docs = []
    for index in range(count):
        frame = rng.choice(sources)
        target_turns = rng.randint(60, 75)
        head, tail = frame.raw["turns"][:2], frame.raw["turns"][-2:]
        middle: list[dict[str, Any]] = []
        while len(middle) + 4 < target_turns:
            other = rng.choice(sources)
            middle += other.raw["turns"][2:-2]
        turns = [_plain(turn, rng) for turn in head + middle[: target_turns - 4] + tail]
        hold = rng.randrange(4, len(turns) - 4)  # one announced hold of 15-25 s somewhere in the call
        turns[hold]["pause_before_s"] = round(rng.uniform(15, 25), 1)
        overrides = {"agent_interruptions": rng.randint(0, 2), "customer_interruptions": rng.randint(0, 3)}
        docs.append(build_document(f"bench-{frame.language}-{index:02d}", frame.language, turns, overrides))
    return docs


def _plain(turn: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The turn without its dialogue-specific timing (long pauses, overlaps) but a natural pause."""
    return {"role": turn["role"], "text": turn["text"], "pause_before_s": round(rng.uniform(0.2, 1.0), 2)}


# --- the naive baseline --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    turn: int  # index in doc.turns
    start: int
    end: int


class NaiveScorecard:
    """The scorecard evaluated the straightforward way: a regex per phrase over every turn's raw text."""

    def __init__(self, card: Scorecard, *, share_segmentation: bool = False) -> None:
        self.card = card
        self.share_segmentation = share_segmentation
        self.cjk = card.language.split("-")[0].lower() in CJK_LANGUAGES
        self.patterns: dict[str, re.Pattern[str]] = {}
        self.regexes: dict[str, re.Pattern[str]] = {}
        for _, item in card.all_items():
            for condition in (item.condition, item.not_applicable_when):
                if condition is not None:
                    self._compile(condition)

    # compile every phrase and regex once
    def _compile(self, condition: Condition) -> None:
        if isinstance(condition, IdentifierRequestCondition | DissatisfactionCondition):
            for part in self._parts(condition):
                self._compile(part)
        elif isinstance(condition, AllCondition | AnyCondition):
            for child in condition.conditions:
                self._compile(child)
        elif isinstance(condition, NotCondition):
            self._compile(condition.condition)
        elif isinstance(condition, PhrasesCondition):
            for phrase in [*condition.phrases, *condition.exclude_after, *condition.negations]:
                self._phrase(phrase)
            for alternatives in condition.synonyms.values():
                for phrase in alternatives:
                    self._phrase(phrase)
        elif isinstance(condition, ProximityCondition):
            for phrase in [*condition.first, *condition.second, *condition.negations]:
                self._phrase(phrase)
        elif isinstance(condition, RegexCondition):
            self.regexes[condition.pattern] = re.compile(_to_python_re(condition.pattern), re.IGNORECASE)
        elif isinstance(condition, MetricCondition | RepetitionCondition):
            pass
        else:
            raise NotImplementedError(f"the baseline does not do {type(condition).__name__}")

    def _parts(self, condition: IdentifierRequestCondition | DissatisfactionCondition) -> list[Condition]:
        """The built-in operators written out as the plain conditions a user would write for them: a proximity of
        the request and identifier words; one phrase list per dissatisfaction signal, then the exclamations and
        the repeated request (each met part adds its weight)."""
        language = "zh" if self.cjk else "en"
        if isinstance(condition, IdentifierRequestCondition):
            within = condition.within if condition.within is not None else IDENTIFIER_WITHIN[language]
            first, second = [*REQUESTS[language], *condition.requests], [*IDENTIFIERS[language], *condition.identifiers]
            return [
                ProximityCondition(
                    type="proximity",
                    role=condition.role,
                    first=first,
                    second=second,
                    within=within,
                    word_boundary=not self.cjk,
                    scope=condition.scope,
                )
            ]
        negations = list(DISSATISFACTION_NEGATIONS[language])
        signals: list[Condition] = [
            PhrasesCondition(
                type="phrases",
                role=condition.role,
                word_boundary=not self.cjk,
                negations=negations,
                phrases=[*DISSATISFACTION[language, signal], *condition.phrases.get(signal, [])],
            )
            for signal in DISSATISFACTION_WEIGHTS
        ]
        exclamations = RegexCondition(type="regex", role=condition.role, pattern="[!！]", count=EXCLAMATIONS)
        repeats = RepetitionCondition(type="repetition", role=condition.role, measure="containment")
        return [*signals, exclamations, repeats]

    def _phrase(self, phrase: str) -> re.Pattern[str]:
        pattern = self.patterns.get(phrase)
        if pattern is None:
            if self.cjk:  # allow punctuation / spaces between the characters, as ASR output has them
                chars = [re.escape(char) for char in phrase if not _SEP.match(char)]
                source = r"[\W_]*".join(chars)
            else:
                words = [re.escape(word).replace("'", "['’]?") for word in re.findall(r"[\w'%]+", phrase)]
                source = r"(?<!\w)" + r"[\W_]+".join(words) + r"(?!\w)"
            pattern = self.patterns[phrase] = re.compile(source, re.IGNORECASE)
        return pattern

    # evaluation
    def evaluate(self, doc: TranscriptDocument) -> list[ScoredItem]:
        state = _State(doc, self.cjk)
        scored = []
        for section, item in self.card.all_items():
            if not self.share_segmentation:
                state.forget()  # naive: nothing derived from a turn is reused from one item to the next
            if item.not_applicable_when is not None and self._met(item.not_applicable_when, state)[0]:
                scored.append(
                    ScoredItem(item_id=item.id, section=section.id, result=ItemResult.not_applicable, points=0)
                )
                continue
            met, evidence = self._met(item.condition, state)
            found_is_bad = item.kind in ("deduction", "auto_fail")
            passed = met != found_is_bad
            scored.append(
                ScoredItem(
                    item_id=item.id,
                    section=section.id,
                    result=ItemResult.passed if passed else ItemResult.failed,
                    points=item.points if passed and item.kind != "auto_fail" else 0.0,
                    severity=item.severity,
                    evidence=evidence,
                )
            )
        return scored

    def _met(self, condition: Condition, state: _State) -> tuple[bool, list[Evidence]]:
        if isinstance(condition, AllCondition):
            evidence: list[Evidence] = []
            for child in condition.conditions:
                met, found = self._met(child, state)
                if not met:
                    return False, []
                evidence += found
            return True, evidence
        if isinstance(condition, AnyCondition):
            for child in condition.conditions:
                met, found = self._met(child, state)
                if met:
                    return True, found
            return False, []
        if isinstance(condition, NotCondition):
            return not self._met(condition.condition, state)[0], []
        if isinstance(condition, PhrasesCondition):
            return self._phrases(condition, state)
        if isinstance(condition, ProximityCondition):
            return self._proximity(condition, state)
        if isinstance(condition, RegexCondition):
            pattern = self.regexes[condition.pattern]
            hits = [
                Hit(i, m.start(), m.end())
                for i in state.scoped(condition.role, condition.scope)
                for m in pattern.finditer(state.text(i))
            ]
            return len(hits) >= condition.count, state.evidence(hits)
        if isinstance(condition, MetricCondition):
            value = state.metric(condition.metric)
            return value is not None and _compare(value, condition), []
        if isinstance(condition, RepetitionCondition):
            return state.repeated(condition), []
        if isinstance(condition, IdentifierRequestCondition):
            return self._met(self._parts(condition)[0], state)
        if isinstance(condition, DissatisfactionCondition):
            weights = [*DISSATISFACTION_WEIGHTS.values(), 1, REPEATS_WEIGHT]
            score, evidence = 0, []
            for part, weight in zip(self._parts(condition), weights, strict=True):
                met, found = self._met(part, state)
                if met:
                    score, evidence = score + weight, evidence + found
            return score >= condition.min_score, evidence
        raise NotImplementedError(type(condition).__name__)

    def _hits(
        self,
        phrases: Iterable[str],
        turns: Sequence[int],
        state: _State,
        *,
        word_boundary: bool,
        negations: Sequence[str] = (),
        window: int = 0,
        exclude_after: Sequence[str] = (),
    ) -> list[Hit]:
        hits = []
        for phrase in phrases:
            pattern = self.patterns[phrase]
            for index in turns:
                text = state.text(index)
                for match in pattern.finditer(text):
                    hit = Hit(index, match.start(), match.end())
                    if word_boundary and not state.aligned(hit):
                        continue
                    if exclude_after and self._followed_by(text, hit.end, exclude_after):
                        continue
                    if negations and self._negated(text, hit, negations, window, state):
                        continue
                    hits.append(hit)
        return hits

    def _followed_by(self, text: str, end: int, phrases: Sequence[str]) -> bool:
        rest = text[end:].lstrip(" \t,.!?;:，。！？；：、…")
        return any(self.patterns[phrase].match(rest) for phrase in phrases)

    def _negated(self, text: str, hit: Hit, negations: Sequence[str], window: int, state: _State) -> bool:
        for phrase in negations:
            for match in self.patterns[phrase].finditer(text):
                if match.start() <= hit.start and match.end() >= hit.end:  # 不能保证 contains 保证
                    return True
                if match.end() <= hit.start and state.distance(text[match.end() : hit.start]) <= window:
                    return True
        return False

    def _phrases(self, condition: PhrasesCondition, state: _State) -> tuple[bool, list[Evidence]]:
        turns = state.scoped(condition.role, condition.scope)
        options = dict(
            word_boundary=condition.word_boundary,
            negations=condition.negations,
            window=condition.negation_window,
            exclude_after=condition.exclude_after,
        )
        per_phrase = [
            self._hits([phrase, *condition.synonyms.get(phrase, [])], turns, state, **options)  # type: ignore[arg-type]
            for phrase in condition.phrases
        ]
        hits = [hit for found in per_phrase for hit in found]
        if condition.mode == "any":
            return bool(hits), state.evidence(hits)
        if condition.mode == "all":
            return all(per_phrase), state.evidence(hits)
        if condition.mode == "none":
            return not hits, []
        distinct = {(hit.turn, hit.start) for hit in hits}
        return len(distinct) >= condition.count, state.evidence(hits)

    def _proximity(self, condition: ProximityCondition, state: _State) -> tuple[bool, list[Evidence]]:
        turns = state.scoped(condition.role, condition.scope)
        for index in turns:
            firsts = self._hits(
                condition.first,
                [index],
                state,
                word_boundary=condition.word_boundary,
                negations=condition.negations,
                window=condition.negation_window,
            )
            if not firsts:
                continue
            seconds = self._hits(condition.second, [index], state, word_boundary=condition.word_boundary)
            text = state.text(index)
            for first in firsts:
                for second in seconds:
                    if second.start >= first.end:
                        gap = text[first.end : second.start]
                    elif condition.order == "any" and second.end <= first.start:
                        gap = text[second.end : first.start]
                    else:
                        continue
                    if state.distance(gap) <= condition.within:
                        return True, state.evidence(
                            [Hit(index, min(first.start, second.start), max(first.end, second.end))]
                        )
        return False, []


class _State:
    """One evaluation's view of the document (built afresh for every evaluation)."""

    def __init__(self, doc: TranscriptDocument, cjk: bool) -> None:
        self.doc = doc
        self.turns: list[Turn] = doc.turns
        self.cjk = cjk
        self._bounds: dict[int, set[int]] = {}

    def forget(self) -> None:
        self._bounds = {}

    def text(self, index: int) -> str:
        return self.turns[index].text

    def scoped(self, role: str, scope: Scope) -> list[int]:
        if scope.before_anchor or scope.after_anchor:
            raise NotImplementedError("anchors")
        chosen = [i for i, turn in enumerate(self.turns) if role == "any" or turn.role == role]
        if scope.first_turns:
            chosen = chosen[: scope.first_turns]
        if scope.last_turns:
            chosen = chosen[-scope.last_turns :]
        if scope.first_seconds or scope.last_seconds:
            speech = scope.seconds_from == "speech" and self.turns
            start = self.turns[0].begin_ms if speech else 0
            end = max(turn.end_ms for turn in self.turns) if speech else self.doc.duration_ms
            if scope.first_seconds:
                chosen = [i for i in chosen if self.turns[i].begin_ms - start <= scope.first_seconds * 1000]
            if scope.last_seconds:
                chosen = [i for i in chosen if end - self.turns[i].end_ms <= scope.last_seconds * 1000]
        return chosen

    def aligned(self, hit: Hit) -> bool:
        if not self.cjk:
            return True  # the word patterns carry their own \b-style boundaries
        bounds = self._bounds.get(hit.turn)
        if bounds is None:
            bounds = {0}
            offset = 0
            for token in jieba.lcut(self.text(hit.turn), HMM=False):
                offset += len(token)
                bounds.add(offset)
            self._bounds[hit.turn] = bounds
        return hit.start in bounds and hit.end in bounds

    def distance(self, gap: str) -> int:
        """Characters (CJK, punctuation and spaces not counted) or words between two hits."""
        if self.cjk:
            return sum(1 for char in gap if not _SEP.match(char))
        return len(re.findall(r"[\w'%]+", gap))

    def evidence(self, hits: Sequence[Hit]) -> list[Evidence]:
        return [
            Evidence(
                turn_id=self.turns[hit.turn].id,
                begin_ms=self.turns[hit.turn].begin_ms,
                end_ms=self.turns[hit.turn].end_ms,
                text=self.text(hit.turn)[hit.start : hit.end],
            )
            for hit in hits[:5]
        ]

    def metric(self, name: str) -> float | None:
        metrics = self.doc.metrics
        roles = metrics.roles
        counts = Counter(turn.role for turn in self.turns)
        simple: dict[str, Callable[[], float | None]] = {
            "agent_interruptions": lambda: metrics.interruptions.get("agent", 0),
            "customer_interruptions": lambda: metrics.interruptions.get("customer", 0),
            "max_non_talk_ms": lambda: max((span.duration_ms for span in metrics.non_talk), default=0),
            "non_talk_count": lambda: len(metrics.non_talk),
            "non_talk_ms": lambda: metrics.non_talk_time_ms,
            "talk_ratio_agent": lambda: roles["agent"].talk_ratio if "agent" in roles else None,
            "talk_ratio_customer": lambda: roles["customer"].talk_ratio if "customer" in roles else None,
            "speech_rate_agent": lambda: roles["agent"].speech_rate if "agent" in roles else None,
            "speech_rate_customer": lambda: roles["customer"].speech_rate if "customer" in roles else None,
            "agent_voiced_ms": lambda: roles["agent"].talk_time_ms if "agent" in roles else 0,
            "customer_voiced_ms": lambda: roles["customer"].talk_time_ms if "customer" in roles else 0,
            "first_response_latency_ms": self._first_response_latency,
            "mean_response_latency_ms": lambda: metrics.mean_response_latency_ms,
            "max_response_latency_ms": lambda: metrics.max_response_latency_ms,
            "duration_ms": lambda: self.doc.duration_ms,
            "agent_turns": lambda: counts["agent"],
            "customer_turns": lambda: counts["customer"],
            "turns": lambda: len(self.turns),
        }
        return simple[name]()

    def _first_response_latency(self) -> float | None:
        """The agent's first turn after the customer's first turn: its start minus that turn's end."""
        first = next((i for i, turn in enumerate(self.turns) if turn.role == "customer"), None)
        if first is None:
            return None
        answer = next((turn for turn in self.turns[first + 1 :] if turn.role == "agent"), None)
        return None if answer is None else answer.begin_ms - self.turns[first].end_ms

    def repeated(self, condition: RepetitionCondition) -> bool:
        grams = []
        for turn in self.turns:
            if condition.role != "any" and turn.role != condition.role:
                continue
            units = (
                [char for char in turn.text if not _SEP.match(char)]
                if self.cjk
                else re.findall(r"[\w'%]+", turn.text.lower())
            )
            if len(units) >= condition.min_length:
                grams.append(set(itertools.pairwise(units)))

        def alike(one: set[Any], other: set[Any]) -> bool:
            whole = len(one | other) if condition.measure == "jaccard" else min(len(one), len(other))
            return bool(whole) and len(one & other) / whole >= condition.similarity

        for one in grams:
            similar = sum(1 for other in grams if other is not one and alike(one, other))
            if similar + 1 >= condition.min_repeats:
                return True
        return False


def _compare(value: float, condition: MetricCondition) -> bool:
    match condition.op:
        case "lt":
            return value < condition.value
        case "le":
            return value <= condition.value
        case "gt":
            return value > condition.value
        case "ge":
            return value >= condition.value
        case "eq":
            return value == condition.value
        case "between":
            return condition.value <= value <= (condition.value2 if condition.value2 is not None else value)
    raise ValueError(condition.op)


def _to_python_re(pattern: str) -> str:
    """The scorecards' RE2 classes in Python `re` terms: `[\\pP\\pS\\s]` -> `[\\W_]`, `[\\pP\\pS]` -> `[^\\w\\s]`,
    `[^\\pP\\s]` -> `\\w`, `\\pP\\s` in any other class -> `\\W`."""
    translated = pattern.replace(r"\pP\pS\s", r"\W_").replace(r"[\pP\pS]", r"[^\w\s]").replace(r"[^\pP\s]", r"\w")
    translated = translated.replace(r"\pP\s", r"\W")  # inside any other class: [^我\pP\s], [\pP\s]
    if r"\p" in translated:
        raise NotImplementedError(f"the baseline cannot translate {pattern!r}")
    return translated


# --- timing ---------------------------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    pass_rates: list[float]  # evaluations per second of each pass through the transcripts

    @property
    def median(self) -> float:
        return statistics.median(self.pass_rates)

    @property
    def best(self) -> float:
        return max(self.pass_rates)

    @property
    def quartiles(self) -> tuple[float, float]:
        q = statistics.quantiles(self.pass_rates, n=4)
        return q[0], q[2]


def timed_pass(evaluate: Callable[[TranscriptDocument], object], docs: Sequence[TranscriptDocument]) -> float:
    """Evaluations per second of one pass through `docs`."""
    start = time.perf_counter()
    for doc in docs:
        evaluate(doc)
    return len(docs) / (time.perf_counter() - start)


def measure(
    sides: Sequence[tuple[Side, Callable[[TranscriptDocument], object]]],
    docs: Sequence[TranscriptDocument],
    seconds: float,
) -> list[list[float]]:
    """Alternate one pass of each side until `seconds` have gone by; per round, each side's rate over the
    last side's (a ratio taken back to back is robust to the load of a shared machine drifting)."""
    ratios: list[list[float]] = [[] for _ in sides[:-1]]
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(ratios[0]) < 5:
        rates = []
        for side, evaluate in sides:
            rate = timed_pass(evaluate, docs)
            side.pass_rates.append(rate)
            rates.append(rate)
        for k, rate in enumerate(rates[:-1]):
            ratios[k].append(rate / rates[-1])
    return ratios


def judgements_of(card: Scorecard) -> list[str]:
    """The learned judgements the card uses."""
    found: dict[str, None] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "judgement":
                found[node["name"]] = None
            elif node.get("type") == "dissatisfaction" and node.get("learned"):
                found["customer_dissatisfied"] = None
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(card.model_dump(mode="json"))
    return list(found)


def judgement_seconds(card: Scorecard, docs: Sequence[TranscriptDocument]) -> list[float]:
    """What the card's learned judgements cost per call, the embeddings' cache emptied before each call."""
    judged = [learned for name in judgements_of(card) if (learned := judgement.load(name)) is not None]
    if not judged:
        return []
    seconds = []
    for doc in docs:
        judgement.forget()
        start = time.perf_counter()
        for learned in judged:
            learned.probability([turn.text for turn in doc.turns if turn.role == learned.party])
        seconds.append(time.perf_counter() - start)
    return seconds


def agreement(card: Scorecard, docs: Sequence[TranscriptDocument], naive: NaiveScorecard) -> tuple[int, int, list[str]]:
    compiled = compile_scorecard(card)
    same = total = 0
    differing: list[str] = []
    for doc in docs:
        engine = {item.item_id: str(item.result) for item in compiled.evaluate(doc).items}
        for item in naive.evaluate(doc):
            total += 1
            if engine[item.item_id] == str(item.result):
                same += 1
            else:
                differing.append(
                    f"{doc.recording_id} {item.item_id}: engine {engine[item.item_id]}, baseline {item.result}"
                )
    return same, total, differing


def labelled_accuracy(card: Scorecard, naive: NaiveScorecard, dialogues: Sequence[Dialogue]) -> tuple[int, int]:
    right = total = 0
    for dialogue in dialogues:
        for item in naive.evaluate(dialogue.doc):
            total += 1
            right += dialogue.expected.get(item.item_id) == str(item.result)
    return right, total


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores_visible": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def card_memory_mib(card: Scorecard) -> float:
    """What compiling `card` allocates and keeps (jieba's shared dictionary is loaded before)."""
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    compiled = CompiledScorecard(card)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del compiled
    return size / 2**20


def jieba_dictionary_mib() -> float:
    """jieba's dictionary as the scorer holds it: loaded once per process, read by every card."""
    tracemalloc.start()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size / 2**20


def transcription_cpu_per_audio_s() -> tuple[float, float]:
    """CPU seconds per audio second of the transcriber's pipeline (project defaults) on the rendered sample
    calls, and the audio seconds measured."""
    from callqa_stack.samples import render_calls
    from transcriber.config import Settings as TranscriberSettings
    from transcriber.pipeline import CallInfo, TranscriptionPipeline

    with tempfile.TemporaryDirectory() as tmp:
        calls = render_calls(out_dir=Path(tmp))
        pipeline = TranscriptionPipeline(TranscriberSettings())
        warm = calls[0]
        layout = "agent_left" if warm.agent_channel == 0 else "agent_right"
        pipeline.run(warm.path, CallInfo(warm.call_id, layout, warm.language))  # load and warm the model
        started = time.process_time()
        for call in calls:
            layout = "agent_left" if call.agent_channel == 0 else "agent_right"
            pipeline.run(call.path, CallInfo(call.call_id, layout, call.language))
        cpu = time.process_time() - started
    audio = sum(call.duration_s for call in calls)
    return cpu / audio, audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", default="zh", help="default scorecard: zh (default-zh) or en (default-en)")
    parser.add_argument("--transcripts", type=int, default=100, help="distinct ~5-minute transcripts (default 100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time, all sides (default 20)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU (default: not pinned)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--baseline-shared-segmentation",
        action="store_true",
        help="let the baseline segment each turn once per evaluation instead of once per item",
    )
    parser.add_argument("--no-transcription", action="store_true", help="skip the whole-call CPU budget")
    args = parser.parse_args()

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    jieba.setLogLevel(60)
    dictionary_mib = jieba_dictionary_mib()
    jieba.initialize()

    dialogues = [d for d in load_all() if d.language == args.language]
    docs = build_transcripts(dialogues, args.transcripts, args.seed)
    card = rules_only(default_scorecard(args.language))
    compile_scorecard(card)  # loads the shared dictionary before memory is measured
    memory_mib = card_memory_mib(card)
    compiled = compile_scorecard(card)
    naive = NaiveScorecard(card, share_segmentation=args.baseline_shared_segmentation)
    for doc in docs:  # warm up both sides (jieba's dictionary, lazy imports)
        compiled.evaluate(doc)
        naive.evaluate(doc)

    def cold(doc: TranscriptDocument) -> object:
        if compiled.index.segmenter is not None:
            compiled.index.segmenter.forget()
        return compiled.evaluate(doc)

    turns = [len(doc.turns) for doc in docs]
    minutes = [doc.duration_ms / 60_000 for doc in docs]
    print(
        f"{card.id} v{card.version}: {len(card.sections)} sections, {sum(1 for _ in card.all_items())} items; "
        f"{len(docs)} transcripts, {min(turns)}-{max(turns)} turns (mean {statistics.mean(turns):.0f}), "
        f"{min(minutes):.1f}-{max(minutes):.1f} min (mean {statistics.mean(minutes):.1f})"
    )
    print(
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, one thread, CPUs allowed"
        f" {sorted(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )

    warm_side = Side("callqa engine, warm", [])
    cold_side = Side("callqa engine, cold", [])
    baseline = Side("naive re baseline" + (" (shared seg.)" if args.baseline_shared_segmentation else ""), [])
    sides = [(warm_side, compiled.evaluate), (cold_side, cold), (baseline, naive.evaluate)]
    ratios = measure(sides, docs, args.seconds)
    warm_ratio, cold_ratio = (statistics.median(r) for r in ratios)

    judged = judgement_seconds(default_scorecard(args.language), docs)
    same, total, differing = agreement(card, docs, naive)
    right, labelled = labelled_accuracy(card, naive, dialogues)
    print()
    print(f"{len(warm_side.pass_rates)} alternating passes of {len(docs)} evaluations per side")
    print(f"{'':<32} {'evals/s':>9} {'ms/eval':>8} {'IQR evals/s':>14} {'best pass':>10} {'vs baseline':>12}")
    for (side, _), ratio in zip(sides, [warm_ratio, cold_ratio, 1.0], strict=True):
        low, high = side.quartiles
        print(
            f"{side.name:<32} {side.median:>9.1f} {1000 / side.median:>8.3f} {low:>6.0f}-{high:<7.0f}"
            f" {side.best:>10.1f} {ratio:>11.2f}x"
        )
    print()
    floor_met = min(warm_side.median, cold_side.median) >= FLOOR_EVALS_PER_S
    print(f"floor >= {FLOOR_EVALS_PER_S:.0f} evals/s on one core, warm and cold: {'met' if floor_met else 'NOT met'}")
    if judged:
        print(
            f"learned judgements (turns embedded), per call: median {statistics.median(judged) * 1000:.0f} ms,"
            f" max {max(judged) * 1000:.0f} ms ({len(judged)} calls, cache emptied before each)"
        )
    print(
        f"memory of one compiled {card.id}: {memory_mib:.2f} MiB (jieba's shared dictionary: {dictionary_mib:.0f} MiB)"
    )
    print(f"baseline vs engine on the benchmark transcripts: {same}/{total} item results identical")
    for line in differing[:10]:
        print(f"  {line}")
    print(f"baseline on the labelled {args.language} set: {right}/{labelled} item results as labelled")

    budget: dict[str, float] = {}
    if not args.no_transcription:
        per_audio_s, audio_s = transcription_cpu_per_audio_s()
        call_s = statistics.mean(doc.duration_ms for doc in docs) / 1000
        judging = statistics.mean(judged) if judged else 0.0
        transcribing, scoring = per_audio_s * call_s, 1 / cold_side.median + judging
        budget = {"transcription_cpu_per_audio_s": per_audio_s, "audio_s_measured": audio_s}
        budget |= {"call_s": call_s, "transcription_cpu_s": transcribing, "scoring_cpu_s": scoring}
        print()
        print(f"whole-call CPU budget, a {call_s / 60:.1f}-minute call", end="")
        print(f" (transcription measured on {audio_s:.0f} s of rendered sample calls):")
        print(f"  transcription {transcribing:8.1f} CPU-s   ({per_audio_s:.3f} CPU-s per audio s)")
        share = scoring / (transcribing + scoring)
        print(f"  scoring       {scoring:8.4f} CPU-s   ({share:.4%} of the call's CPU)", end="")
        print(f", of which the learned judgements {judging:.3f}")
        print(f"scoring under {BUDGET_SHARE:.0%} of a call's CPU: {'met' if share < BUDGET_SHARE else 'NOT met'}")

    if args.json:
        figures = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "machine": machine(),
            "scorecard": f"{card.id} v{card.version}",
            "transcripts": len(docs),
            "turns_mean": statistics.mean(turns),
            "minutes_mean": statistics.mean(minutes),
            "engine_warm": {"median": warm_side.median, "best": warm_side.best, **asdict(warm_side)},
            "engine_cold": {"median": cold_side.median, "best": cold_side.best, **asdict(cold_side)},
            "baseline": {"median": baseline.median, "best": baseline.best, **asdict(baseline)},
            "ratio_warm": warm_ratio,
            "ratio_cold": cold_ratio,
            "card_memory_mib": memory_mib,
            "jieba_dictionary_mib": dictionary_mib,
            "agreement": [same, total],
            "baseline_labelled_accuracy": [right, labelled],
            "judgement_s_per_call": judged,
            "budget": budget,
        }
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
