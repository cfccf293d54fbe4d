"""Text normalisation, applied alike to transcript turns and to scorecard phrases.

Two views of a transcript are built, each with a way back to offsets in the original text (evidence
quotes what was actually said):

- the *full* view: NFKC (full-width -> half-width), lower case, traditional -> simplified, Chinese
  numerals -> digits; punctuation is kept. Regular expressions run on it.
- the *match* view: the full view without punctuation and whitespace (CJK) or with every run of
  them collapsed to one space (space-delimited languages). Phrases run on it. Where a run held
  clause punctuation (， 。 ! ? ; : 、 … ~ —) a *break* is recorded: a phrase must not straddle a
  clause break unless the break falls between words of a longer phrase (see `matching`).

Both views cover all turns of a transcript at once, as one string each (the full view joins the
turns with newlines, the match view just concatenates them). Per-code-point tables (`_CodePoints`, a
memo of pure functions of one character, filled on first sight of each) give the normal form; the
views, their offsets and the clause breaks are then built in one pass over the call in C
(`_native.Normaliser`). Traditional -> simplified is per character (zhconv): phrase-level
conversions are lost, but the views stay cheap to build.
"""

from __future__ import annotations

import threading
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cn2an
import zhconv

from scorer.rules._native import Normaliser, Origins

# Clause punctuation after NFKC (full-width ，！？；： are ASCII by then; 。、 stay CJK).
BREAK_CHARS = frozenset(",.!?;:。、…~—｡､")
TURN_SEPARATOR = "\n"  # joins the turns of the full view; a turn's own line breaks become spaces
_NEWLINES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_APOSTROPHES = {"’": "'", "‘": "'", "`": "'", "´": "'", "′": "'"}

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
# A numeral run is converted when it is clearly a number: two or more numerals (一三八, 九十八), an
# ordinal (第二 = 第2), or a single numeral before a measure word (两天 = 2天, 三次 = 3次). Lone 一
# elsewhere is mostly not a number (一定, 一下, 一直, 统一) and is left alone so jieba still knows the word.
_NUMERALS = "零〇一幺二两三四五六七八九十百千万亿"
_MEASURES = "次个位块元角毛秒天日周月年号岁楼层台张条件家遍笔单倍折期"
_MEASURE_WORDS = ("小时", "分钟", "星期")


def is_cjk_language(language: str) -> bool:
    """Languages written without spaces between words: phrases align with jieba tokens instead."""
    return language.lower().split("-")[0] in {"zh", "cmn", "yue", "wuu", "ja"}


def _normal_form(char: str) -> str:
    if char in _NEWLINES:
        return " "  # turns are single lines (regexes run over newline-joined turns)
    out = unicodedata.normalize("NFKC", char).lower()
    out = "".join(_APOSTROPHES.get(c, c) for c in out)
    if any(ord(c) >= 0x2E80 for c in out):
        out = zhconv.convert(out, "zh-cn")
    return out


class _CodePoints:
    """Per-code-point facts in one table indexed by code point, learnt on first sight of each one.

    Each entry is a pure function of one character (its normal form; whether, as a character of the
    full view, it is a letter/digit, a word character, clause punctuation, a Chinese numeral), so
    filling the table lazily is the same as filling it up front, only without the start-up cost. An
    entry packs them in 32 bits, the layout `native/normaliser.c` reads (CP_* there): the normal form when it is
    one character (bits 0-20), the state (21-22: UNKNOWN, ONE, or RESIZES, whose normal form is in
    `expansions`), then one bit each for alnum (23), word (24), clause (25) and numeral (26).
    """

    SIZE = 0x110000
    UNKNOWN, ONE, RESIZES = 0, 1, 2

    def __init__(self) -> None:
        self.table = array("I", bytes(4 * self.SIZE))
        self.expansions: dict[int, str] = {}  # normal forms that are not one character
        self._lock = threading.Lock()
        self._learning: set[int] = set()  # being learnt (a normal form may hold its own character)
        for code in range(128):  # numerals become ASCII digits without being seen in a text
            self._learn(code)

    def learn(self, codes: Iterable[int]) -> None:
        with self._lock:
            for code in codes:
                self._learn(code)

    def _learn(self, code: int) -> None:
        if self.table[code] or code in self._learning:
            return
        self._learning.add(code)
        char = chr(code)
        out = _normal_form(char)
        if len(out) != 1:
            self.expansions[code] = out
        for piece in out:  # the normal form's characters occur in full views: know them too
            self._learn(ord(piece))
        # Known only now, with its pieces: the C side trusts the rest of the table for a known code point.
        self.table[code] = (
            (ord(out) if len(out) == 1 else 0)
            | (self.ONE if len(out) == 1 else self.RESIZES) << 21
            | char.isalnum() << 23
            | (char.isalnum() or char == "_") << 24
            | (char in BREAK_CHARS) << 25
            | (char in _NUMERALS) << 26
        )
        self._learning.discard(code)


_CODES = _CodePoints()


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


@dataclass(slots=True, eq=False)
class Normalised:
    """The views of a transcript's turns (or of one text: a transcript of one turn).

    Offsets are global: turn i is `full[full_starts[i]:full_starts[i + 1] - 1]` and
    `match[match_starts[i]:match_starts[i + 1]]`. `breaks` are the sorted match-view positions of clause
    breaks (never at a turn's edge: a turn's edges are hard breaks of their own).
    """

    full: str
    match: str
    full_starts: list[int]  # one more than the turns: the last is len(full) + 1
    match_starts: list[int]  # one more than the turns: the last is len(match)
    breaks: list[int]
    origins: Origins  # the original text (the turns joined by TURN_SEPARATOR) behind each view character
    utf8_starts: list[int]  # where each turn starts in the full view's UTF-8 (what RE2 reads)

    def turn_full(self, turn: int) -> str:
        return self.full[self.full_starts[turn] : self.full_starts[turn + 1] - 1]

    def turn_match(self, turn: int) -> str:
        return self.match[self.match_starts[turn] : self.match_starts[turn + 1]]

    def quote_match(self, start: int, end: int) -> str:
        """The original text behind the (non-empty) match-view span [start, end): a digit of 1017 stands
        for all of 一零一七."""
        return self.origins.match(start, end)

    def quote_full(self, start: int, end: int) -> str:
        """The original text behind the full-view span [start, end) ("" for an empty regex match)."""
        return self.origins.full(start, end)


_NORMALISER = Normaliser(_CODES.table, _CODES.expansions, _convert_numeral_run, _MEASURES, _MEASURE_WORDS)


def normalise_turns(texts: Sequence[str], cjk: bool) -> Normalised:
    """Both views of all `texts` (a transcript's turns, in order) in one go."""
    views = _NORMALISER.views(texts, cjk)
    while isinstance(views, set):  # code points never seen before
        _CODES.learn(views)
        views = _NORMALISER.views(texts, cjk)
    return Normalised(*views)


def normalise(text: str, cjk: bool) -> Normalised:
    return normalise_turns([text], cjk)


def normalise_phrase(phrase: str, cjk: bool) -> str:
    """A scorecard phrase in the form it is searched for in the match view."""
    return normalise_turns([phrase], cjk).match
