"""Finding phrases: one Aho-Corasick pass (pyahocorasick) over each turn's match view, then cheap checks on
each raw hit.

A raw hit is a substring match in a turn's match view. A rule takes the hits in its turns that are

- WHOLE: not straddling a clause break, unless the phrase has at least three words and the break falls
  between two of them: ASR may put a comma into a scripted sentence (那你想好了，再打来吧), but a comma
  inside a word or a two-word expression changes the meaning (不，知道 is not 不知道; 不，清楚 is not 不清楚);
  the scan flags this;
- ALIGNED, when the rule wants word boundaries (the default): starting and ending on a word boundary, jieba
  tokens for Chinese (so 不知道 does not fire inside 不知道理 = 不知/道理, nor 保证 inside 保证金), spaces for
  space-delimited languages. Worked out only for the hits a rule selects (cutting a clause is the costly step),
  once per hit.

Each compiled scorecard has a `Segmenter` of its own: jieba's dictionary-only cut with the card's phrases
added as words, so that they are cut out whole; their own word structure (taken before they are added)
still counts as boundaries, so a shorter phrase inside a longer one (感谢 in 感谢您的来电) can match too.
The card's words sit over jieba's dictionary, loaded once and never changed, so what one card adds can never
change how another card cuts a sentence.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick
import jieba
from pypinyin import lazy_pinyin

from scorer.rules.normalise import TurnText

jieba.setLogLevel(logging.WARNING)  # "Building prefix dict ..." on every start is noise

MIN_WORDS_ACROSS_BREAK = 3
CLAUSE_CACHE_SIZE = 4096  # per card (~2 MiB at most): agents say the same scripted clauses call after call

Hit = tuple[int, int, int]  # turn index, start, end: a span of that turn's match view
RawHit = tuple[int, int, int, int]  # a hit and its flags (WHOLE or not)
# What a rule may require of a raw hit:
WHOLE = 1  # no clause break inside, or only between words of a phrase of MIN_WORDS_ACROSS_BREAK words or more
ALIGNED = 2  # starts and ends on word boundaries


@dataclass(frozen=True, slots=True)
class PhraseShape:
    """Word structure of a normalised phrase: how many words and where they meet (offsets)."""

    words: int
    inner: frozenset[int]


def word_shape(phrase: str) -> PhraseShape:
    """Space-delimited phrases: words meet at the spaces (where a break is recorded, too)."""
    return PhraseShape(phrase.count(" ") + 1, frozenset(i for i, c in enumerate(phrase) if c == " "))


# --- jieba, one dictionary per scorecard --------------------------------------------------------------------

_ABSENT = object()
_BASE: Any = None
_BASE_LOCK = threading.Lock()


def _base_tokenizer() -> Any:
    """jieba's own dictionary, loaded once per process and only ever read."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _BASE = tokenizer
    return _BASE


class _CardWords(dict[str, int]):
    """A scorecard's words over jieba's shared dictionary: what jieba's `add_word` writes stays here, what it
    reads falls through to the shared table (so a card costs its own words, not a copy of 350,000)."""

    def __init__(self, shared: dict[str, int]) -> None:
        super().__init__()
        self.shared = shared

    def __missing__(self, word: str) -> int:
        return self.shared[word]

    def __contains__(self, word: object) -> bool:
        return dict.__contains__(self, word) or word in self.shared

    def get(self, word: str, default: Any = None) -> Any:
        value = dict.get(self, word, _ABSENT)
        return self.shared.get(word, default) if value is _ABSENT else value


