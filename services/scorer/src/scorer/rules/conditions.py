"""Compiled conditions and the per-transcript context they read.

Every condition answers `evaluate(ctx) -> Outcome(met, evidence)`. Evidence explains a *met*
condition (the hits, the metric, the repeated turns); `not`/`none` that are met say what was not
found. Metric conditions always carry their measurement, met or not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from callqa.events import Evidence
from callqa.transcripts import TranscriptDocument, Turn
from scorer.rules.matching import MIN_WORDS_ACROSS_BREAK, SEGMENTER, PhraseShape
from scorer.rules.metrics import Measured, measure, spoken
from scorer.rules.normalise import MatchText, NormalisedText

Hit = tuple[int, int, int]  # turn index, start, end (match view)
PhraseHit = tuple[int, int, int]  # phrase id, start, end (within one turn)
MAX_EVIDENCE = 10  # findings quoted per condition (all are counted): 40 × 您 prove no more than 10 do


@dataclass(frozen=True, slots=True)
class Quote:
    """A span of a turn to quote; it becomes an `Evidence` only if the item reports it."""

    turn: int
    start: int
    end: int
    view: Literal["match", "full", "turn"] = "match"


Finding = Quote | Evidence


@dataclass(slots=True)
class Outcome:
    met: bool
    evidence: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class TurnView:
    index: int
    turn: Turn
    norm: NormalisedText
    clause_bounds: dict[int, frozenset[int]] = field(default_factory=dict)  # clause start -> jieba bounds


@dataclass(frozen=True, slots=True)
class CompiledAnchor:
    pids: tuple[int, ...]
    role: str
    within_turns: int | None


@dataclass(frozen=True, slots=True)
class CompiledScope:
    """Hashable, so the turns it selects are computed once per transcript however many rules share it."""

    role: str
    first_turns: int | None = None
    last_turns: int | None = None
    first_seconds: float | None = None
    last_seconds: float | None = None
    from_speech: bool = False
    before_anchor: CompiledAnchor | None = None
    after_anchor: CompiledAnchor | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    indices: tuple[int, ...]
    members: frozenset[int]


class Context:
    """One transcript under evaluation: normalised turns, raw phrase hits, lazily computed extras."""

    def __init__(
        self,
        doc: TranscriptDocument,
        turns: list[TurnView],
        hits: dict[int, list[Hit]],
        shapes: Sequence[PhraseShape],
        cjk: bool,
    ) -> None:
        self.doc = doc
        self.turns = turns
        self.hits = hits
        self.shapes = shapes
        self.cjk = cjk
        self.role_turns: dict[str, list[int]] = {
            "any": [v.index for v in turns],
            "agent": [v.index for v in turns if v.turn.role == "agent"],
            "customer": [v.index for v in turns if v.turn.role == "customer"],
        }
        self._selections: dict[CompiledScope, Selection] = {}
        self._metrics: dict[str, Measured] = {}
        self._bigrams: dict[int, frozenset[Any]] = {}
        self._clauses: dict[str, frozenset[int]] = {}  # the same sentence often recurs within a call
        self._joined: dict[tuple[int, ...], str] = {}
        talk = spoken(doc.turns)
        self.call_end_ms = doc.duration_ms or max((t.end_ms for t in doc.turns), default=0)
        self.speech_start_ms = min((t.begin_ms for t in talk), default=0)
        self.speech_end_ms = max((t.end_ms for t in talk), default=self.call_end_ms)

    # --- evidence ------------------------------------------------------------------------

    def evidence(self, findings: list[Finding]) -> list[Evidence]:
        out: list[Evidence] = []
        for finding in findings:
            if isinstance(finding, Evidence):
                out.append(finding)
                continue
            view = self.turns[finding.turn]
            turn = view.turn
            if finding.view == "match":
                text = view.norm.quote_match(finding.start, finding.end)
            elif finding.view == "full":
                text = view.norm.quote_full(finding.start, finding.end)
            else:
                text = turn.text
            out.append(Evidence.model_construct(turn_id=turn.id, begin_ms=turn.begin_ms, end_ms=turn.end_ms, text=text))
        return out

    # --- hit checks ----------------------------------------------------------------------

    def is_hit(self, pid: int, turn_index: int, start: int, end: int, word_boundary: bool) -> bool:
        view = self.turns[turn_index]
        match = view.norm.match
        if end - start > 1 and match.breaks and match.break_between(start, end):
            shape = self.shapes[pid]
            if shape.words < MIN_WORDS_ACROSS_BREAK:
                return False
            inside = match.breaks[bisect_right(match.breaks, start) : bisect_left(match.breaks, end)]
            if any(b - start not in shape.inner for b in inside):
                return False
        return not word_boundary or (self._boundary(view, start) and self._boundary(view, end))

    def _boundary(self, view: TurnView, position: int) -> bool:
        text = view.norm.match.text
        if position <= 0 or position >= len(text):
            return True
        if not self.cjk:
            return text[position - 1] == " " or text[position] == " "
        breaks = view.norm.match.breaks
        k = bisect_right(breaks, position)
        if k and breaks[k - 1] == position:
            return True
        clause_start = breaks[k - 1] if k else 0
        bounds = view.clause_bounds.get(clause_start)
        if bounds is None:
            clause = text[clause_start : breaks[k] if k < len(breaks) else len(text)]
            bounds = self._clauses.get(clause)
            if bounds is None:
                bounds = SEGMENTER.boundaries(clause)
                self._clauses[clause] = bounds
            view.clause_bounds[clause_start] = bounds
        return position - clause_start in bounds

    def followed_by(self, turn_index: int, end: int, continuations: Sequence[str]) -> bool:
        """Does one of `continuations` follow the hit directly (same clause)?"""
        match = self.turns[turn_index].norm.match
        text = match.text
        position = end
        if not self.cjk:
            if end >= len(text) or text[end] != " ":
                return False
            position = end + 1
        if end in match.breaks:
            return False
        for continuation in continuations:
            if text.startswith(continuation, position):
                after = position + len(continuation)
                if self.cjk or after == len(text) or text[after] == " ":
                    return True
        return False

    def negated(self, turn_index: int, start: int, end: int, negations: Sequence[str], window: int) -> bool:
        """Is the hit preceded, within `window` characters (CJK) / words, by a negation in the same clause?
        A negation may overlap the hit (不一定 for 一定, 不能保证 for 保证)."""
        match = self.turns[turn_index].norm.match
        text = match.text
        for negation in negations:
            found = text.find(negation, 0, end)
            while found != -1 and found < start:
                neg_end = found + len(negation)
                if neg_end <= end and self._negates(match, found, neg_end, start, window):
                    return True
                found = text.find(negation, found + 1, end)
        return False

    def _negates(self, match: MatchText, neg_start: int, neg_end: int, start: int, window: int) -> bool:
        text = match.text
        if not self.cjk and not (
            (neg_start == 0 or text[neg_start - 1] == " ") and (neg_end == len(text) or text[neg_end] == " ")
        ):
            return False
        if neg_end > start:
            return True
        if match.break_at_or_between(neg_end, start):
            return False
        gap = start - neg_end if self.cjk else len(text[neg_end:start].split())
        return gap <= window

    def gap(self, turn_index: int, left_end: int, right_start: int) -> int:
        """Characters (CJK) or words between two spans of a turn; negative when they overlap."""
        if right_start <= left_end:
            return right_start - left_end
        if self.cjk:
            return right_start - left_end
        return len(self.turns[turn_index].norm.match.text[left_end:right_start].split())

    # --- turn selection ------------------------------------------------------------------

    def select(self, scope: CompiledScope) -> Selection:
        chosen = self._selections.get(scope)
        if chosen is None:
            chosen = self._select(scope)
            self._selections[scope] = chosen
        return chosen

    def _select(self, scope: CompiledScope) -> Selection:
        pool = self.role_turns[scope.role]
        keep = set(pool)
        if scope.first_turns is not None:
            keep &= set(pool[: scope.first_turns])
        if scope.last_turns is not None:
            keep &= set(pool[-scope.last_turns :])
        if scope.first_seconds is not None or scope.last_seconds is not None:
            start_ms = self.speech_start_ms if scope.from_speech else 0
            end_ms = self.speech_end_ms if scope.from_speech else self.call_end_ms
            if scope.first_seconds is not None:
                limit = scope.first_seconds * 1000
                keep = {i for i in keep if self.turns[i].turn.begin_ms - start_ms <= limit}
            if scope.last_seconds is not None:
                limit = scope.last_seconds * 1000
                keep = {i for i in keep if end_ms - self.turns[i].turn.end_ms <= limit}
        if scope.after_anchor is not None:
            anchors = self._anchor_turns(scope.after_anchor)
            within = scope.after_anchor.within_turns
            keep = {i for i in keep if any(a < i and (within is None or i - a <= within) for a in anchors)}
        if scope.before_anchor is not None:
            anchors = self._anchor_turns(scope.before_anchor)
            within = scope.before_anchor.within_turns
            keep = {i for i in keep if any(a > i and (within is None or a - i <= within) for a in anchors)}
        return Selection(tuple(sorted(keep)), frozenset(keep))

    def joined_full(self, selection: Selection) -> str:
        joined = self._joined.get(selection.indices)
        if joined is None:
            joined = "\n".join(self.turns[i].norm.full.text for i in selection.indices)
            self._joined[selection.indices] = joined
        return joined

    def _anchor_turns(self, anchor: CompiledAnchor) -> list[int]:
        members = set(self.role_turns[anchor.role])
        found = {
            turn
            for pid in anchor.pids
            for turn, start, end in self.hits.get(pid, ())
            if turn in members and self.is_hit(pid, turn, start, end, True)
        }
        return sorted(found)

    # --- metrics and turn similarity -----------------------------------------------------

    def metric(self, name: str) -> Measured:
        measured = self._metrics.get(name)
        if measured is None:
            measured = measure(name, self.doc)
            self._metrics[name] = measured
        return measured

    def units(self, turn_index: int) -> int:
        text = self.turns[turn_index].norm.match.text
        return len(text) if self.cjk else len(text.split())

    def bigrams(self, turn_index: int) -> frozenset[Any]:
        grams = self._bigrams.get(turn_index)
        if grams is None:
            text = self.turns[turn_index].norm.match.text
            if self.cjk:
                grams = frozenset([text[i : i + 2] for i in range(len(text) - 1)])
            else:
                grams = frozenset(pairwise(text.split()))
            self._bigrams[turn_index] = grams
        return grams


def non_overlapping(hits: list[Hit]) -> list[Hit]:
    """Leftmost-longest hits that do not overlap (感谢 and 感谢您 at one place count once)."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h[0], h[1], -h[2])):
        if kept and kept[-1][0] == hit[0] and hit[1] < kept[-1][2]:
            continue
        kept.append(hit)
    return kept


