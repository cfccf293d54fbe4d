"""Text normalisation, applied alike to transcript turns and to scorecard phrases.

Two views of a turn are built, each with a way back to offsets in the original text (evidence
quotes what was actually said):

- the *full* view: NFKC (full-width -> half-width), lower case, traditional -> simplified, Chinese
  numerals -> digits; punctuation is kept. Regular expressions run on it.
- the *match* view: the full view without punctuation and whitespace (CJK) or with every run of
  them collapsed to one space (space-delimited languages). Phrases run on it. Where a run held
  clause punctuation (， 。 ! ? ; : 、 … ~ —) a *break* is recorded: a phrase must not straddle a
  clause break unless the break falls between words of a longer phrase (see `matching`).

Traditional -> simplified is done per character (zhconv, memoised per character): phrase-level
conversions are lost, but the common case stays one `str.translate` call per turn with offsets
unchanged; only turns where numerals or NFKC expansions (… -> ...) change lengths carry an explicit
offset map.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

import cn2an
import zhconv

# Clause punctuation after NFKC (full-width ，！？；： are ASCII by then; 。、 stay CJK).
BREAK_CHARS = frozenset(",.!?;:。、…~—｡､")
_APOSTROPHES = {"’": "'", "‘": "'", "`": "'", "´": "'", "′": "'"}

# CJK: drop everything that is not a letter/digit. Words: keep apostrophes inside words and %.
_SEP_CJK = re.compile(r"[\W_]+")
_SEP_WORDS = re.compile(r"(?:[^\w'%]|_|'(?!\w)|(?<!\w)')+")

_CN_DIGITS = {
    "零": "0",
    "〇": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_CN_UNITS = frozenset("十百千万亿")
# A numeral is converted when it is clearly a number: a run of two or more (一三八, 九十八), an ordinal
# (第二 = 第2), or a single numeral before a measure word (两天 = 2天, 三次 = 3次). Lone 一 elsewhere is
# mostly not a number (一定, 一下, 一直, 统一) and is left alone so jieba still knows the word.
_NUMERALS = "零〇一幺二两三四五六七八九十百千万亿"
_MEASURES = "次个位块元角毛秒天日周月年号岁楼层台张条件家遍笔单倍折期"
_NUMERAL_CHARS = frozenset(_NUMERALS)
_NUMERAL_RUN = re.compile(f"(?<=第)[{_NUMERALS}]+|[{_NUMERALS}]{{2,}}|[{_NUMERALS}](?=[{_MEASURES}]|小时|分钟|星期)")


def is_cjk_language(language: str) -> bool:
    """Languages written without spaces between words: phrases align with jieba tokens instead."""
    return language.lower().split("-")[0] in {"zh", "cmn", "yue", "wuu", "ja"}


class _CharTable(dict[int, str]):
    """Per-character normalisation for `str.translate`, filled on first sight of each character."""

    def __init__(self) -> None:
        super().__init__()
        self.resizing: set[str] = set()  # characters whose normal form is not exactly one character

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in "\n\r\x0b\x0c\x85\u2028\u2029":
            return self._keep(code, " ")  # turns are single lines (regexes run over newline-joined turns)
        out = unicodedata.normalize("NFKC", char).lower()
        out = "".join(_APOSTROPHES.get(c, c) for c in out)
        if any(ord(c) >= 0x2E80 for c in out):
            out = zhconv.convert(out, "zh-cn")
        return self._keep(code, out)

    def _keep(self, code: int, out: str) -> str:
        self[code] = out
        if len(out) != 1:
            self.resizing.add(chr(code))
        return out


_TABLE = _CharTable()


@lru_cache(maxsize=4096)
def _convert_numeral_run(run: str) -> str | None:
    """一三八 -> 138 (digits read one by one); 三百五十 -> 350. None when it is not a number (万一, 千万)."""
    if all(c in _CN_DIGITS for c in run):
        return "".join(_CN_DIGITS[c] for c in run)
    if run == "两":
        return "2"
    if run == "十":
        return "10"
    if not any(c in _CN_UNITS for c in run) or run[0] in "百千万亿":
        return None  # 一两 (one or two), 三三两两, 万一 (in case), 千万 (by all means)
    try:
        value = cn2an.cn2an(run, "normal")
    except (ValueError, KeyError, IndexError):
        return None
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


@dataclass(slots=True)
class FullText:
    """The full view; `starts`/`ends` give each character's original span (None: same offsets)."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the full-view span [start, end)."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:  # an empty regex match
            if start < len(self.starts):
                return self.starts[start], self.starts[start]
            return (self.ends[-1],) * 2 if self.ends else (0, 0)
        return self.starts[start], self.ends[end - 1]


