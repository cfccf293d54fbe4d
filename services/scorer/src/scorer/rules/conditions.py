"""Compiled conditions and the per-transcript context they read.

Every condition answers `evaluate(ctx) -> Outcome(met, evidence)`. Evidence explains a *met*
condition (the hits, the metric, the repeated turns); `not`/`none` that are met say what was not
found. Metric conditions always carry their measurement, met or not.
"""

from __future__ import annotations

import re
import sys
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, NamedTuple

from callqa.patterns import match_spans
from callqa.transcripts import Turn
from scorer.rules.judgement import Judgement
from scorer.rules.lexicon import REPEATS_WEIGHT
from scorer.rules.matching import ALIGNED, WHOLE, Hit, Hits, near, non_overlapping
from scorer.rules.metrics import Call, Measured, Note, measure, non_talk_note
from scorer.rules.normalise import TurnText
from scorer.rules.similarity import similar_turns

_NOT_HAN = re.compile(r"[^\u4e00-\u9fff]+")  # what ends a run of Chinese characters
# A quotation in a turn's full view: “…”, 「…」, ‘…’, "…", or '…' opening and closing outside a word (not "don't")
QUOTED = re.compile(r"“[^”]*”|「[^」]*」|‘[^’]*’|\"[^\"]*\"|(?<![\w'])'[^']+'(?![\w'])")
MAX_EVIDENCE = 5  # findings quoted per condition (all are counted): 40 × 您 prove no more than 5 do


class Quote(NamedTuple):
    """A span of a turn's full view to quote, or the whole turn; quoted only if reported."""

    turn: int
    start: int
    end: int
    view: Literal["full", "turn"]


# What a condition found: a phrase hit (a span of a turn's match view: a plain tuple, no object to build
# per hit), a Quote of another view, or a Note in words.
Finding = Hit | Quote | Note
EvidenceFields = dict[str, Any]  # keyword arguments of callqa.events.Evidence


@dataclass(slots=True)
class Outcome:
    met: bool
    evidence: Sequence[Finding] = ()


@dataclass(frozen=True, slots=True)
class CompiledAnchor:
    pids: tuple[int, ...]
    labels: tuple[str, ...]
    role: str
    within_turns: int | None


@dataclass(frozen=True, slots=True)
class CompiledScope:
    """Hashable, so that a compiled scorecard keeps one object per distinct scope."""

    role: str
    first_turns: int | None = None
    last_turns: int | None = None
    first_seconds: float | None = None
    last_seconds: float | None = None
    from_speech: bool = False
    before_anchor: CompiledAnchor | None = None
    after_anchor: CompiledAnchor | None = None

    def describe(self) -> str:
        """Where a rule looks, in words: "agent (first turn)", "any (within 15 s of the speech's start)"."""
        start = "speech's" if self.from_speech else "call's"
        parts = []
        if self.first_turns is not None:
            parts.append("first turn" if self.first_turns == 1 else f"first {self.first_turns} turns")
        if self.last_turns is not None:
            parts.append("last turn" if self.last_turns == 1 else f"last {self.last_turns} turns")
        if self.first_seconds is not None:
            parts.append(f"starting within {self.first_seconds:g} s of the {start} start")
        if self.last_seconds is not None:
            parts.append(f"ending within {self.last_seconds:g} s of the {start} end")
        for anchor, relation in ((self.after_anchor, "after"), (self.before_anchor, "before")):
            if anchor is not None:
                within = f" (within {anchor.within_turns} turns)" if anchor.within_turns else ""
                parts.append(f"{relation} {anchor.role} says {_listing(anchor.labels)}{within}")
        return self.role + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True, slots=True)
class Selection:
    indices: tuple[int, ...]
    mask: bytes  # 1 for each selected turn, by turn index


def turn_mask(turns: int, chosen: Iterable[int]) -> bytes:
    """A byte per turn, 1 for the chosen ones: which turns a rule looks at."""
    mask = bytearray(turns)
    for index in chosen:
        mask[index] = 1
    return bytes(mask)


