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
turns with newlines, the match view just concatenates them), because the work is done with numpy
over the code points of the whole call rather than turn by turn in Python: per-code-point tables
(`_CodePoints`, a memo of pure functions of one character, filled on first sight of each) give the
normal form, and the views, their offsets and the clause breaks come out of a few array operations.
Traditional -> simplified is per character (zhconv): phrase-level conversions are lost, but the
views stay cheap to build.
"""

from __future__ import annotations

import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cn2an
import numpy as np
import numpy.typing as npt
import zhconv

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

Codes = npt.NDArray[np.uint32]
Positions = npt.NDArray[np.int64]


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
    """Per-code-point facts as arrays indexed by code point, learnt on first sight of each one.

    Each entry is a pure function of one character (its normal form; whether, as a character of the
    full view, it is a letter/digit, a word character, clause punctuation, a Chinese numeral), so
    filling the table lazily is the same as filling it up front, only without the start-up cost.
    """

    SIZE = 0x110000
    UNKNOWN, ONE, RESIZES = 0, 1, 2  # `state`: not seen yet / normal form of one character / of another length
    SEPARATOR_WEIGHT = 1 << 24  # `weight` of the turn separator: more than any run of punctuation

    def __init__(self) -> None:
        self.state = np.zeros(self.SIZE, dtype=np.uint8)
        self.single = np.zeros(self.SIZE, dtype=np.uint32)  # the normal form, when it is one character
        self.alnum = np.zeros(self.SIZE, dtype=bool)  # kept in a CJK match view (regex \w without _)
        self.word = np.zeros(self.SIZE, dtype=bool)  # regex \w
        self.weight = np.zeros(self.SIZE, dtype=np.int64)  # 1 for clause punctuation; see SEPARATOR_WEIGHT
        self.numeral = np.zeros(self.SIZE, dtype=bool)
        self.expansions: dict[int, str] = {}  # normal forms that are not one character
        self._lock = threading.Lock()
        for code in range(128):  # numerals become ASCII digits without being seen in a text
            self._learn(code)
        self.weight[_SEPARATOR_CODE] = self.SEPARATOR_WEIGHT  # "\n" in a full view only ever separates turns

    def learn(self, codes: Codes) -> npt.NDArray[np.uint8]:
        """The state of each code point, learning the unknown ones."""
        states = self.state[codes]
        if states.size and not states.min():
            with self._lock:
                for code in np.unique(codes[states == self.UNKNOWN]).tolist():
                    self._learn(code)
            states = self.state[codes]
        return states

    def _learn(self, code: int) -> None:
        if self.state[code]:
            return
        char = chr(code)
        out = _normal_form(char)
        if len(out) == 1:
            self.single[code] = ord(out)
        else:
            self.expansions[code] = out
        self.alnum[code] = char.isalnum()
        self.word[code] = char.isalnum() or char == "_"
        self.weight[code] = char in BREAK_CHARS
        self.numeral[code] = char in _NUMERALS
        self.state[code] = self.ONE if len(out) == 1 else self.RESIZES
        for piece in out:  # the normal form's characters occur in full views: know them too
            self._learn(ord(piece))


_SEPARATOR_CODE = ord(TURN_SEPARATOR)
_SPACE = ord(" ")
_CODES = _CodePoints()


def _encode(text: str) -> Codes:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _decode(codes: Codes) -> str:
    return codes.tobytes().decode("utf-32-le")


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
class _Edits:
    """Spans of a text replaced by pieces of another length, and how offsets in the result map back:
    a character of a piece stands for the whole span it replaced (each digit of 1017 for 一零一七)."""

    new_starts: list[int]
    new_ends: list[int]
    old_starts: list[int]
    old_ends: list[int]

    def start(self, position: int) -> int:
        k = bisect_right(self.new_starts, position) - 1
        if k < 0:
            return position
        if position < self.new_ends[k]:
            return self.old_starts[k]
        return position - self.new_ends[k] + self.old_ends[k]

    def forward(self, old: int) -> int:
        """Where an original offset outside every replaced span lands in the result."""
        k = bisect_right(self.old_ends, old) - 1  # the last span that ends at or before it
        return old if k < 0 else old - self.old_ends[k] + self.new_ends[k]

    def end(self, position: int) -> int:
        k = bisect_right(self.new_starts, position - 1) - 1
        if k < 0:
            return position
        if position - 1 < self.new_ends[k]:
            return self.old_ends[k]
        return position - self.new_ends[k] + self.old_ends[k]


def _apply(text: str, edits: list[tuple[int, int, str]]) -> tuple[str, _Edits]:
    """`text` with each span [a, b) of `edits` (sorted, disjoint) replaced by its piece."""
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = shift = 0
    for a, b, piece in edits:
        pieces += [text[position:a], piece]
        new_starts.append(a + shift)
        shift += len(piece) - (b - a)
        new_ends.append(b + shift)
        position = b
    pieces.append(text[position:])
    return "".join(pieces), _Edits(new_starts, new_ends, [a for a, _, _ in edits], [b for _, b, _ in edits])


@dataclass(slots=True, eq=False)
class Normalised:
    """The views of a transcript's turns (or of one text: a transcript of one turn).

    Offsets are global: turn i is `full[full_starts[i]:full_starts[i + 1] - 1]` and
    `match[match_starts[i]:match_starts[i + 1]]`. `breaks` are the sorted match-view positions of clause
    breaks (never at a turn's edge: a turn's edges are hard breaks of their own).
    """

    original: str  # the turns joined by TURN_SEPARATOR
    full: str
    match: str
    full_starts: list[int]  # one more than the turns: the last is len(full) + 1
    match_starts: list[int]  # one more than the turns: the last is len(match)
    breaks: list[int]
    match_to_full: Positions  # full-view offset of each match-view character
    match_codes: Codes  # the match view's code points
    edits: list[_Edits]  # from the original to the full view, in the order they were made

    def turn_full(self, turn: int) -> str:
        return self.full[self.full_starts[turn] : self.full_starts[turn + 1] - 1]

    def turn_match(self, turn: int) -> str:
        return self.match[self.match_starts[turn] : self.match_starts[turn + 1]]

    def quote_match(self, start: int, end: int) -> str:
        """The original text behind the match-view span [start, end)."""
        to_full = self.match_to_full
        return self.quote_full(int(to_full[start]), int(to_full[end - 1]) + 1)

    def quote_full(self, start: int, end: int) -> str:
        """The original text behind the full-view span [start, end)."""
        if end <= start:  # an empty regex match
            return ""
        for edits in reversed(self.edits):
            start, end = edits.start(start), edits.end(end)
        return self.original[start:end]


def normalise_turns(texts: Sequence[str], cjk: bool) -> Normalised:
    """Both views of all `texts` (a transcript's turns, in order) in one go."""
    original = TURN_SEPARATOR.join(texts)
    codes = _encode(original)
    states = _CODES.learn(codes)
    full = _CODES.single[codes]
    separators = np.flatnonzero(codes == _SEPARATOR_CODE)
    if len(separators) != len(texts) - 1:  # line breaks within turns: find the joins from the lengths
        separators = np.cumsum([len(t) + 1 for t in texts[:-1]], dtype=np.int64) - 1
    edits: list[_Edits] = []
    if states.size and states.max() == _CODES.RESIZES:  # … -> ..., ﬁ -> fi
        text, expanded = _apply(
            _decode(full),
            [(k, k + 1, _CODES.expansions[int(codes[k])]) for k in np.flatnonzero(states == _CODES.RESIZES).tolist()],
        )
        edits.append(expanded)
        full = _encode(text).copy()
        separators = np.array([expanded.forward(p) for p in separators.tolist()], dtype=np.int64)
    full[separators] = _SEPARATOR_CODE  # the table turned every line break into a space
    text, numbers = _convert_numerals(full)
    if numbers is not None:
        edits.append(numbers)
        full = _encode(text)
        separators = np.flatnonzero(full == _SEPARATOR_CODE)  # digits for numerals moved them
    full_starts = [0, *(separators + 1).tolist(), len(full) + 1]
    match_codes, match_to_full, breaks = _match_view(full, cjk)
    match_starts = [*np.searchsorted(match_to_full, full_starts[:-1]).tolist(), len(match_to_full)]
    match = _decode(match_codes)
    return Normalised(original, text, match, full_starts, match_starts, breaks, match_to_full, match_codes, edits)


def _convert_numerals(full: Codes) -> tuple[str, _Edits | None]:
    """The full view's text with the Chinese numeral runs that are clearly numbers as digits."""
    text = _decode(full)
    numeral = _CODES.numeral[full]
    if not numeral.any():
        return text, None
    edges = np.diff(numeral.view(np.int8), prepend=0, append=0)
    runs = zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    size = len(text)
    edits = [
        (a, b, digits)
        for a, b in runs
        if (
            b - a > 1
            or (a and text[a - 1] == "第")
            or (b < size and (text[b] in _MEASURES or text.startswith(_MEASURE_WORDS, b)))
        )
        and (digits := _convert_numeral_run(text[a:b])) is not None
    ]
    if not edits:
        return text, None
    return _apply(text, edits)


def _match_view(full: Codes, cjk: bool) -> tuple[Codes, Positions, list[int]]:
    """The match view, each of its characters' full-view offset, and the clause breaks."""
    if cjk:
        match_to_full = np.flatnonzero(_CODES.alnum[full])
        # Clause punctuation between two kept characters of one turn is a break where the second lands.
        counted = np.cumsum(_CODES.weight[full])
        between = counted[match_to_full[1:]] - counted[match_to_full[:-1]]
        breaks = (np.flatnonzero((between > 0) & (between < _CODES.SEPARATOR_WEIGHT)) + 1).tolist()
        return full[match_to_full], match_to_full, breaks
    word = _CODES.word[full]
    inside = np.zeros(len(full), dtype=bool)  # an apostrophe between two word characters (don't)
    inside[1:-1] = word[:-2] & word[2:]
    kept = (word & (full != ord("_"))) | (full == ord("%")) | ((full == ord("'")) & inside)
    # Runs of separators: [run_starts[k], run_ends[k]). Only runs inside a turn count (a turn's
    # leading and trailing ones are dropped); each becomes one space, a break if it held punctuation.
    edges = np.diff((~kept).view(np.int8), prepend=0, append=0)
    run_starts = np.flatnonzero(edges == 1)
    run_ends = np.flatnonzero(edges == -1)
    counted = np.concatenate(([0], np.cumsum(_CODES.weight[full])))
    held = counted[run_ends] - counted[run_starts]
    internal = (run_starts > 0) & (run_ends < len(full)) & (held < _CODES.SEPARATOR_WEIGHT)
    emitted = kept.copy()
    emitted[run_starts[internal]] = True
    match_to_full = np.flatnonzero(emitted)
    breaks = np.searchsorted(match_to_full, run_starts[internal & (held > 0)]).tolist()
    return np.where(kept, full, _SPACE)[emitted], match_to_full, breaks


def normalise(text: str, cjk: bool) -> Normalised:
    return normalise_turns([text], cjk)


def normalise_phrase(phrase: str, cjk: bool) -> str:
    """A scorecard phrase in the form it is searched for in the match view."""
    return normalise_turns([phrase], cjk).match