def _merged(groups: Iterable[list[Finding]]) -> list[Finding]:
    """Findings of several conditions, each once (alternative scopes may find the same hit)."""
    seen: set[Quote | tuple[str | None, int | None, str | None]] = set()
    merged: list[Finding] = []
    for group in groups:
        keys = [f if isinstance(f, Quote) else (f.turn_id, f.begin_ms, f.text) for f in group]
        merged += [f for f, key in zip(group, keys, strict=True) if key not in seen]
        seen.update(keys)
    return merged


def _listing(phrases: Sequence[str], limit: int = 6) -> str:
    shown = " / ".join(phrases[:limit])
    return shown + (" / …" if len(phrases) > limit else "")


# --- conditions ------------------------------------------------------------------------------


class Compiled(ABC):
    @abstractmethod
    def evaluate(self, ctx: Context) -> Outcome: ...

    @abstractmethod
    def describe(self) -> str: ...


class AllOf(Compiled):
    def __init__(self, children: list[Compiled]) -> None:
        self.children = children

    def evaluate(self, ctx: Context) -> Outcome:
        evidence: list[list[Finding]] = []
        for child in self.children:
            outcome = child.evaluate(ctx)
            if not outcome.met:
                return Outcome(False)
            evidence.append(outcome.evidence)
        return Outcome(True, _merged(evidence))

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.children)