class Context:
    """One transcript under evaluation: its turns' normalised views, raw phrase hits, lazily computed extras.

    Offsets are those of a turn's views; a turn's edges bound every check.
    """

    def __init__(self, call: Call, texts: list[TurnText], hits: Hits, cjk: bool) -> None:
        self.call = call
        self.turns: list[Turn] = call.turns
        self.texts = texts
        self.hits = hits
        self.cjk = cjk
        self.role_turns: dict[str, list[int]] = {"any": list(range(len(self.turns))), **self.call.roles}
        self._selections: dict[int, Selection] = {}
        self._outcomes: dict[int, Outcome] = {}
        self._metrics: dict[str, Measured] = {}
        self._lines: tuple[str, list[int]] | None = None

    def outcome(self, condition: Compiled) -> Outcome:
        """The condition's outcome on this transcript, evaluated once however many items share it (the
        same precondition on every item, say)."""
        known = self._outcomes.get(id(condition))
        if known is None:
            known = self._outcomes[id(condition)] = condition.evaluate(self)
        return known

    # --- evidence ------------------------------------------------------------------------

    def evidence(self, findings: Sequence[Finding]) -> list[EvidenceFields]:
        """The findings as the fields of `callqa.events.Evidence` (validated with the whole evaluation)."""
        ids, begins, ends = self.call.ids, self.call.begins, self.call.ends
        out: list[EvidenceFields] = []
        for finding in findings:
            if isinstance(finding, Note):
                turn_id, begin, end, text = finding.turn_id, finding.begin_ms, finding.end_ms, finding.text
            elif isinstance(finding, Quote):
                turn = finding.turn
                text = (
                    self.texts[turn].quote_full(finding.start, finding.end)
                    if finding.view == "full"
                    else self.call.texts[turn]
                )
                turn_id, begin, end = ids[turn], begins[turn], ends[turn]
            else:  # a hit
                turn, start, stop = finding
                text = self.texts[turn].quote_match(start, stop)
                turn_id, begin, end = ids[turn], begins[turn], ends[turn]
            out.append({"turn_id": turn_id, "begin_ms": begin, "end_ms": end, "text": text})
        return out

    # --- hit checks ----------------------------------------------------------------------

    @staticmethod
    def required(word_boundary: bool) -> int:
        """The flags a raw hit needs to count (see `matching`)."""
        return WHOLE | ALIGNED if word_boundary else WHOLE

    def followed_by(self, turn: int, end: int, continuations: Sequence[str]) -> bool:
        """Does one of `continuations` follow the hit directly (same clause)?"""
        view = self.texts[turn]
        text = view.match
        position = end
        if not self.cjk:
            if end >= len(text) or text[end] != " ":
                return False
            position = end + 1
        if _at(view.breaks, end):
            return False
        for continuation in continuations:
            after = position + len(continuation)
            if (
                after <= len(text)
                and text.startswith(continuation, position)
                and (self.cjk or after == len(text) or text[after] == " ")
            ):
                return True
        return False

    def quoted(self, turn: int, start: int) -> bool:
        """Does the hit start inside quotation marks (the speaker quoting someone: 回您一句“这个我不知道”)?"""
        view = self.texts[turn]
        at = view.full_offset(start)
        return any(span.start() < at < span.end() for span in QUOTED.finditer(view.full))

    def asked_alone(self, turn: int, start: int, end: int) -> bool:
        """Is the hit a clause of its own, asked as a question ("Sorry?", "不好意思？": a request to repeat)?"""
        view = self.texts[turn]
        k = bisect_right(view.breaks, start)
        clause_start = view.breaks[k - 1] + (0 if self.cjk else 1) if k else 0  # words: a break is a space
        if start != clause_start or not (end == len(view.match) or _at(view.breaks, end)):
            return False
        return view.full[view.full_offset(end - 1) + 1 :].lstrip()[:1] in ("?", "？")

    def next_clause_holds(self, turn: int, end: int, phrases: Sequence[str]) -> bool:
        """Does the hit end its clause, and the next clause hold one of the phrases ("Sorry? I didn't catch
        that": a request to repeat, not an apology)?"""
        view = self.texts[turn]
        if not _at(view.breaks, end):
            return False
        k = bisect_right(view.breaks, end)
        stop = view.breaks[k] if k < len(view.breaks) else len(view.match)
        return self.holds(turn, phrases, view.match[end:stop].strip())

    def holds(self, turn: int, phrases: Sequence[str], text: str | None = None) -> bool:
        """Does the turn (or `text`, a part of it) hold one of the phrases anywhere (whole words, unless CJK)?"""
        text = self.texts[turn].match if text is None else text
        if self.cjk:
            return any(phrase in text for phrase in phrases)
        padded = f" {text} "
        return any(f" {phrase} " in padded for phrase in phrases)

    def negated(self, turn: int, start: int, end: int, negations: Sequence[str], window: int) -> bool:
        """Is the hit preceded, within `window` characters (CJK) / words, by a negation in the same clause?
        A negation may overlap the hit (不一定 for 一定, 不能保证 for 保证)."""
        text = self.texts[turn].match
        for negation in negations:
            found = text.find(negation, 0, end)
            while found != -1 and found < start:
                neg_end = found + len(negation)
                if neg_end <= end and self._negates(turn, found, neg_end, start, window):
                    return True
                found = text.find(negation, found + 1, end)
        return False

    def _negates(self, turn: int, neg_start: int, neg_end: int, start: int, window: int) -> bool:
        view = self.texts[turn]
        text = view.match
        if not self.cjk and not (
            (neg_start == 0 or text[neg_start - 1] == " ") and (neg_end == len(text) or text[neg_end] == " ")
        ):
            return False
        breaks = view.breaks
        inside = bisect_right(breaks, neg_start)
        if inside < len(breaks) and breaks[inside] < neg_end:  # "…for you. Could you…" holds no "you could"
            return False
        if neg_end > start:
            return True
        k = bisect_left(breaks, neg_end)
        if k < len(breaks) and breaks[k] <= start:  # a clause break between negation and hit
            return False
        gap = start - neg_end if self.cjk else len(text[neg_end:start].split())
        return gap <= window

    # --- turn selection ------------------------------------------------------------------

    def select(self, scope: CompiledScope) -> Selection:
        """The turns a scope selects, worked out once per scope object (a compiled scorecard has one
        object per distinct scope; identity is cheaper to look up than a scope's value)."""
        chosen = self._selections.get(id(scope))
        if chosen is None:
            chosen = self._selections[id(scope)] = self._select(scope)
        return chosen

    def _select(self, scope: CompiledScope) -> Selection:
        pool = self.role_turns[scope.role]
        keep = pool
        if scope.first_turns is not None:
            keep = keep[: scope.first_turns]
        if scope.last_turns is not None:
            last = set(pool[-scope.last_turns :])
            keep = [i for i in keep if i in last]
        if scope.first_seconds is not None or scope.last_seconds is not None:
            call = self.call
            start_ms = call.speech_start_ms if scope.from_speech else 0
            end_ms = call.speech_end_ms if scope.from_speech else call.end_ms
            if scope.first_seconds is not None:
                limit = scope.first_seconds * 1000
                keep = [i for i in keep if call.begins[i] - start_ms <= limit]
            if scope.last_seconds is not None:
                limit = scope.last_seconds * 1000
                keep = [i for i in keep if end_ms - call.ends[i] <= limit]
        if scope.after_anchor is not None:
            anchors = self._anchor_turns(scope.after_anchor)
            within = scope.after_anchor.within_turns
            keep = [i for i in keep if any(a < i and (within is None or i - a <= within) for a in anchors)]
        if scope.before_anchor is not None:
            anchors = self._anchor_turns(scope.before_anchor)
            within = scope.before_anchor.within_turns
            keep = [i for i in keep if any(a > i and (within is None or a - i <= within) for a in anchors)]
        return Selection(tuple(keep), turn_mask(len(self.turns), keep))

    def lines(self) -> tuple[str, list[int]]:
        """The turns' full views joined by newlines (a turn holds none), and where each line starts."""
        if self._lines is None:
            starts, position = [], 0
            for text in self.texts:
                starts.append(position)
                position += len(text.full) + 1
            self._lines = "\n".join([text.full for text in self.texts]), starts
        return self._lines

    def _anchor_turns(self, anchor: CompiledAnchor) -> list[int]:
        mask = turn_mask(len(self.turns), self.role_turns[anchor.role])
        return sorted({turn for turn, _, _ in self.hits.select(anchor.pids, mask, WHOLE | ALIGNED)})

    # --- metrics ---------------------------------------------------------------------------

    def metric(self, name: str) -> Measured:
        measured = self._metrics.get(name)
        if measured is None:
            measured = measure(name, self.call)
            self._metrics[name] = measured
        return measured


