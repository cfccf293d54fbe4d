"""Finding phrases: one Aho-Corasick pass per turn, then cheap checks on each raw hit.

A raw hit is a substring match in the match view. It becomes a *hit* when

- it starts and ends on a word boundary: jieba tokens for Chinese (so 不知道 does not fire inside
  不知道理 = 不知/道理, nor 保证 inside 保证金), spaces for space-delimited languages;
- it does not straddle a clause break, unless the phrase has at least three words and the break
  falls between two of them: ASR may put a comma into a scripted sentence (那你想好了，再打来吧),
  but a comma inside a word or a two-word expression changes the meaning (不，知道 is not 不知道;
  不，清楚 is not 不清楚).

Scorecard phrases are added to jieba's dictionary so that they are cut out whole; their own word
structure (taken before they are added) still counts as boundaries, so a shorter phrase inside a
longer one (感谢 in 感谢您的来电) can match too. jieba runs lazily, per clause, only where a raw
hit needs checking: it is by far the most expensive step.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import log
from typing import Any

import ahocorasick
import jieba

from scorer.rules.normalise import Normalised

jieba.setLogLevel(logging.WARNING)  # "Building prefix dict ..." on every start is noise

MIN_WORDS_ACROSS_BREAK = 3
BOUNDS_CACHE_SIZE = 50_000  # clauses; a few MB


@dataclass(frozen=True, slots=True)
class PhraseShape:
    """Word structure of a normalised phrase: how many words and where they meet (offsets)."""

    words: int
    inner: frozenset[int]


def word_shape(phrase: str) -> PhraseShape:
    """Space-delimited phrases: words meet at the spaces (where a break is recorded, too)."""
    return PhraseShape(phrase.count(" ") + 1, frozenset(i for i, c in enumerate(phrase) if c == " "))


class Segmenter:
    """A private jieba tokenizer (jieba's global one is left alone), shared by all scorecards."""

    def __init__(self) -> None:
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._shapes: dict[str, PhraseShape] = {}
        # Agents say the same scripted sentences in call after call: their segmentation is kept.
        # Cleared whenever the dictionary changes.
        self._bounds: OrderedDict[str, frozenset[int]] = OrderedDict()

    def _jieba(self) -> Any:
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._tokenizer = tokenizer
        return self._tokenizer

    def _tokens(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each word, as jieba's dictionary-only cut (HMM off) would make them.

        HMM off: only dictionary words, so segmentation is predictable. This is jieba's own route
        (`get_DAG` + `calc`: the most probable path through the dictionary words, ties to the longer
        word), computed in one right-to-left pass without building the DAG, which is three times
        faster. Like `cut`, a run of single ASCII letters/digits stays one token (1017, app).
        """
        tokenizer = self._jieba()
        freq = tokenizer.FREQ
        logtotal = log(tokenizer.total)
        size = len(text)
        score = [0.0] * (size + 1)
        word_end = list(range(1, size + 2))
        for start in range(size - 1, -1, -1):
            best = None
            end = start + 1
            fragment = text[start]
            while fragment in freq:  # every prefix of a dictionary word is a key (count 0)
                count = freq[fragment]
                if count:
                    candidate = log(count) - logtotal + score[end]
                    if best is None or candidate >= best:
                        best = candidate
                        word_end[start] = end
                if end == size:
                    break
                end += 1
                fragment = text[start:end]
            score[start] = -logtotal + score[start + 1] if best is None else best
        tokens: list[tuple[int, int]] = []
        start = 0
        glue = False
        while start < size:
            end = word_end[start]
            ascii_char = end - start == 1 and text[start].isascii() and text[start].isalnum()
            if ascii_char and glue:
                tokens[-1] = (tokens[-1][0], end)
            else:
                tokens.append((start, end))
            glue = ascii_char
            start = end
        return tokens

    def shape(self, phrase: str) -> PhraseShape:
        """The structure of a phrase as jieba cuts it before it becomes a dictionary word itself."""
        known = self._shapes.get(phrase)
        if known is not None:
            return known
        tokens = self._tokens(phrase)
        inner: set[int] = set()
        for start, end in tokens:
            if 0 < end < len(phrase):
                inner.add(end)
            word = phrase[start:end]
            sub = self._shapes.get(word)
            if sub is not None and word != phrase:
                inner.update(start + offset for offset in sub.inner)
        words = max(len(tokens), len(inner) + 1)
        shape = PhraseShape(words, frozenset(inner))
        self._shapes.setdefault(phrase, shape)
        return shape

    def register(self, phrases: Iterable[str]) -> None:
        """Make the phrases dictionary words (idempotent; call once per compiled scorecard)."""
        tokenizer = self._jieba()
        with self._lock:
            for phrase in phrases:
                if phrase in self._shapes and tokenizer.FREQ.get(phrase):
                    continue
                self.shape(phrase)
                if len(phrase) > 1 and not tokenizer.FREQ.get(phrase):
                    tokenizer.add_word(phrase)
                    self._bounds.clear()

    def boundaries(self, clause: str) -> frozenset[int]:
        """Offsets in `clause` where a word starts or ends (0 and len included)."""
        known = self._bounds.get(clause)
        if known is not None:
            return known
        found = {0}
        shapes = self._shapes
        for start, end in self._tokens(clause):
            found.add(end)
            sub = shapes.get(clause[start:end]) if end - start > 1 else None
            if sub is not None:
                found.update(start + offset for offset in sub.inner)
        bounds = frozenset(found)
        self._bounds[clause] = bounds
        if len(self._bounds) > BOUNDS_CACHE_SIZE:
            self._bounds.popitem(last=False)  # oldest first; good enough without move-to-end on hits
        return bounds

    def clear_cache(self) -> None:
        self._bounds.clear()


SEGMENTER = Segmenter()


Hit = tuple[int, int, int]  # turn index, start, end: a span of a transcript's match view (global offsets)


class PhraseIndex:
    """All normalised phrases of a scorecard in one automaton; a phrase id is its list index."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self._automaton: Any = None
        if phrases:
            automaton = ahocorasick.Automaton()
            for pid, phrase in enumerate(phrases):
                automaton.add_word(phrase, (pid, len(phrase)))
            automaton.make_automaton()
            self._automaton = automaton

    def scan(self, norm: Normalised) -> dict[int, list[Hit]]:
        """Every occurrence of every phrase within a turn, overlapping ones included, by phrase id, in
        text order: one pass of the automaton over the whole match view."""
        if self._automaton is None or not norm.match:
            return {}
        bounds = norm.match_starts
        hits: dict[int, list[Hit]] = {}
        turn, turn_end = 0, bounds[1]
        for last, (pid, length) in self._automaton.iter(norm.match):
            end = last + 1
            start = end - length
            if start >= turn_end or start < bounds[turn]:  # hits come by end, so mostly in the same turn
                turn = bisect_right(bounds, start) - 1
                turn_end = bounds[turn + 1]
            if end <= turn_end:  # not across two turns
                found = hits.get(pid)
                if found is None:
                    hits[pid] = [(turn, start, end)]
                else:
                    found.append((turn, start, end))
        return hits
