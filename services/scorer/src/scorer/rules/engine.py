"""Compile a scorecard once, evaluate many transcripts with it.

Compiling normalises every phrase, puts all of them into one Aho-Corasick automaton, gives a CJK card a
jieba dictionary of its own with its phrases as words, and compiles regexes with RE2. Evaluating a
transcript normalises its turns, scans each once with the automaton, and then answers each item from
those raw hits (word-boundary, clause, exclusion and negation checks are done only on hits). A compiled
card shares nothing that changes with any other: the same transcript and card always give the same
evaluation, whatever else the process compiled before.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from callqa.events import ItemResult, ScoredItem
from callqa.transcripts import TranscriptDocument
from scorer.rules import judgement
from scorer.rules.conditions import (
    AllOf,
    AnyOf,
    Compiled,
    CompiledAnchor,
    CompiledScope,
    Context,
    DetailExchanged,
    Dissatisfaction,
    EvidenceFields,
    Finding,
    Judged,
    Metric,
    Not,
    Phrases,
    Proximity,
    Regex,
    Repetition,
    Sentiment,
    Silence,
    absent,
    is_absence,
)
from scorer.rules.lexicon import (
    CONFIRMATION_SHAPE,
    DETAIL_ANSWER_REST,
    DETAIL_SHAPE,
    DISSATISFACTION,
    DISSATISFACTION_NEGATIONS,
    DISSATISFACTION_WEIGHTS,
    EXCLAMATIONS,
    FRESH_DETAIL,
    FRESH_DETAIL_WINDOW,
    IDENTIFIER_ALONE,
    IDENTIFIER_INSTRUCTION_WINDOW,
    IDENTIFIER_INSTRUCTIONS,
    IDENTIFIER_QUESTION,
    IDENTIFIER_WITHIN,
    IDENTIFIERS,
    INSISTENCE,
    QUESTION_SHAPE,
    REQUESTS,
    SAME_QUESTION,
    SHARED_RUN,
    SHARED_RUN_SKIP,
    language_of,
    lexicon,
)
from scorer.rules.matching import PhraseIndex, Segmenter, word_shape
from scorer.rules.metrics import Call, Note
from scorer.rules.normalise import is_cjk_language, normalise, normalise_phrase
from scorer.scorecard import (
    AllCondition,
    Anchor,
    AnyCondition,
    Condition,
    DissatisfactionCondition,
    IdentifierRequestCondition,
    JudgementCondition,
    MetricCondition,
    NotCondition,
    PhrasesCondition,
    ProximityCondition,
    RegexCondition,
    RepetitionCondition,
    Scope,
    Scorecard,
    SentimentCondition,
    Severity,
    SilenceCondition,
    compile_pattern,
)

DETAIL = re.compile(DETAIL_SHAPE, re.IGNORECASE)
QUESTION = re.compile(QUESTION_SHAPE)
CONFIRMATION = re.compile(CONFIRMATION_SHAPE, re.IGNORECASE)


class Evaluation(BaseModel):
    scorecard_id: str
    scorecard_version: int
    items: list[ScoredItem]
    total_points: float = Field(description="earned; 0 when an auto-fail item failed")
    max_points: float = Field(description="points of the applicable items (bonus and auto-fail items add none)")
    percentage: float = Field(description="total / max * 100, at most 100; 100 when nothing applies")
    passed: bool
    auto_failed: bool


@dataclass(frozen=True, slots=True)
class CompiledItem:
    id: str
    section: str
    name: str
    kind: str
    points: float
    severity: Severity
    condition: Compiled
    not_applicable_when: Compiled | None
    found_is_bad: bool = field(init=False)  # a deduction or auto-fail: finding what it describes fails it
    counted: bool = field(init=False)  # its points count towards the maximum (requirements, deductions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "found_is_bad", self.kind in ("deduction", "auto_fail"))
        object.__setattr__(self, "counted", self.kind in ("requirement", "deduction"))

    def scored(self, result: ItemResult, points: float, evidence: list[EvidenceFields]) -> dict[str, Any]:
        """The fields of its `ScoredItem`."""
        return {
            "item_id": self.id,
            "section": self.section,
            "result": result,
            "points": points,
            "severity": self.severity,
            "evidence": evidence,
            "max_points": self.points,
            "kind": self.kind,
        }


class _Compiler:
    def __init__(self, cjk: bool) -> None:
        self.cjk = cjk
        self.phrases: dict[tuple[str, bool], int] = {}  # (normalised phrase, homophones too) -> phrase id
        self.compiled: dict[str, Compiled] = {}
        self.scopes: dict[CompiledScope, CompiledScope] = {}

    def pid(self, phrase: str, homophones: bool = False) -> int:
        key = (normalise_phrase(phrase, self.cjk), homophones and self.cjk)
        return self.phrases.setdefault(key, len(self.phrases))

    def texts(self, phrases: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_phrase(p, self.cjk) for p in phrases))

    def scope(self, role: str, scope: Scope) -> CompiledScope:
        def anchor(spec: Anchor | None) -> CompiledAnchor | None:
            if spec is None:
                return None
            pids = tuple(dict.fromkeys(self.pid(p) for p in spec.phrases))
            return CompiledAnchor(pids, tuple(spec.phrases), spec.role, spec.within_turns)

        compiled = CompiledScope(
            role=role,
            first_turns=scope.first_turns,
            last_turns=scope.last_turns,
            first_seconds=scope.first_seconds,
            last_seconds=scope.last_seconds,
            from_speech=scope.seconds_from == "speech",
            before_anchor=anchor(scope.before_anchor),
            after_anchor=anchor(scope.after_anchor),
        )
        return self.scopes.setdefault(compiled, compiled)  # one object per distinct scope

    def condition(self, spec: Condition) -> Compiled:
        """The compiled condition; identical specs share one (a context evaluates it once per call)."""
        key = spec.model_dump_json()
        compiled = self.compiled.get(key)
        if compiled is None:
            compiled = self.compiled[key] = self._condition(spec)
        return compiled

    def _condition(self, spec: Condition) -> Compiled:
        if isinstance(spec, AllCondition):
            return AllOf([self.condition(c) for c in spec.conditions])
        if isinstance(spec, AnyCondition):
            return AnyOf([self.condition(c) for c in spec.conditions])
        if isinstance(spec, NotCondition):
            return Not(self.condition(spec.condition))
        if isinstance(spec, PhrasesCondition):
            return Phrases(
                groups=[
                    tuple(dict.fromkeys(self.pid(p, spec.homophones) for p in [phrase, *spec.synonyms.get(phrase, [])]))
                    for phrase in spec.phrases
                ],
                labels=list(spec.phrases),
                mode=spec.mode,
                count=spec.count,
                word_boundary=spec.word_boundary,
                exclude_after=self.texts(spec.exclude_after),
                negations=self.texts(spec.negations),
                negation_window=spec.negation_window,
                scope=self.scope(spec.role, spec.scope),
                exclude_in_turn=self.texts(spec.exclude_in_turn),
                exclude_next_clause=self.texts(spec.exclude_next_clause),
                exclude_quoted=spec.exclude_quoted,
            )
        if isinstance(spec, RegexCondition):
            pattern = compile_pattern("(?m)" + spec.pattern)
            return Regex(
                pattern,
                spec.pattern,
                spec.count,
                self.scope(spec.role, spec.scope),
                negations=self.texts(spec.negations),
                negation_window=spec.negation_window,
            )
        if isinstance(spec, ProximityCondition):
            return Proximity(
                first=tuple(dict.fromkeys(self.pid(p, spec.homophones) for p in spec.first)),
                second=tuple(dict.fromkeys(self.pid(p) for p in spec.second)),
                labels=(list(spec.first), list(spec.second)),
                within=spec.within,
                ordered=spec.order == "first_then_second",
                word_boundary=spec.word_boundary,
                negations=self.texts(spec.negations),
                negation_window=spec.negation_window,
                scope=self.scope(spec.role, spec.scope),
            )
        if isinstance(spec, IdentifierRequestCondition):
            language = language_of(self.cjk)
            requests = [*REQUESTS[language], *spec.requests]
            identifiers = [*IDENTIFIERS[language], *spec.identifiers]
            aligned = not self.cjk  # Chinese identifiers hide inside longer words (手机号 in 手机号码)
            scope = self.scope(spec.role, spec.scope)
            named = "|".join(re.escape(normalise(i, self.cjk).full) for i in sorted(identifiers, key=len, reverse=True))
            fresh, fresh_window = self.texts(list(FRESH_DETAIL[language])), FRESH_DETAIL_WINDOW[language]
            asked_alone = [
                Regex(
                    compile_pattern("(?m)" + pattern.format(named)), pattern.format("…"), 1, scope, fresh, fresh_window
                )
                for pattern in (IDENTIFIER_QUESTION[language], IDENTIFIER_ALONE)
            ]
            near = Proximity(
                first=tuple(dict.fromkeys(self.pid(p) for p in requests)),
                second=tuple(dict.fromkeys(self.pid(p) for p in identifiers)),
                labels=(requests, identifiers),
                within=spec.within if spec.within is not None else IDENTIFIER_WITHIN[language],
                ordered=False,
                word_boundary=aligned,
                negations=self.texts(list(IDENTIFIER_INSTRUCTIONS[language])),
                negation_window=IDENTIFIER_INSTRUCTION_WINDOW[language],
                scope=scope,
                second_negations=fresh,
                second_negation_window=fresh_window,
                distinct=True,  # 验证 inside 验证码 asks for nothing
            )
            conditions: list[Compiled] = [near, *asked_alone]
            if spec.exchanged:
                # "新号码是多少？" answered with a number takes a new detail down: it identifies nobody
                joiner = "的?" if self.cjk else r"\s+"
                fresh_asked = re.compile(f"(?:{'|'.join(map(re.escape, FRESH_DETAIL[language]))}){joiner}(?:{named})")
                exchanged = DetailExchanged(
                    scope, DETAIL, QUESTION, CONFIRMATION, DETAIL_ANSWER_REST[language], fresh_asked
                )
                conditions.append(exchanged)
            return AnyOf(conditions)
        if isinstance(spec, DissatisfactionCondition):
            return self.dissatisfaction(spec)
        if isinstance(spec, JudgementCondition):
            return self.judged(spec.name, self.condition(spec.cues))
        if isinstance(spec, SilenceCondition):
            # homophones: ASR writes 请稍登 for 请稍等, and the hold was still announced
            return Silence(spec.min_ms, self.words(spec.announced_by, "agent", word_boundary=True, homophones=True))
        if isinstance(spec, MetricCondition):
            return Metric(spec.metric, spec.op, spec.value, spec.value2 if spec.value2 is not None else spec.value)
        if isinstance(spec, RepetitionCondition):
            insistence, questions, shared_run = None, [], 0
            if spec.reworded:
                language, aligned = language_of(self.cjk), not self.cjk
                insistence = self.words(INSISTENCE[language], spec.role, aligned)
                questions = [self.words(kind, spec.role, aligned) for kind in SAME_QUESTION[language]]
                shared_run = SHARED_RUN[language]
            return Repetition(
                spec.role,
                spec.min_repeats,
                spec.similarity,
                spec.min_length,
                spec.measure,
                insistence,
                questions,
                shared_run,
                SHARED_RUN_SKIP,
            )
        if isinstance(spec, SentimentCondition):
            finder = self.words(lexicon(self.cjk, spec.polarity), spec.role, word_boundary=True)
            return Sentiment(finder, spec.polarity, spec.min_hits)
        raise TypeError(f"unknown condition {type(spec).__name__}")

    def words(
        self,
        words: Iterable[str],
        role: str,
        word_boundary: bool,
        negations: tuple[str, ...] = (),
        negation_window: int = 0,
        homophones: bool = False,
    ) -> Phrases:
        """A built-in word list said anywhere by `role`, each word on its own."""
        labels = list(words)
        return Phrases(
            groups=[(self.pid(w, homophones),) for w in labels],
            labels=labels,
            mode="any",
            count=1,
            word_boundary=word_boundary,
            exclude_after=(),
            negations=negations,
            negation_window=negation_window,
            scope=self.scope(role, Scope()),
        )

    def dissatisfaction(self, spec: DissatisfactionCondition) -> Compiled:
        language = language_of(self.cjk)
        aligned = not self.cjk  # Chinese cues are often inside longer words (投诉电话, 又是)
        negations = self.texts(list(DISSATISFACTION_NEGATIONS[language]))
        signals = []
        for signal, weight in DISSATISFACTION_WEIGHTS.items():
            words = dict.fromkeys([*DISSATISFACTION[(language, signal)], *spec.phrases.get(signal, [])])
            finder = self.words(words, spec.role, aligned, negations, negation_window=2 if self.cjk else 3)
            signals.append((weight, finder))
        exclamations = Regex(compile_pattern("(?m)!"), "!", EXCLAMATIONS, self.scope(spec.role, Scope()))
        # The same compiled condition as a card's own repetition item with these settings: evaluated once a call.
        repeated = RepetitionCondition(
            type="repetition",
            role=spec.role,
            similarity=0.45,
            min_length=6 if self.cjk else 4,
            measure="containment",
            reworded=True,
        )
        repeats = self.condition(repeated)
        cues = Dissatisfaction(signals, exclamations, repeats, spec.min_score, spec.role)
        return self.judged("customer_dissatisfied", cues) if spec.learned else cues

    @staticmethod
    def judged(name: str, cues: Compiled) -> Compiled:
        """The cues weighed by the learned judgement `name`; the cues alone where its encoder is not installed."""
        learned = judgement.load(name)
        return Judged(learned, cues) if learned is not None else cues


class CompiledScorecard:
    """A scorecard ready to evaluate transcripts; thread-safe and reusable."""

    def __init__(self, card: Scorecard) -> None:
        self.card = card
        self.cjk = is_cjk_language(card.language)
        compiler = _Compiler(self.cjk)
        self.items = [
            CompiledItem(
                id=item.id,
                section=section.id,
                name=item.name,
                kind=item.kind,
                points=item.points,
                severity=item.severity,
                condition=compiler.condition(item.condition),
                not_applicable_when=(
                    compiler.condition(item.not_applicable_when) if item.not_applicable_when is not None else None
                ),
            )
            for section, item in card.all_items()
        ]
        phrases = [phrase for phrase, _ in compiler.phrases]
        homophones = [homophones for _, homophones in compiler.phrases]
        if self.cjk:
            segmenter = Segmenter(dict.fromkeys(phrases))
            shapes = [segmenter.shape(p) for p in phrases]
            self.index = PhraseIndex(phrases, shapes, segmenter, homophones)
        else:
            self.index = PhraseIndex(phrases, [word_shape(p) for p in phrases], None)

    def context(self, doc: TranscriptDocument) -> Context:
        call = Call(doc)
        texts = [normalise(text, self.cjk) for text in call.texts]
        return Context(call, texts, self.index.scan(texts), self.cjk)

    def evaluate(self, doc: TranscriptDocument) -> Evaluation:
        ctx = self.context(doc)
        scored: list[dict[str, Any]] = []  # ScoredItem fields: the evaluation is validated once, as a whole
        earned = maximum = 0.0
        auto_failed = False
        outcome_of, evidence_of = ctx.outcome, ctx.evidence
        for item in self.items:
            if item.not_applicable_when is not None:
                skipped = outcome_of(item.not_applicable_when)
                if skipped.met:
                    evidence = evidence_of(not_applicable(item.not_applicable_when, skipped.evidence))
                    scored.append(item.scored(ItemResult.not_applicable, 0.0, evidence))
                    continue
            outcome = outcome_of(item.condition)
            passed = outcome.met != item.found_is_bad
            evidence = evidence_of(outcome.evidence)
            if not passed and not evidence:  # a failure always says what was found, or what was looked for
                evidence = evidence_of(
                    [
                        Note(f"found: {item.condition.describe()}")
                        if item.found_is_bad
                        else absent(item.condition.describe())
                    ]
                )
            points = item.points if passed and item.kind != "auto_fail" else 0.0
            if item.counted:
                maximum += item.points
            if item.kind == "auto_fail" and not passed:
                auto_failed = True
            earned += points
            scored.append(item.scored(ItemResult.passed if passed else ItemResult.failed, points, evidence))
        if auto_failed:
            earned = 0.0
        percentage = 0.0 if auto_failed else (min(100.0, earned / maximum * 100) if maximum else 100.0)
        return Evaluation.model_validate(
            {
                "scorecard_id": self.card.id,
                "scorecard_version": self.card.version,
                "items": scored,
                "total_points": earned,
                "max_points": maximum,
                "percentage": percentage,
                "passed": not auto_failed and percentage >= self.card.pass_threshold,
                "auto_failed": auto_failed,
            }
        )


def not_applicable(precondition: Compiled, findings: Sequence[Finding]) -> list[Finding]:
    """Why an item was skipped: its precondition, with what was measured ("agent_turns lt 3: 2 agent turns"),
    and whatever it found in the call."""
    measured = [f.text for f in findings if isinstance(f, Note) and f.turn_id is None and not is_absence(f)]
    reason = Note(f"not applicable: {precondition.describe()}" + (f": {'; '.join(measured)}" if measured else ""))
    return [reason, *(f for f in findings if not (isinstance(f, Note) and f.turn_id is None))]


_CACHE: OrderedDict[str, CompiledScorecard] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def compile_scorecard(card: Scorecard) -> CompiledScorecard:
    """Compile (or reuse the compilation of an identical card). ValueError for uncompilable patterns."""
    key = card.model_dump_json()
    with _CACHE_LOCK:
        compiled = _CACHE.get(key)
        if compiled is not None:
            _CACHE.move_to_end(key)
            return compiled
    compiled = CompiledScorecard(card)
    with _CACHE_LOCK:
        _CACHE[key] = compiled
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return compiled


def evaluate(card: Scorecard, doc: TranscriptDocument) -> Evaluation:
    return compile_scorecard(card).evaluate(doc)