class AnyOf(Compiled):
    def __init__(self, children: list[Compiled]) -> None:
        self.children = children

    def evaluate(self, ctx: Context) -> Outcome:
        # No short cut: a deduction shows every finding (不知道 and 喂 in one call), not just the first.
        met = [outcome for outcome in (child.evaluate(ctx) for child in self.children) if outcome.met]
        return Outcome(bool(met), _merged(o.evidence for o in met))

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.children)


class Not(Compiled):
    def __init__(self, child: Compiled) -> None:
        self.child = child

    def evaluate(self, ctx: Context) -> Outcome:
        outcome = self.child.evaluate(ctx)
        if outcome.met:
            return Outcome(False, outcome.evidence)
        return Outcome(True, [Evidence(text=f"not found: {self.child.describe()}")])

    def describe(self) -> str:
        return f"not ({self.child.describe()})"


@dataclass(slots=True)
class Phrases(Compiled):
    groups: list[tuple[int, ...]]  # one per phrase: the phrase and its synonyms
    labels: list[str]
    mode: Literal["any", "all", "none", "at_least"]
    count: int
    word_boundary: bool
    exclude_after: tuple[str, ...]
    negations: tuple[str, ...]
    negation_window: int
    scope: CompiledScope

    def found(self, ctx: Context) -> list[list[Hit]]:
        members = ctx.select(self.scope).members
        per_group: list[list[Hit]] = []
        for group in self.groups:
            hits: list[Hit] = []
            for pid in group:
                for hit in ctx.hits.get(pid, ()):
                    turn, start, end = hit
                    if (
                        turn in members
                        and ctx.is_hit(pid, turn, start, end, self.word_boundary)
                        and not (self.exclude_after and ctx.followed_by(turn, end, self.exclude_after))
                        and not (self.negations and ctx.negated(turn, start, end, self.negations, self.negation_window))
                    ):
                        hits.append(hit)
            per_group.append(hits)
        return per_group

    def evaluate(self, ctx: Context) -> Outcome:
        per_group = self.found(ctx)
        hits = non_overlapping([hit for group in per_group for hit in group])
        if self.mode == "any":
            met = bool(hits)
        elif self.mode == "all":
            met = all(per_group)
        elif self.mode == "none":
            met = not hits
            if met:
                return Outcome(True, [Evidence(text=f"not found: {self.describe()}")])
        else:
            met = len(hits) >= self.count
        return Outcome(met, [Quote(*hit) for hit in hits[: max(self.count, MAX_EVIDENCE)]])

    def describe(self) -> str:
        quantity = {"any": "", "all": "all of ", "none": "none of ", "at_least": f"{self.count}× "}[self.mode]
        return f"{self.scope.role}: {quantity}{_listing(self.labels)}"