NOT_FOUND = "not found: "


def absent(what: str) -> Note:
    """The finding of a condition met because something is not there (`not`, `none`)."""
    return Note(NOT_FOUND + what)


def is_absence(finding: Finding) -> bool:
    return isinstance(finding, Note) and finding.text.startswith(NOT_FOUND)


def _at(breaks: list[int], position: int) -> bool:
    """Is there a clause break at `position`?"""
    k = bisect_left(breaks, position)
    return k < len(breaks) and breaks[k] == position


def _merged(groups: Iterable[Sequence[Finding]]) -> list[Finding]:
    """Findings of several conditions, each once (alternative scopes may find the same hit)."""
    seen: set[Hit | Quote | tuple[str | None, int | None, str | None]] = set()
    merged: list[Finding] = []
    for group in groups:
        keys = [(f.turn_id, f.begin_ms, f.text) if isinstance(f, Note) else f for f in group]
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
        evidence: list[Sequence[Finding]] = []
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
        met = [outcome for outcome in [child.evaluate(ctx) for child in self.children] if outcome.met]
        if len(met) == 1:  # the usual case: nothing to merge
            return met[0]
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
        return Outcome(True, [absent(self.child.describe()), *outcome.evidence])  # and what it measured

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
    exclude_in_turn: tuple[str, ...] = ()
    exclude_next_clause: tuple[str, ...] = ()
    exclude_quoted: bool = False

    def _excluded(self, ctx: Context, turn: int, start: int, end: int) -> bool:
        if self.exclude_quoted and ctx.quoted(turn, start):
            return True
        if self.exclude_after and ctx.followed_by(turn, end, self.exclude_after):
            return True
        if self.exclude_in_turn and ctx.holds(turn, self.exclude_in_turn):
            return True
        if self.exclude_next_clause and (
            ctx.asked_alone(turn, start, end) or ctx.next_clause_holds(turn, end, self.exclude_next_clause)
        ):
            return True
        return bool(self.negations) and ctx.negated(turn, start, end, self.negations, self.negation_window)

    def found(self, ctx: Context) -> list[list[Hit]]:
        """Each phrase's hits (with its synonyms') in the scoped turns, those discounted left out."""
        mask, required = ctx.select(self.scope).mask, ctx.required(self.word_boundary)
        per_group = [ctx.hits.select(group, mask, required) for group in self.groups]
        discounts = (self.exclude_after, self.negations, self.exclude_in_turn, self.exclude_next_clause)
        if self.exclude_quoted or any(discounts):
            per_group = [[hit for hit in hits if not self._excluded(ctx, *hit)] for hits in per_group]
        return per_group

    def tally(self, ctx: Context, limit: int) -> tuple[int, int, list[Hit]]:
        """How many phrases (with their synonyms) were found, how many findings there are leftmost-longest
        (感谢 and 感谢您 at one place are one), and the first `limit` of those."""
        per_group = self.found(ctx)
        hits = non_overlapping(per_group)
        return sum(1 for hits in per_group if hits), len(hits), hits[:limit]

    def evaluate(self, ctx: Context) -> Outcome:
        found, total, first = self.tally(ctx, max(self.count, MAX_EVIDENCE))
        if self.mode == "any":
            met = total > 0
        elif self.mode == "all":
            met = found == len(self.groups)
        elif self.mode == "none":
            met = total == 0
            if met:
                return Outcome(True, [absent(f"{self.scope.describe()}: {_listing(self.labels)}")])
        else:
            met = total >= self.count
        return Outcome(met, first)

    def describe(self) -> str:
        quantity = {"any": "", "all": "all of ", "none": "none of ", "at_least": f"{self.count}× "}[self.mode]
        return f"{self.scope.describe()}: {quantity}{_listing(self.labels)}"


