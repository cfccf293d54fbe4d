"""Text normalisation, applied alike to transcript turns and to scorecard phrases.

Two views of a turn are built, each with a way back to the original text (evidence quotes what was
actually said):

- the *full* view: NFKC (full-width -> half-width), lower case, traditional -> simplified, Chinese
  numerals -> digits; punctuation is kept. Regular expressions run on it.
- the *match* view: the full view without punctuation and whitespace (CJK) or with every run of
  them collapsed to one space (space-delimited languages). Phrases run on it. Where a run held
  clause punctuation (， 。 ! ? ; : 、 … ~ —) a *break* is recorded: a phrase must not straddle a
  clause break unless the break falls between words of a longer phrase (see `matching`).

The views are a few `str` operations per turn (`str.translate` with a per-character table, a regex each
for numerals and separators). Where each view character came from is worked out only
for the turns evidence quotes (`TurnText.quote_match`), by the same steps with offsets carried along.
Traditional -> simplified is zhconv's phrase-level conversion for turns that hold a traditional character,
and per character otherwise (zhconv, memoised in the table).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

import cn2an
import zhconv

# Clause punctuation after NFKC (full-width ，！？；： are ASCII by then; 。、 stay CJK).
BREAK_CHARS = frozenset(",.!?;:。、…~—｡､")
_NEWLINES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # a turn is one line (regexes' ^ and $ are its edges)
_APOSTROPHES = {"’": "'", "‘": "'", "`": "'", "´": "'", "′": "'"}

# CJK: everything that is not a letter or digit separates. Words: apostrophes inside words and % are kept.
_SPLIT_CJK = re.compile(r"([\W_]+)")
_SPLIT_WORDS = re.compile(r"((?:[^\w'%]|_|'(?!\w)|(?<!\w)')+)")

_CN_DIGITS = dict(zip("零〇一幺二三四五六七八九", "001123456789", strict=True))
_CN_UNITS = frozenset("十百千万亿")
# A numeral run is converted when it is clearly a number: two or more numerals (一三八, 九十八), an
# ordinal (第二 = 第2), or a single numeral before a measure word (两天 = 2天, 三次 = 3次). Lone 一
# elsewhere is mostly not a number (一定, 一下, 一直, 统一) and is left alone so jieba still knows the word.
_NUMERALS = "零〇一幺二两三四五六七八九十百千万亿"
_MEASURES = "次个位块元角毛秒天日周月年号岁楼层台张条件家遍笔单倍折期"
_NUMERAL_CHARS = frozenset(_NUMERALS)
_NUMERAL_RUN = re.compile(f"(?<=第)[{_NUMERALS}]+|[{_NUMERALS}]{{2,}}|[{_NUMERALS}](?=[{_MEASURES}]|小时|分钟|星期)")


def is_cjk_language(language: str) -> bool:
    """Languages written without spaces between words: phrases align with jieba tokens instead."""
    return language.lower().split("-")[0] in {"zh", "cmn", "yue", "wuu", "ja"}


class _CharTable(dict[int, str]):
    """Each character's normal form, for `str.translate`; learnt on first sight of a character (a pure
    function of it, so learning lazily is the same as a full table, without its start-up cost)."""

    def __init__(self, simplify: bool) -> None:
        super().__init__()
        self.simplify = simplify  # traditional -> simplified, character by character
        self.resizing: set[str] = set()  # characters whose normal form is not exactly one character
        self.traditional: set[str] = set()  # characters zhconv changes

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _NEWLINES:
            out = " "
        else:
            out = unicodedata.normalize("NFKC", char).lower()
            out = "".join(_APOSTROPHES.get(c, c) for c in out)
            if self.simplify and any(ord(c) >= 0x2E80 for c in out):
                simplified = zhconv.convert(out, "zh-cn")
                if simplified != out:
                    self.traditional.add(char)
                out = simplified
        if len(out) != 1:
            self.resizing.add(char)
        self[code] = out
        return out


_TABLE = _CharTable(simplify=True)
_FOLDED = _CharTable(simplify=False)  # for zhconv's phrase-level conversion, which needs the words whole


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


def _numbers(mapped: str) -> list[tuple[int, int, str]]:
    """The numeral runs of a mapped turn that are numbers: (start, end, digits)."""
    if _NUMERAL_CHARS.isdisjoint(mapped):
        return []
    return [(m.start(), m.end(), d) for m in _NUMERAL_RUN.finditer(mapped) if (d := _convert_numeral_run(m.group()))]


def _mapped(text: str) -> str:
    """Each character in its normal form. A turn with traditional characters is converted phrase by phrase
    (乾隆 stays, 乾淨 becomes 干净), where that keeps every character in its place."""
    mapped = text.translate(_TABLE)  # first: the table learns the text's characters
    if not _TABLE.traditional.isdisjoint(text) and _TABLE.resizing.isdisjoint(text):
        phrased: str = zhconv.convert(text.translate(_FOLDED), "zh-cn")
        if len(phrased) == len(text):
            return phrased
    return mapped


@dataclass(slots=True, eq=False)
class TurnText:
    """One turn's text as the rules read it: the full and match views, and the clause breaks of the match
    view (sorted positions p, 0 < p < len(match), where clause punctuation separated two kept characters;
    for words, the position of the space that stands for it)."""

    original: str
    cjk: bool
    full: str
    match: str
    breaks: list[int]
    exact: bool  # the full view has the original's offsets (no numeral or expansion moved them)
    _pieces: tuple[list[int], list[int]] | None = field(default=None, repr=False)
    _origins: tuple[list[int], list[int]] | None = field(default=None, repr=False)

    def quote_match(self, start: int, end: int) -> str:
        """The original text behind the (non-empty) match-view span [start, end): a digit of 1017 stands
        for all of 一零一七."""
        return self.quote_full(self.full_offset(start), self.full_offset(end - 1) + 1)

    def full_offset(self, position: int) -> int:
        """The full-view offset of the match-view character at `position`."""
        if self._pieces is None:
            self._pieces = _pieces(self.full, self.cjk)
        starts, starts_full = self._pieces
        run = bisect_right(starts, position) - 1
        return starts_full[run] + position - starts[run]

    def match_offset(self, position: int) -> int:
        """The match-view offset of a full-view position; one inside a separator maps to the end of the run
        before it."""
        if self._pieces is None:
            self._pieces = _pieces(self.full, self.cjk)
        starts, starts_full = self._pieces
        run = bisect_right(starts_full, position) - 1
        if run < 0:
            return 0
        run_end = starts[run + 1] - (0 if self.cjk else 1) if run + 1 < len(starts) else len(self.match)
        return min(starts[run] + position - starts_full[run], run_end)

    def quote_full(self, start: int, end: int) -> str:
        """The original text behind the full-view span [start, end) ("" when it is empty)."""
        if end <= start:
            return ""
        if self.exact:
            return self.original[start:end]
        if self._origins is None:
            self._origins = _full_origins(self.original)
        starts, ends = self._origins
        return self.original[starts[start] : ends[end - 1]]


def _pieces(full: str, cjk: bool) -> tuple[list[int], list[int]]:
    """Where each run of kept characters starts in the match view, and in the full view."""
    parts = (_SPLIT_CJK if cjk else _SPLIT_WORDS).split(full)
    gap = 0 if cjk else 1
    starts: list[int] = []
    starts_full: list[int] = []
    length = position = 0
    for k, part in enumerate(parts):
        if k % 2 == 0 and part:  # a run (the separators are the odd parts)
            if starts:
                length += gap
            starts.append(length)
            starts_full.append(position)
            length += len(part)
        position += len(part)
    return starts, starts_full


def _full_origins(text: str) -> tuple[list[int], list[int]]:
    """Per full-view character, the span of the original it stands for: the steps of `normalise` again, with
    offsets carried along."""
    if _TABLE.resizing.isdisjoint(text):
        starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    else:  # ellipses, ligatures ...: each piece of a character's normal form stands for that character
        starts, ends = [], []
        for index, char in enumerate(text):
            size = len(_TABLE[ord(char)])
            starts += [index] * size
            ends += [index + 1] * size
    full_starts: list[int] = []
    full_ends: list[int] = []
    position = 0
    for start, end, digits in _numbers(_mapped(text)):  # every digit stands for the whole spoken number
        full_starts += starts[position:start] + [starts[start]] * len(digits)
        full_ends += ends[position:start] + [ends[end - 1]] * len(digits)
        position = end
    return full_starts + starts[position:], full_ends + ends[position:]


def normalise(text: str, cjk: bool) -> TurnText:
    mapped = _mapped(text)
    numbers = _numbers(mapped)
    full = mapped
    if numbers:
        pieces, position = [], 0
        for start, end, digits in numbers:
            pieces += [mapped[position:start], digits]
            position = end
        full = "".join(pieces) + mapped[position:]
    # The match view: the runs of characters between separators, joined by nothing (CJK) or one space.
    parts = (_SPLIT_CJK if cjk else _SPLIT_WORDS).split(full)  # run, separator, run, ..., run
    runs = parts[::2]  # only the first and the last can be empty: separators are maximal
    gap = 0 if cjk else 1
    breaks: list[int] = []
    length = len(runs[0])
    for k, separator in enumerate(parts[1::2]):
        following = runs[k + 1]
        if not following:
            break  # the turn ends with this separator
        if length:  # a run before it, too: a break if it held clause punctuation
            if not BREAK_CHARS.isdisjoint(separator):
                breaks.append(length)
            length += gap
        length += len(following)
    match = "".join(runs) if cjk else " ".join([run for run in runs if run])
    return TurnText(text, cjk, full, match, breaks, exact=not numbers and _TABLE.resizing.isdisjoint(text))


def normalise_phrase(phrase: str, cjk: bool) -> str:
    """A scorecard phrase in the form it is searched for in the match view."""
    return normalise(phrase, cjk).match