@dataclass(slots=True)
class Regex(Compiled):
    pattern: Any  # re2, compiled in multi-line mode: ^ and $ are turn starts and ends in either use
    source: str
    count: int
    scope: CompiledScope

    def evaluate(self, ctx: Context) -> Outcome:
        selection = ctx.select(self.scope)
        if not selection.indices:
            return Outcome(False)
        # One search over the scoped turns joined by newlines first: a match inside one turn is a
        # match there too, so "no match at all" (the usual case) costs one call instead of one per turn.
        anchored = "\\A" in self.source or "\\z" in self.source
        if not anchored and self.pattern.search(ctx.joined_full(selection)) is None:
            return Outcome(False)
        evidence: list[Finding] = []
        found = 0
        limit = max(self.count, MAX_EVIDENCE)
        for index in selection.indices:
            for match in self.pattern.finditer(ctx.turns[index].norm.full.text):
                found += 1
                if len(evidence) < limit:
                    # RE2 has no lookaround: a first capturing group marks the part worth quoting.
                    start, end = match.span(1) if self.pattern.groups and match.start(1) >= 0 else match.span()
                    evidence.append(Quote(index, start, end, "full"))
        return Outcome(found >= self.count, evidence)

    def describe(self) -> str:
        return f"{self.scope.role}: /{self.source}/"