def normalise_full(text: str) -> FullText:
    out = text.translate(_TABLE)
    resized = not _TABLE.resizing.isdisjoint(text)
    numbers = (
        []
        if _NUMERAL_CHARS.isdisjoint(out)
        else [(m.start(), m.end(), d) for m in _NUMERAL_RUN.finditer(out) if (d := _convert_numeral_run(m.group()))]
    )
    if not resized and not numbers:
        return FullText(out)  # the common case: offsets unchanged
    if resized:  # ellipses, ligatures ...: expand character by character
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for index, char in enumerate(text):
            for piece in _TABLE[ord(char)]:
                chars.append(piece)
                starts.append(index)
                ends.append(index + 1)
        out = "".join(chars)
        numbers = [
            (m.start(), m.end(), d) for m in _NUMERAL_RUN.finditer(out) if (d := _convert_numeral_run(m.group()))
        ]
    else:
        starts = list(range(len(out)))
        ends = list(range(1, len(out) + 1))
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = 0
    for a, b, digits in numbers:
        pieces.append(out[position:a])
        new_starts += starts[position:a]
        new_ends += ends[position:a]
        pieces.append(digits)  # every digit points at the whole spoken number
        new_starts += [starts[a]] * len(digits)
        new_ends += [ends[b - 1]] * len(digits)
        position = b
    pieces.append(out[position:])
    new_starts += starts[position:]
    new_ends += ends[position:]
    return FullText("".join(pieces), new_starts, new_ends)


class MatchText:
    """The match view and how its characters map back to the full view.

    The text itself is one regex substitution; where its pieces came from and where the clause
    breaks are is worked out only when a hit needs it (most turns never do).
    """

    __slots__ = ("_breaks", "_piece_full", "_piece_starts", "cjk", "full", "text")

    def __init__(self, full: str, cjk: bool) -> None:
        self.full = full
        self.cjk = cjk
        self.text = _SEP_CJK.sub("", full) if cjk else _SEP_WORDS.sub(" ", full).strip(" ")
        self._breaks: tuple[int, ...] | None = None
        self._piece_starts: list[int] = []
        self._piece_full: list[int] = []

    @property
    def breaks(self) -> tuple[int, ...]:
        """Sorted positions in `text` where clause punctuation was removed (for words: its space)."""
        if self._breaks is None:
            self._layout()
        assert self._breaks is not None
        return self._breaks

    def _layout(self) -> None:
        full = self.full
        breaks: list[int] = []
        length = 0
        position = 0
        broken = False  # did the separator before the next piece hold clause punctuation?
        gap = 0 if self.cjk else 1  # the space that joins words
        for separator in (_SEP_CJK if self.cjk else _SEP_WORDS).finditer(full):
            a, b = separator.span()
            if a > position:
                length = self._keep(position, a, length, gap, broken, breaks)
            broken = not BREAK_CHARS.isdisjoint(separator.group())
            position = b
        if position < len(full):
            self._keep(position, len(full), length, gap, broken, breaks)
        self._breaks = tuple(breaks)

    def _keep(self, a: int, b: int, length: int, gap: int, broken: bool, breaks: list[int]) -> int:
        if self._piece_starts:
            if broken:
                breaks.append(length)
            length += gap
        self._piece_starts.append(length)
        self._piece_full.append(a)
        return length + b - a

    def to_full(self, start: int, end: int) -> tuple[int, int]:
        """Full-view offsets of the match-view span [start, end)."""
        if self._breaks is None:
            self._layout()
        starts, full = self._piece_starts, self._piece_full
        first = bisect_right(starts, start) - 1
        last = bisect_right(starts, end - 1) - 1
        return full[first] + start - starts[first], full[last] + end - starts[last]

    def break_between(self, start: int, end: int) -> bool:
        """Is there a clause break at a position p with start < p < end (inside the span)?"""
        breaks = self.breaks
        index = bisect_right(breaks, start)
        return index < len(breaks) and breaks[index] < end

    def break_at_or_between(self, start: int, end: int) -> bool:
        """Is there a break at a position p with start <= p <= end?"""
        breaks = self.breaks
        index = bisect_left(breaks, start)
        return index < len(breaks) and breaks[index] <= end


@dataclass(slots=True)
class NormalisedText:
    original: str
    full: FullText
    match: MatchText

    def quote_match(self, start: int, end: int) -> str:
        """The original text behind the match-view span [start, end)."""
        a, b = self.match.to_full(start, end)
        return self.quote_full(a, b)

    def quote_full(self, start: int, end: int) -> str:
        a, b = self.full.original(start, end)
        return self.original[a:b]


def normalise(text: str, cjk: bool) -> NormalisedText:
    full = normalise_full(text)
    return NormalisedText(text, full, MatchText(full.text, cjk))


def normalise_phrase(phrase: str, cjk: bool) -> str:
    """A scorecard phrase in the form it is searched for in the match view."""
    return normalise(phrase, cjk).match.text