@dataclass(slots=True)
class Regex(Compiled):
    pattern: Any  # re2, compiled in multi-line mode: ^ and $ are a turn's start and end
    source: str
    count: int
    scope: CompiledScope
    negations: tuple[str, ...] = ()
    negation_window: int = 0
    anchored: bool = field(init=False)  # at the text's edges: only a turn's own search can tell

    def __post_init__(self) -> None:
        self.anchored = "\\A" in self.source or "\\z" in self.source

    def evaluate(self, ctx: Context) -> Outcome:
        evidence: list[Finding] = []
        found = 0
        limit = max(self.count, MAX_EVIDENCE)
        for index, spans in self._matches(ctx, ctx.select(self.scope)):
            found += len(spans)
            evidence += [Quote(index, start, end, "full") for start, end in spans[: max(0, limit - len(evidence))]]
        return Outcome(found >= self.count, evidence)

    def _matches(self, ctx: Context, selection: Selection) -> list[tuple[int, list[tuple[int, int]]]]:
        """Each scoped turn with matches of its own, and the spans to quote (offsets of its full view).

        One search over the whole call (the turns' full views, a line each: ^ and $ are a turn's edges) tells
        which turns to search alone: a turn that holds a match of its own also holds one of the call's search,
        or is run across by one. Patterns anchored at the text's edges (\\A, \\z) go turn by turn.
        """
        indices: Iterable[int] = selection.indices
        if not self.anchored and indices:
            text, starts = ctx.lines()
            touched: set[int] = set()
            for spans in match_spans(self.pattern, text):
                start, end = spans[0]
                touched.update(range(bisect_right(starts, start) - 1, bisect_right(starts, max(start, end - 1))))
            indices = [index for index in indices if index in touched]
        found = []
        for index in indices:
            spans = self._spans(ctx, index)
            if spans:
                found.append((index, spans))
        return found

    def _spans(self, ctx: Context, index: int) -> list[tuple[int, int]]:
        """Each match in a turn's full view that no negation precedes, as the span to quote: the first group if
        it took part (RE2 has no lookaround, so a group marks the part worth quoting), else the whole match."""
        view = ctx.texts[index]
        found = []
        for spans in match_spans(self.pattern, view.full):
            start, end = spans[0]
            if self.negations and ctx.negated(
                index, view.match_offset(start), view.match_offset(end), self.negations, self.negation_window
            ):
                continue
            found.append(spans[1] if len(spans) > 1 and spans[1][0] >= 0 else spans[0])
        return found

    def describe(self) -> str:
        return f"{self.scope.describe()}: /{self.source}/"


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
    second_negations: tuple[str, ...] = ()  # before a second term: "new" + address
    second_negation_window: int = 0
    distinct: bool = False  # a first term inside a second is no pair (see `near`)

    def evaluate(self, ctx: Context) -> Outcome:
        required = ctx.required(self.word_boundary)
        words = None if ctx.cjk else [text.match for text in ctx.texts]  # gaps in words, not characters
        mask = ctx.select(self.scope).mask
        firsts = ctx.hits.select(self.first, mask, required)
        if self.negations:
            firsts = [hit for hit in firsts if not ctx.negated(*hit, self.negations, self.negation_window)]
        if not firsts:
            return Outcome(False)
        seconds = ctx.hits.select(self.second, mask, required)
        if self.second_negations:
            window = self.second_negation_window
            seconds = [hit for hit in seconds if not ctx.negated(*hit, self.second_negations, window)]
        found = near(firsts, seconds, self.within, self.ordered, words, MAX_EVIDENCE, self.distinct)
        return Outcome(bool(found), found)

    def describe(self) -> str:
        joiner = "then" if self.ordered else "near"
        return f"{self.scope.describe()}: ({_listing(self.labels[0])}) {joiner} ({_listing(self.labels[1])})"


