"""Finding phrases: one Aho-Corasick pass per call, which also checks each raw hit (in C, `_native`).

A raw hit is a substring match in the match view. The scan flags whether


- it starts and ends on a word boundary (ALIGNED): jieba tokens for Chinese (so 不知道 does not fire
  inside 不知道理 = 不知/道理, nor 保证 inside 保证金), spaces for space-delimited languages;
- it is WHOLE: it does not straddle a clause break, unless the phrase has at least three words and the break
  falls between two of them: ASR may put a comma into a scripted sentence (那你想好了，再打来吧),
  but a comma inside a word or a two-word expression changes the meaning (不，知道 is not 不知道;
  不，清楚 is not 不清楚).

A condition takes the raw hits whose flags it needs (word-boundary checks can be turned off per rule).

Scorecard phrases are added to jieba's dictionary so that they are cut out whole; their own word
structure (taken before they are added) still counts as boundaries, so a shorter phrase inside a
longer one (感谢 in 感谢您的来电) can match too. jieba's route runs only for the clauses that hold a raw
hit, on a C copy of jieba's frequency table (`_native.Dictionary`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import log
from typing import Any

import jieba

from scorer.rules._native import Automaton, Dictionary, Hits
from scorer.rules.normalise import Normalised

jieba.setLogLevel(logging.WARNING)  # "Building prefix dict ..." on every start is noise

MIN_WORDS_ACROSS_BREAK = 3


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
        self._dictionary: Dictionary | None = None  # the tokenizer's FREQ, in C
        self._logtotal = 0.0
        self._lock = threading.RLock()
        self._shapes: dict[str, PhraseShape] = {}

    def dictionary(self) -> tuple[Dictionary, float]:
        """The C copy of the dictionary, and log(total), for the automaton's word-boundary checks."""
        return self._jieba()[1], self._logtotal

    def _jieba(self) -> tuple[Any, Dictionary]:
        if self._tokenizer is None or self._dictionary is None:
            with self._lock:
                if self._tokenizer is None or self._dictionary is None:
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._logtotal = log(tokenizer.total)
                    self._dictionary = Dictionary(tokenizer.FREQ)
                    self._tokenizer = tokenizer
        return self._tokenizer, self._dictionary

    def _tokens(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each word, as jieba's dictionary-only cut (HMM off) would make them.

        HMM off: only dictionary words, so segmentation is predictable. jieba's own route through its
        dictionary (`get_DAG` + `calc`), computed in C from a copy of jieba's frequency table.
        """
        return self._jieba()[1].segment(text, self._logtotal)

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
        shape = self._shapes.setdefault(phrase, PhraseShape(words, frozenset(inner)))
        if shape.inner:  # where the phrase is cut out whole, its inner word boundaries still count
            self._jieba()[1].set_shape(phrase, sorted(shape.inner))
        return shape

    def register(self, phrases: Iterable[str]) -> None:
        """Make the phrases dictionary words (idempotent; call once per compiled scorecard)."""
        tokenizer, dictionary = self._jieba()
        with self._lock:
            for phrase in phrases:
                if phrase in self._shapes and tokenizer.FREQ.get(phrase):
                    continue
                self.shape(phrase)
                if len(phrase) > 1 and not tokenizer.FREQ.get(phrase):
                    tokenizer.add_word(phrase)  # the phrase with a count, its new prefixes with 0
                    for end in range(1, len(phrase) + 1):
                        dictionary.set(phrase[:end], tokenizer.FREQ[phrase[:end]])
                    self._logtotal = log(tokenizer.total)


SEGMENTER = Segmenter()


Hit = tuple[int, int, int]  # turn index, start, end: a span of a transcript's match view (global offsets)
# What the scan finds out about each raw hit (flags of `Hits`):
WHOLE = 1  # no clause break inside, or only between words of a phrase of MIN_WORDS_ACROSS_BREAK words or more
ALIGNED = 2  # starts and ends on word boundaries (checked only for the phrases a rule wants aligned)


class PhraseIndex:
    """All normalised phrases of a scorecard in one automaton; a phrase id is its list index."""

    def __init__(
        self, phrases: Sequence[str], shapes: Sequence[PhraseShape], aligned: Sequence[bool], cjk: bool
    ) -> None:
        """`aligned`: per phrase, whether any rule wants it on word boundaries (only those are checked:
        a clause is cut only if a hit needs it)."""
        joints = [sorted(shape.inner) if shape.words >= MIN_WORDS_ACROSS_BREAK else None for shape in shapes]
        self._automaton = Automaton(phrases, joints, aligned)
        self._cjk = cjk

    def scan(self, norm: Normalised) -> Hits:
        """Every occurrence of every phrase within a turn, overlapping ones included, with its WHOLE and
        ALIGNED flags: one pass of the automaton over the whole match view (jieba's cut runs only for the
        clauses that hold an occurrence of a phrase some rule wants aligned)."""
        if self._cjk:
            dictionary, logtotal = SEGMENTER.dictionary()
            return self._automaton.scan(norm.match, norm.match_starts, norm.breaks, dictionary, logtotal)
        return self._automaton.scan(norm.match, norm.match_starts, norm.breaks)