class Segmenter:
    """jieba's dictionary-only cut (HMM off: only dictionary words, so segmentation is predictable) with one
    scorecard's phrases added as words. Built once per compiled scorecard; read-only afterwards."""

    def __init__(self, phrases: Iterable[str]) -> None:
        base = _base_tokenizer()
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.FREQ = _CardWords(base.FREQ)
        self._tokenizer.total = base.total
        self._tokenizer.initialized = True
        self.shapes: dict[str, PhraseShape] = {}
        for phrase in phrases:
            self.shape(phrase)
            if len(phrase) > 1 and not self._tokenizer.FREQ.get(phrase):
                self._tokenizer.add_word(phrase)  # the phrase with a count, its new prefixes with 0
        self.boundaries = lru_cache(maxsize=CLAUSE_CACHE_SIZE)(self._boundaries)

    def _tokens(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each word of jieba's cut; a run of single ASCII letters/digits is one word."""
        return [(start, end) for _, start, end in self._tokenizer.tokenize(text, HMM=False)]

    def shape(self, phrase: str) -> PhraseShape:
        """The structure of a phrase as jieba cuts it before it becomes a dictionary word itself."""
        known = self.shapes.get(phrase)
        if known is not None:
            return known
        tokens = self._tokens(phrase)
        inner: set[int] = set()
        for start, end in tokens:
            if 0 < end < len(phrase):
                inner.add(end)
            sub = self.shapes.get(phrase[start:end])
            if sub is not None and end - start < len(phrase):
                inner.update(start + offset for offset in sub.inner)
        shape = self.shapes[phrase] = PhraseShape(max(len(tokens), len(inner) + 1), frozenset(inner))
        return shape

    def forget(self) -> None:
        """Empty the memo of clauses cut (what a benchmark of the worst case does before every call)."""
        self.boundaries.cache_clear()

    def _boundaries(self, clause: str) -> frozenset[int]:
        """Offsets in `clause` where a word starts or ends (0 and len included); where a phrase is cut out
        whole, the places where its own words meet count too."""
        found = {0}
        shapes = self.shapes
        for start, end in self._tokens(clause):
            found.add(end)
            sub = shapes.get(clause[start:end]) if end - start > 1 else None
            if sub is not None:
                found.update(start + offset for offset in sub.inner)
        return frozenset(found)


# --- the scan ------------------------------------------------------------------------------------------------


class Hits:
    """A call's raw hits by phrase id: (turn, start, end, flags), each phrase's in text order; whether a hit is
    ALIGNED is found out when a rule first asks."""

    __slots__ = ("_aligned", "_known", "by_phrase")

    def __init__(self, by_phrase: dict[int, list[RawHit]], aligned: Callable[[int, int, int], bool]) -> None:
        self.by_phrase = by_phrase
        self._aligned = aligned
        self._known: dict[Hit, bool] = {}

    def aligned(self, turn: int, start: int, end: int) -> bool:
        key = (turn, start, end)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._aligned(turn, start, end)
        return known

    def select(self, pids: Sequence[int], members: bytes, required: int) -> list[Hit]:
        """The hits of the phrases `pids` in member turns (`members[turn]` non-zero) that are all `required`:
        a phrase's hits in text order, phrase after phrase."""
        whole, aligned = required & WHOLE, required & ALIGNED
        by_phrase = self.by_phrase
        return [
            (turn, start, end)
            for pid in pids
            for turn, start, end, flags in by_phrase.get(pid, ())
            if members[turn] and (flags or not whole) and (not aligned or self.aligned(turn, start, end))
        ]


class PhraseIndex:
    """All normalised phrases of a scorecard in one automaton; a phrase id is its list index. Phrases that
    may be said with a homophone are also in a second automaton, over the turns' sounds."""

    def __init__(
        self,
        phrases: Sequence[str],
        shapes: Sequence[PhraseShape],
        segmenter: Segmenter | None,
        homophones: Sequence[bool] = (),
    ) -> None:
        """`segmenter`: word boundaries for CJK; None: at spaces. `homophones`: per phrase, whether to find it
        with one character of the same sound in its place."""
        self._phrases = list(phrases)
        self._joints = [shape.inner if shape.words >= MIN_WORDS_ACROSS_BREAK else frozenset() for shape in shapes]
        self.segmenter = segmenter
        self._automaton = _automaton([(phrase, pid) for pid, phrase in enumerate(phrases)])
        sounds = [(sound(p), pid) for pid, (p, h) in enumerate(zip(phrases, homophones, strict=False)) if h]
        self._sounds = _automaton([(code, pid) for code, pid in sounds if len(code) > 1 and code != phrases[pid]])

    def scan(self, turns: Sequence[TurnText]) -> Hits:
        """Every occurrence of every phrase within a turn, overlapping ones included, with its WHOLE flag; for
        the phrases that allow it, also where one character was recognised as another of the same sound."""
        found: dict[int, list[RawHit]] = {}

        def aligned(turn: int, start: int, end: int) -> bool:
            return self._boundary(turns[turn], start) and self._boundary(turns[turn], end)

        if self._automaton is None:
            return Hits(found, aligned)
        phrases = self._phrases
        for index, turn in enumerate(turns):
            text = turn.match
            if not text:
                continue
            for last, pids in self._automaton.iter(text):
                for pid in pids:
                    found.setdefault(pid, []).append(self._flagged(index, turn, pid, last + 1))
            if self._sounds is not None:
                for last, pids in self._sounds.iter(sound(text)):
                    for pid in pids:
                        phrase = phrases[pid]
                        said = text[last + 1 - len(phrase) : last + 1]
                        if sum(a != b for a, b in zip(said, phrase, strict=True)) == 1:  # one substitution
                            found.setdefault(pid, []).append(self._flagged(index, turn, pid, last + 1))
        for hits in found.values():
            hits.sort()
        return Hits(found, aligned)

    def _flagged(self, index: int, turn: TurnText, pid: int, end: int) -> RawHit:
        start = end - len(self._phrases[pid])
        flags = WHOLE
        breaks = turn.breaks
        if breaks:
            inside = breaks[bisect_right(breaks, start) : bisect_left(breaks, end)]
            if inside and any(b - start not in self._joints[pid] for b in inside):
                flags = 0
        return index, start, end, flags

    def _boundary(self, turn: TurnText, position: int) -> bool:
        text = turn.match
        if position <= 0 or position >= len(text):
            return True
        if self.segmenter is None:
            return text[position - 1] == " " or text[position] == " "
        breaks = turn.breaks
        k = bisect_right(breaks, position)
        if k and breaks[k - 1] == position:
            return True
        start = breaks[k - 1] if k else 0
        end = breaks[k] if k < len(breaks) else len(text)
        return position - start in self.segmenter.boundaries(text[start:end])


def _automaton(keyed: Iterable[tuple[str, int]]) -> Any:
    """An Aho-Corasick automaton finding each non-empty key, with the ids given for it; None if there are none."""
    ids: dict[str, list[int]] = {}
    for key, pid in keyed:
        if key:
            ids.setdefault(key, []).append(pid)
    if not ids:
        return None
    automaton = ahocorasick.Automaton()
    for key, pids in ids.items():
        automaton.add_word(key, tuple(pids))
    automaton.make_automaton()
    return automaton


# --- homophones: a turn's sounds ---------------------------------------------------------------------------

_SYLLABLE_BASE = 0xF0000  # private use plane 15: one code point per toneless pinyin syllable


class _Syllables(dict[int, str]):
    """Each Han character's toneless pinyin (its most common reading) as one private-use character, for
    `str.translate`; other characters stay as they are, so a turn's sounds align with its match view."""

    def __init__(self) -> None:
        super().__init__()
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()

    def __missing__(self, code: int) -> str:
        char = chr(code)
        reading = lazy_pinyin(char)[0] if "\u3400" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0003134f" else char
        with self._lock:
            if reading != char and reading.isascii() and reading.isalpha():
                out = self._codes.setdefault(reading, chr(_SYLLABLE_BASE + len(self._codes)))
            else:
                out = char
            self[code] = out
        return out


_SYLLABLES = _Syllables()


def sound(text: str) -> str:
    """What `text` sounds like, character by character (不知到 and 不知道 sound alike)."""
    return text.translate(_SYLLABLES)


# --- what rules do with the hits they selected ----------------------------------------------------------------


def non_overlapping(groups: Iterable[list[Hit]]) -> list[Hit]:
    """The hits of all groups sorted by place, longer first, keeping each that does not overlap the last one
    kept (leftmost-longest: 感谢 and 感谢您 at one place count once; equal hits keep the first given)."""
    kept: list[Hit] = []
    for hit in sorted((hit for group in groups for hit in group), key=lambda h: (h[0], h[1], -h[2])):
        if not kept or hit[0] != kept[-1][0] or hit[1] >= kept[-1][2]:
            kept.append(hit)
    return kept


def near(
    firsts: Sequence[Hit],
    seconds: Sequence[Hit],
    within: int,
    ordered: bool,
    words: Sequence[str] | None,
    limit: int,
    distinct: bool = False,
) -> list[Hit]:
    """In each turn that has both, each distinct first hit (in text order) paired with the first distinct second
    hit that is at most `within` apart: characters, or words when `words` (the turns' match views, words
    separated by single spaces) are given; overlapping hits are 0 or less apart. With `ordered`, the second
    must start at or after the first's end; with `distinct`, a first inside the second is none (验证 in 验证码: one
    word read twice). Each pair gives the span from the earlier start to the later end. Turns in order, stopping
    once `limit` spans are found (a turn is finished first)."""
    by_turn: dict[int, list[Hit]] = {}
    for hit in sorted(set(seconds)):
        by_turn.setdefault(hit[0], []).append(hit)
    found: list[Hit] = []
    current = -1
    for turn, start, end in sorted(set(firsts)):
        if turn != current:
            if len(found) >= limit:
                break
            current = turn
        for _, other_start, other_end in by_turn.get(turn, ()):
            if (ordered and other_start < end) or (distinct and other_start <= start and end <= other_end):
                continue
            left_end, right_start = (end, other_start) if other_start >= start else (other_end, start)
            if _gap(words, turn, left_end, right_start) <= within:
                found.append((turn, min(start, other_start), max(end, other_end)))
                break
    return found


def _gap(words: Sequence[str] | None, turn: int, left_end: int, right_start: int) -> int:
    """Characters between two spans, or words of the turn's match view; negative when they overlap."""
    if right_start <= left_end or words is None:
        return right_start - left_end
    return len(words[turn][left_end:right_start].split())