@dataclass(slots=True)
class Silence(Compiled):
    min_ms: int
    announcement: Phrases  # said by the agent

    def evaluate(self, ctx: Context) -> Outcome:
        long = [span for span in ctx.call.metrics.non_talk if span.duration_ms >= self.min_ms]
        if not long:
            return Outcome(False, [Note(text=f"no non-talk of {self.min_ms / 1000:.0f} s or more")])
        announcing = {turn for hits in self.announcement.found(ctx) for turn, _, _ in hits}
        agent, begins = ctx.role_turns.get("agent", []), ctx.call.begins
        for span in long:
            before = next((turn for turn in reversed(agent) if begins[turn] < span.begin_ms), None)
            if before is None or before not in announcing:
                said = (
                    "the agent before it" if before is None else f"the agent's turn before it ({ctx.call.ids[before]})"
                )
                note = non_talk_note(span)
                return Outcome(True, [note._replace(text=f"{note.text}: {said} announced no hold")])
        return Outcome(False, [Note(text=f"every non-talk of {self.min_ms / 1000:.0f} s or more announced")])

    def describe(self) -> str:
        return f"non-talk of {self.min_ms / 1000:.0f} s or more not announced by ({self.announcement.describe()})"


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


def _units(match: str, cjk: bool) -> Sequence[str]:
    """What a turn is made of, for telling repeats apart: its characters (CJK) or words."""
    return match if cjk else match.split()