@dataclass(slots=True)
class Proximity(Compiled):
    first: tuple[int, ...]
    second: tuple[int, ...]
    labels: tuple[list[str], list[str]]
    within: int
    ordered: bool
    word_boundary: bool
    negations: tuple[str, ...]
    negation_window: int
    scope: CompiledScope

    def _by_turn(self, ctx: Context, pids: tuple[int, ...], members: frozenset[int]) -> dict[int, list[PhraseHit]]:
        out: dict[int, list[PhraseHit]] = {}
        for pid in pids:
            for turn, start, end in ctx.hits.get(pid, ()):
                if turn in members:
                    out.setdefault(turn, []).append((pid, start, end))
        return out

    def evaluate(self, ctx: Context) -> Outcome:
        members = ctx.select(self.scope).members
        firsts = self._by_turn(ctx, self.first, members)
        if not firsts:
            return Outcome(False)
        seconds = self._by_turn(ctx, self.second, frozenset(firsts))
        evidence: list[Finding] = []
        for turn in sorted(seconds):
            lefts = [
                (s, e)
                for pid, s, e in firsts[turn]
                if ctx.is_hit(pid, turn, s, e, self.word_boundary)
                and not (self.negations and ctx.negated(turn, s, e, self.negations, self.negation_window))
            ]
            rights = [(s, e) for pid, s, e in seconds[turn] if ctx.is_hit(pid, turn, s, e, self.word_boundary)]
            for s1, e1 in sorted(set(lefts)):
                for s2, e2 in sorted(set(rights)):
                    if self.ordered and s2 < e1:
                        continue
                    gap = ctx.gap(turn, e1, s2) if s2 >= s1 else ctx.gap(turn, e2, s1)
                    if gap <= self.within:
                        evidence.append(Quote(turn, min(s1, s2), max(e1, e2)))
                        break
            if len(evidence) >= MAX_EVIDENCE:
                break
        return Outcome(bool(evidence), evidence)

    def describe(self) -> str:
        joiner = "then" if self.ordered else "near"
        return f"{self.scope.role}: ({_listing(self.labels[0])}) {joiner} ({_listing(self.labels[1])})"


_OPS = {
    "lt": lambda v, a, b: v < a,
    "le": lambda v, a, b: v <= a,
    "gt": lambda v, a, b: v > a,
    "ge": lambda v, a, b: v >= a,
    "eq": lambda v, a, b: v == a,
    "between": lambda v, a, b: a <= v <= b,
}


@dataclass(slots=True)
class Metric(Compiled):
    name: str
    op: str
    value: float
    value2: float

    def evaluate(self, ctx: Context) -> Outcome:
        measured = ctx.metric(self.name)
        if measured.value is None:
            return Outcome(False, list(measured.evidence))
        return Outcome(bool(_OPS[self.op](measured.value, self.value, self.value2)), list(measured.evidence))

    def describe(self) -> str:
        if self.op == "between":
            return f"{self.name} between {self.value:g} and {self.value2:g}"
        return f"{self.name} {self.op} {self.value:g}"


@dataclass(slots=True)
class Repetition(Compiled):
    role: str
    min_repeats: int
    similarity: float
    min_length: int

    def evaluate(self, ctx: Context) -> Outcome:
        turns = [i for i in ctx.role_turns[self.role] if ctx.units(i) >= self.min_length]
        if len(turns) < self.min_repeats:
            return Outcome(False)
        grams = sorted(((ctx.bigrams(i), i) for i in turns), key=lambda pair: len(pair[0]))
        sizes = [len(g) for g, _ in grams]
        for a, i in grams:
            if not a:
                continue
            similar = [i]
            # Jaccard <= |smaller| / |larger|: only turns of a comparable size can be similar enough.
            low = bisect_left(sizes, self.similarity * len(a))
            high = bisect_right(sizes, len(a) / self.similarity)
            for b, j in grams[low:high]:
                if j != i:
                    shared = len(a & b)
                    if shared / (len(a) + len(b) - shared) >= self.similarity:
                        similar.append(j)
            if len(similar) >= self.min_repeats:
                return Outcome(True, [Quote(j, 0, 0, "turn") for j in sorted(similar)])
        return Outcome(False)

    def describe(self) -> str:
        return f"{self.role} repeats the same request {self.min_repeats}×"


@dataclass(slots=True)
class Sentiment(Compiled):
    words: Phrases
    polarity: str
    min_hits: int

    def evaluate(self, ctx: Context) -> Outcome:
        hits = non_overlapping([hit for group in self.words.found(ctx) for hit in group])
        return Outcome(len(hits) >= self.min_hits, [Quote(*hit) for hit in hits[:MAX_EVIDENCE]])

    def describe(self) -> str:
        return f"{self.words.scope.role}: {self.min_hits}× {self.polarity} words"