@dataclass(slots=True)
class Repetition(Compiled):
    role: str
    min_repeats: int
    similarity: float
    min_length: int
    measure: Literal["jaccard", "containment"] = "jaccard"
    insistence: Phrases | None = None  # a later turn with one of these restates an earlier request
    questions: list[Phrases] = field(default_factory=list)  # kinds of question (when, …) asked again
    shared_run: int = 0  # characters (CJK) / words of a run several turns share; 0: not looked for
    run_skip: str = ""  # characters no shared run holds (pronouns, particles)

    def evaluate(self, ctx: Context) -> Outcome:
        """Some turn with at least `min_repeats - 1` others whose unit bigrams (characters, or words) have
        a Jaccard similarity of at least `similarity` with its own (smallest turn first, then in call order);
        else, when reworded repeats count, the role's first turn and `min_repeats - 1` later ones insisting on
        a request, `min_repeats` turns asking the same kind of question, or `min_repeats` turns sharing a run
        of words."""
        members = ctx.role_turns[self.role]
        if len(members) < self.min_repeats:
            return Outcome(False)
        units = {index: _units(ctx.texts[index].match, ctx.cjk) for index in members}
        group = similar_turns(units, self.min_length, self.min_repeats, self.similarity, self.measure)
        if group is None:
            group = self._reworded(ctx, members[0])
        if group is None:
            return Outcome(False)
        return Outcome(True, [Quote(turn, 0, 0, "turn") for turn in group])

    def _reworded(self, ctx: Context, first: int) -> list[int] | None:
        """The role's first turn and the later ones insisting on a request, or the turns asking the same kind
        of question, when there are `min_repeats` of them."""
        if self.insistence is not None:
            insisting = _turns_with(self.insistence, ctx) - {first}
            if len(insisting) + 1 >= self.min_repeats:
                return [first, *sorted(insisting)]
        for kind in self.questions:
            if len(asked := _turns_with(kind, ctx)) >= self.min_repeats:
                return sorted(asked)
        if self.shared_run:
            holding: dict[str, list[int]] = {}
            for turn in ctx.role_turns[self.role]:
                for run in self._runs(ctx, turn):
                    holding.setdefault(run, []).append(turn)
            for turns in holding.values():
                if len(turns) >= self.min_repeats:
                    return turns
        return None

    def _runs(self, ctx: Context, turn: int) -> set[str]:
        """The runs of `shared_run` words, or of Chinese characters within a clause of the match view (digits
        and letters end a run), that a turn holds."""
        size, text = self.shared_run, ctx.texts[turn]
        if not ctx.cjk:
            words = text.match.split()
            return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}
        runs = set()
        bounds = [0, *text.breaks, len(text.match)]
        for start, end in pairwise(bounds):
            for clause in _NOT_HAN.split(text.match[start:end]):
                for i in range(len(clause) - size + 1):
                    if not any(char in self.run_skip for char in clause[i : i + size]):
                        runs.add(clause[i : i + size])
        return runs

    def describe(self) -> str:
        return f"{self.role} repeats the same request {self.min_repeats}×"


@dataclass(slots=True)
class DetailExchanged(Compiled):
    """An identifying detail passed in the scope's turns, whatever the wording: a question the other party
    answers at once with a detail and little else ("尾号3412", "It's SW7741."), a detail read out in a question
    the other party says yes to ("尾号0365的这个吧？" "对"), or a detail the other party gave read back in a
    question ("0520886, right?")."""

    scope: CompiledScope
    detail: re.Pattern[str]  # what a detail looks like: 4+ digits, a code, an e-mail, a redaction
    question: re.Pattern[str]  # a turn that asks
    confirmation: re.Pattern[str]  # an answer that says yes
    rest: int  # what else an answer may hold: characters (CJK) or words
    fresh: re.Pattern[str]  # a question for a new detail ("新号码", "new address"): taken down, checking nobody

    def evaluate(self, ctx: Context) -> Outcome:
        texts, role_of = ctx.call.texts, ctx.call.role_of
        selection = ctx.select(self.scope)
        for turn in selection.indices[1:]:  # the first is the greeting's "how can I help?"
            after = turn + 1
            if after >= len(texts) or role_of[after] == role_of[turn] or not self.question.search(texts[turn]):
                continue
            if self.fresh.search(texts[turn].lower()):
                continue
            answer = texts[after]
            if self._answers(answer, ctx.cjk) or (self.detail.search(texts[turn]) and self.confirmation.match(answer)):
                return Outcome(True, [Quote(turn, 0, 0, "turn"), Quote(after, 0, 0, "turn")])
        given: set[str] = set()  # the other party's details so far
        for turn, text in enumerate(texts):
            details = {_detail_key(d) for d in self.detail.findall(text)}
            # read back as a question: using the number the customer gave checks nothing
            if selection.mask[turn] and details & given and self.question.search(text):
                return Outcome(True, [Quote(turn, 0, 0, "turn")])
            if role_of[turn] != self.scope.role:
                given |= details
        return Outcome(False)

    def _answers(self, text: str, cjk: bool) -> bool:
        """A detail and little else: at most `rest` other characters (CJK) or words."""
        if not self.detail.search(text):
            return False
        rest = self.detail.sub(" ", text)
        return (sum(c.isalnum() for c in rest) if cjk else len(re.findall(r"\w+", rest))) <= self.rest

    def describe(self) -> str:
        return f"{self.scope.role} asks and is given a detail (4+ digits, a code, an e-mail), or reads one back"


def _detail_key(detail: str) -> str:
    """A detail as compared when read back: a number or code by its last four characters ("QH0520886" and
    "0520886"; "186 5530-2719" and "尾号2719"), an e-mail by its domain (spelt-out names differ)."""
    detail = detail.lower()
    for at in ("@", " at "):
        if at in detail:
            return detail.rsplit(at, 1)[1].replace(" ", "")
    return re.sub(r"[\s-]", "", detail)[-4:]


def _turns_with(words: Phrases, ctx: Context) -> set[int]:
    """The turns holding one of the words."""
    return {turn for turn, _, _ in words.tally(ctx, sys.maxsize)[2]}


@dataclass(slots=True)
class Sentiment(Compiled):
    words: Phrases
    polarity: str
    min_hits: int

    def evaluate(self, ctx: Context) -> Outcome:
        _, total, first = self.words.tally(ctx, MAX_EVIDENCE)
        return Outcome(total >= self.min_hits, first)

    def describe(self) -> str:
        return f"{self.words.scope.role}: {self.min_hits}× {self.polarity} words"


@dataclass(slots=True)
class Dissatisfaction(Compiled):
    signals: list[tuple[int, Phrases]]  # (weight, the signal's words)
    exclamations: Regex
    repeats: Compiled
    min_score: int
    role: str

    def evaluate(self, ctx: Context) -> Outcome:
        score, evidence = 0, list[Finding]()
        for weight, words in self.signals:
            _, total, first = words.tally(ctx, MAX_EVIDENCE)
            if total:
                score += weight
                evidence += first
        for extra, weight in ((self.exclamations, 1), (self.repeats, REPEATS_WEIGHT)):
            outcome = ctx.outcome(extra)
            if outcome.met:
                score += weight
                evidence += outcome.evidence
        return Outcome(score >= self.min_score, evidence[:MAX_EVIDENCE])

    def describe(self) -> str:
        return (
            f"{self.role} dissatisfied (complaint, demand, problem, emotion, exasperation, repeats: {self.min_score}+)"
        )


@dataclass(slots=True)
class Judged(Compiled):
    """Rule cues weighed by a learned judgement of what a party said: met when the model finds it likely on its
    own, or when the cues are met and the model finds it possible."""

    judgement: Judgement
    cues: Compiled

    def evaluate(self, ctx: Context) -> Outcome:
        cues = ctx.outcome(self.cues)
        turns = ctx.role_turns.get(self.judgement.party, [])
        if not turns:
            return cues
        said = [ctx.call.texts[turn] for turn in turns]
        p = self.judgement.probability(said)
        met = p >= self.judgement.likely or (cues.met and p >= self.judgement.possible)
        evidence: list[Finding] = [Note(f"judged {'' if met else 'not '}{self.judgement.verdict}: p = {p:.2f}")]
        strongest = self.judgement.strongest(said) if met else None
        if strongest is not None:
            evidence.append(Quote(turns[strongest], 0, 0, "turn"))
        return Outcome(met, [*evidence, *cues.evidence][:MAX_EVIDENCE])

    def describe(self) -> str:
        # Not the cues' whole tree (a page for transfer_offered): what they found follows in the evidence
        return f"judged {self.judgement.verdict} ({self.judgement.describe()})"
