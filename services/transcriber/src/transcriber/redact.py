"""PII redaction: transcripts (text and word timings) and the recording itself.

Whisper writes a phone number however it heard it: "13800138000", "138 0013 8000", one word per
digit, Chinese numerals ("幺三八零零…"), English words ("one three eight double oh …"). Every turn
is therefore tokenised once, the tokens that can spell digits are turned into a *digit view* (each
digit keeps the span of text it came from), and the validators (mobile/landline/international
phone formats, the GB 11643 ID checksum, Luhn) run on that view. Matches map back to text spans,
text spans to words, words to timestamps, so the same spans can be masked in the audio.

Built-in patterns use plain `re`: they are bounded and anchored. Patterns an admin configures are
compiled with RE2 (`callqa.patterns`), which matches in linear time, so a pathological one such as
`(a+)+$` cannot stall the worker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from callqa.patterns import compile_pattern
from callqa.transcripts import Redaction, Turn, Word

BUILTIN_KINDS = ("phone", "id_number", "bank_card", "email")
_NO_PATTERNS: Mapping[str, str] = MappingProxyType({})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# --- vocabulary -------------------------------------------------------------------------------

_CN_DIGITS = {
    **dict.fromkeys("零〇○", "0"),
    **dict.fromkeys("一壹幺", "1"),
    **dict.fromkeys("二贰貳两兩", "2"),
    **dict.fromkeys("三叁參", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}
_EN_UNITS = {
    w: str(i) for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))
}
_EN_UNITS |= {"oh": "0", "o": "0", "nought": "0"}
_EN_TEENS = {w: str(i) for i, w in enumerate(("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen"), 10)}
_EN_TEENS |= {w: str(i) for i, w in enumerate(("sixteen", "seventeen", "eighteen", "nineteen"), 16)}
_EN_TENS = {
    w: str(i) for i, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"), 2)
}
_EN_REPEAT = {"double": 2, "triple": 3}
_EN_SCALE = {"hundred": "00", "thousand": "000"}
# Hesitations people put between digit groups; they must not cut a number in two.
_FILLERS = frozenset({"嗯", "呃", "额", "啊", "uh", "um", "er", "erm", "ah", "hmm"})
_DIGIT_SEPARATORS = frozenset("-‐‑‒–—.,、()/·")
_CN_KEYWORDS = ("下划线", "中划线", "艾特", "爱特", "横杠")  # longest first
_AT = frozenset({"@", "at", "艾特", "爱特"})
_DOT = frozenset({".", "dot", "点", "點"})
_LOCAL_JOINERS = frozenset({"_", "underscore", "下划线", "-", "dash", "hyphen", "横杠", "中划线", "杠", "+"})
_DOMAIN_JOINERS = frozenset({"-", "dash", "hyphen", "横杠", "中划线", "杠"})
_SPOKEN_WORDS = frozenset({"at", "dot", "underscore", "dash", "hyphen"})
# Words that end a spoken local part going backwards ("my email is john dot smith at ...").
_LOCAL_STOPWORDS = frozenset(
    {"is", "was", "my", "email", "mail", "address", "me", "it", "its", "to", "the", "a", "an", "and", "or", "send"}
    | {"that", "this", "here", "so", "yes", "yeah", "ok", "okay", "sure", "please", "uh", "um", "number", "s"}
)
_SPOKEN_TLDS = frozenset(
    {"com", "cn", "net", "org", "edu", "gov", "io", "co", "uk", "de", "jp", "hk", "tw", "info", "biz", "me", "us"}
    | {"ru", "fr", "au", "ca", "in", "sg", "kr", "top", "xyz", "cc", "tv", "ai", "app", "dev", "mobi", "eu"}
)
# A Luhn-valid (or bare 10-digit) number right after these is an order/waybill/ticket number.
_NOT_PII_LABELS = ("订单", "单号", "运单", "快递", "工单", "流水", "发票", "order", "tracking", "invoice", "ticket")

# Numbers written in a way no phone/ID/card is: amounts with thousands separators, short decimals,
# dates, currency amounts. Their digits are kept out of the digit view.
_NOT_PII_NUMBERS = re.compile(
    r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])"
    r"|(?<![\d.])\d+\.\d{1,2}(?![\d.])"
    r"|(?<!\d)(?:19|20)\d{2}([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])(?!\d)"
    r"|(?<!\d)(?:0?[1-9]|[12]\d|3[01])([-/.])(?:0?[1-9]|1[0-2]|[12]\d|3[01])\2(?:19|20)\d{2}(?!\d)"
    r"|[$¥€£]\s?\d[\d,]*(?:\.\d+)?"
)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0[1-9]\d{8,10}")  # area code with its 0 (2-4 digits) + 7-8 digit local number
_LANDLINE_INTL = re.compile(r"[1-9]\d{8,10}")  # the same after +86, without the 0
_ID18 = re.compile(r"[1-9]\d{5}(?:18|19|20)\d{2}\d{4}\d{3}[\dX]")
_ID15 = re.compile(r"[1-9]\d{5}\d{2}\d{4}\d{3}")
# Province-level codes the first two digits must carry (9x: foreigners' permanent residence IDs).
_ID_REGIONS = frozenset(
    first + second
    for first, seconds in {"1": "12345", "2": "123", "3": "1234567", "4": "123456", "5": "01234", "6": "12345",
                           "7": "1", "8": "123", "9": "0123456789"}.items()
    for second in seconds
)  # fmt: skip
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MIN_RUN, _MAX_MATCH = 8, 19


def id_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _is_id18(s: str) -> bool:
    return (
        _ID18.fullmatch(s) is not None
        and s[:2] in _ID_REGIONS
        and _valid_date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        and id_check_char(s[:17]) == s[17]
    )


def _is_id15(s: str) -> bool:
    # Legacy IDs have no checksum: the embedded birth date is the only check.
    return (
        _ID15.fullmatch(s) is not None
        and s[:2] in _ID_REGIONS
        and _valid_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
    )


def _phone_shape(s: str, plus: bool, english: bool) -> Literal["strong", "weak"] | None:
    """'strong': an unmistakable phone format; 'weak': a bare 10-digit North American number, which
    an order or account number can look like too."""
    if plus:
        if s.startswith("86"):
            national = s[2:]
            if _MOBILE.fullmatch(national) or _LANDLINE_INTL.fullmatch(national) or _LANDLINE.fullmatch(national):
                return "strong"
            return None
        if s.startswith("1"):
            return "strong" if len(s) == 11 and s[1] in "23456789" else None
        return "strong" if 8 <= len(s) <= 15 and s[0] != "0" else None
    if s.startswith("00"):
        return _phone_shape(s[2:], True, english)
    if _MOBILE.fullmatch(s) or _LANDLINE.fullmatch(s) or (s.startswith("86") and _MOBILE.fullmatch(s[2:])):
        return "strong"
    # North American numbers (area code + 7 digits) are only plausible in English calls.
    if english and len(s) == 11 and s[0] == "1" and s[1] in "23456789":
        return "strong"
    return "weak" if english and len(s) == 10 and s[0] in "23456789" else None


# --- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["alnum", "cjk", "punct"]
    value: str  # lower-case ASCII, half-width punctuation, or a Chinese keyword
    start: int
    end: int
    spaced: bool  # whitespace before it


def _normalise(text: str) -> str:
    """Full-width → half-width, character by character so that offsets stay valid."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def _tokenise(norm: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n, spaced = 0, len(norm), False
    while i < n:
        ch = norm[i]
        if ch.isspace():
            spaced = True
            i += 1
            continue
        if ch.isascii() and ch.isalnum():
            j = i + 1
            while j < n and norm[j].isascii() and norm[j].isalnum():
                j += 1
            tokens.append(_Token("alnum", norm[i:j].lower(), i, j, spaced))
        elif not ch.isascii() and (ch.isalpha() or ch in _CN_DIGITS):
            j = i + 1
            for kw in _CN_KEYWORDS:
                if norm.startswith(kw, i):
                    j = i + len(kw)
                    break
            tokens.append(_Token("cjk", norm[i:j], i, j, spaced))
        else:
            j = i + 1
            tokens.append(_Token("punct", ch, i, j, spaced))
        i, spaced = j, False
    return tokens


def _token_digit(t: _Token) -> str | None:
    """The single digit a token spells, if it spells exactly one."""
    if t.kind == "alnum":
        if len(t.value) == 1 and t.value.isdigit():
            return t.value
        return _EN_UNITS.get(t.value)
    return _CN_DIGITS.get(t.value) if t.kind == "cjk" else None


def _spelled_digits(tokens: list[_Token], i: int, in_run: bool) -> tuple[str, int] | None:
    """Digits spelled by the token(s) at i, and how many tokens that took."""
    t = tokens[i]
    v = t.value
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if t.kind == "cjk":
        if v in _CN_DIGITS:
            return _CN_DIGITS[v], 1
        return ("X", 1) if v == "叉" and in_run else None
    if t.kind != "alnum":
        return None
    if v.isdigit():
        return v, 1
    if v[:-1].isdigit() and v[-1] == "x":
        return v[:-1] + "X", 1
    if v == "x" and in_run:
        return "X", 1
    if v in ("oh", "o") and not in_run and (nxt is None or nxt.kind != "alnum" or nxt.value not in _EN_UNITS):
        return None  # "Oh, 138..." is an interjection; "oh one three ..." is a zero
    if v in _EN_UNITS:
        return _EN_UNITS[v], 1
    if v in _EN_TEENS:
        return _EN_TEENS[v], 1
    if v in _EN_TENS:
        # "twenty three" / "twenty-three" = 23, a lone "twenty" = 20
        k = 2 if nxt is not None and nxt.value == "-" and not nxt.spaced else 1
        unit = tokens[i + k] if i + k < len(tokens) else None
        if unit is not None and unit.kind == "alnum" and unit.value in _EN_UNITS and _EN_UNITS[unit.value] != "0":
            return _EN_TENS[v] + _EN_UNITS[unit.value], k + 1
        return _EN_TENS[v] + "0", 1
    if v in _EN_REPEAT and nxt is not None:
        d = _token_digit(nxt)
        return (d * _EN_REPEAT[v], 2) if d is not None else None
    if v in _EN_SCALE and in_run:
        return _EN_SCALE[v], 1
    return None


# --- detection --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    kind: str
    rank: int  # tie-break on equal length: lower wins


@dataclass(slots=True)
class _Run:
    digits: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    group_start: list[bool] = field(default_factory=list)
    # A block is what was said or written as one piece: digits with no punctuation or hesitation
    # between them ("一三八零零…", "one three eight …"), or one written group ("0013"). A match takes
    # whole blocks, so that a phone shape is not fished out of the middle of a longer spoken number
    # (an order number, a misheard ID); only a last 一/两 may stay out, as it may start 一下, 两个.
    block_start: list[int] = field(default_factory=list)
    plus_at: dict[int, int] = field(default_factory=dict)  # digit index -> offset of its '+'

    def add(self, digits: str, start: int, end: int, plus: int | None, joined: bool) -> None:
        if plus is not None:
            self.plus_at[len(self.digits)] = plus
        block = self.block_start[-1] if joined and self.digits else len(self.digits)
        for k, d in enumerate(digits):
            self.digits.append(d)
            self.spans.append((start, end))
            self.group_start.append(k == 0)
            self.block_start.append(block)


def _scan_run(run: _Run, norm: str, english: bool, out: list[_Match]) -> None:
    """Leftmost-longest matches inside one run ("13800138000 13900139000" holds two), each made of
    whole blocks (see `_Run`)."""
    digits = "".join(run.digits)
    n = len(digits)
    if n < _MIN_RUN:
        return
    ends = [j for j in range(1, n + 1) if j == n or run.group_start[j]]
    block_end = [n] * n
    for k in range(n - 2, -1, -1):
        block_end[k] = block_end[k + 1] if run.block_start[k + 1] == run.block_start[k] else k + 1
    labelled = _labelled_not_pii(norm, run.spans[0][0])
    i = 0
    while i < n:
        found: tuple[int, str] | None = None
        if run.block_start[i] == i:
            lo, hi = bisect_left(ends, i + _MIN_RUN), bisect_right(ends, i + _MAX_MATCH)
            for j in reversed(ends[lo:hi]):
                left_out = block_end[j - 1] - j
                if left_out > 1 or (left_out and norm[run.spans[j][0]] not in "一两"):
                    continue
                kind = _classify(digits[i:j], i in run.plus_at, english, labelled)
                if kind is not None:
                    found = (j, kind)
                    break
        if found is None:
            i += 1
            continue
        j, kind = found
        start = run.plus_at.get(i, run.spans[i][0])
        if start > 0 and norm[start - 1] == "(":
            start -= 1
        out.append(_Match(start, run.spans[j - 1][1], kind, 1))
        i = j


def _classify(s: str, plus: bool, english: bool, labelled: bool) -> str | None:
    """The kind of PII the digit string `s` is, if any; `labelled`: an order/waybill label precedes it."""
    if "X" in s:
        return "id_number" if len(s) == 18 and _is_id18(s) else None
    if len(s) == 18 and _is_id18(s):
        return "id_number"
    phone = _phone_shape(s, plus, english)
    if phone == "strong" or (phone == "weak" and not labelled):
        return "phone"
    if 13 <= len(s) <= 19 and not plus and not labelled and luhn_valid(s):
        return "bank_card"
    if len(s) == 15 and _is_id15(s):
        return "id_number"
    return None


def _labelled_not_pii(norm: str, start: int) -> bool:
    before = norm[max(0, start - 20) : start].lower()
    return any(word in before for word in _NOT_PII_LABELS)


def _find_numbers(tokens: list[_Token], norm: str, excluded: list[bool], english: bool) -> list[_Match]:
    out: list[_Match] = []
    run = _Run()
    plus: int | None = None
    joined = False  # the previous token spelled digits and no punctuation or filler followed it
    written = False  # the previous digits were a written group such as "0013"

    def flush() -> None:
        nonlocal run, plus
        _scan_run(run, norm, english, out)
        run, plus = _Run(), None

    i = 0
    while i < len(tokens):
        t = tokens[i]
        if any(excluded[t.start : t.end]):
            flush()
            i += 1
            continue
        spelled = _spelled_digits(tokens, i, bool(run.digits))
        if spelled is not None:
            digits, used = spelled
            group = t.kind == "alnum" and len(t.value) > 1 and t.value[0].isdigit()
            run.add(digits, t.start, tokens[i + used - 1].end, plus, joined and not (t.spaced and (group or written)))
            plus, joined, written = None, True, group
            if digits.endswith("X"):  # a checksum X ends an ID
                flush()
            i += used
            continue
        joined = False
        if t.value in ("+", "plus"):
            flush()
            plus = t.start
        elif t.value in _FILLERS or (t.kind == "punct" and t.value in _DIGIT_SEPARATORS):
            # "... 8000. Next sentence": a full stop followed by a space ends the number
            if t.value == "." and i + 1 < len(tokens) and tokens[i + 1].spaced:
                flush()
        else:
            flush()
        i += 1
    flush()
    return out


def _unit_kind(t: _Token) -> Literal["digit", "word"] | None:
    """What an e-mail part can be made of: digits (written, spoken, Chinese) or an ASCII word."""
    if t.kind == "cjk":
        return "digit" if t.value in _CN_DIGITS else None
    if t.kind != "alnum" or t.value in _SPOKEN_WORDS:
        return None
    return "digit" if t.value.isdigit() or t.value in _EN_UNITS else "word"


def _glues(left: _Token, right: _Token) -> bool:
    """Two parts with no spoken/written joiner between them that still belong together."""
    lk, rk = _unit_kind(left), _unit_kind(right)
    if lk is None or rk is None:
        return False
    if not right.spaced:
        return True
    if len(left.value) == 1 and len(right.value) == 1 and left.kind == right.kind == "alnum":
        return True  # spelled out: "j o h n at ..."
    return rk == "digit" and (lk == "digit" or left.value not in _LOCAL_STOPWORDS)


def _find_emails(tokens: list[_Token]) -> list[_Match]:
    out: list[_Match] = []
    n = len(tokens)
    for k, at in enumerate(tokens):
        if at.value not in _AT or k == 0 or k + 1 >= n:
            continue
        spoken = at.kind != "punct"
        # local part, walking backwards from the @
        first = k - 1
        if _unit_kind(tokens[first]) is None or (spoken and tokens[first].value in _LOCAL_STOPWORDS):
            continue
        while first > 0:
            prev = tokens[first - 1]
            if prev.value in _DOT or prev.value in _LOCAL_JOINERS:
                if (
                    first - 2 >= 0
                    and _unit_kind(tokens[first - 2]) is not None
                    and not _literal_end(prev, tokens[first])
                ):
                    if tokens[first - 2].value in _LOCAL_STOPWORDS and spoken:
                        break
                    first -= 2
                    continue
                break
            if _glues(prev, tokens[first]) and not (spoken and prev.value in _LOCAL_STOPWORDS):
                first -= 1
                continue
            break
        # domain, walking forwards
        last = k + 1
        if _unit_kind(tokens[last]) is None:
            continue
        dots = 0
        while last + 1 < n:
            sep = tokens[last + 1]
            if (sep.value in _DOT or sep.value in _DOMAIN_JOINERS) and last + 2 < n:
                if _unit_kind(tokens[last + 2]) is None or _literal_end(sep, tokens[last + 2]):
                    break
                spoken = spoken or sep.kind != "punct"
                dots += sep.value in _DOT
                last += 2
                continue
            if _glues(tokens[last], sep) and _unit_kind(tokens[last]) == "digit" == _unit_kind(sep):
                last += 1
                continue
            break
        tld = tokens[last].value
        if dots and tld.isalpha() and tld.isascii() and (tld in _SPOKEN_TLDS if spoken else len(tld) >= 2):
            out.append(_Match(tokens[first].start, tokens[last].end, "email", 0))
    return out


def _literal_end(sep: _Token, after: _Token) -> bool:
    """A written '.' followed by a space ends a sentence, it does not join an address."""
    return sep.kind == "punct" and after.spaced


def _digit_text(norm: str) -> str:
    return "".join(_CN_DIGITS.get(ch, ch) for ch in norm)


# --- the redactor -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Aligned:
    text: str
    owner: list[int]  # text offset -> word index, -1 where no word carries the character
    offset: list[int]  # text offset -> offset inside that word's string


class Redactor:
    """Finds PII in transcript turns and replaces it by `[KIND]` placeholders.

    Built once per process; `extra_patterns` (name -> regular expression) are compiled here so a
    bad pattern stops the service at start-up instead of leaking PII later.
    """

    def __init__(self, extra_patterns: Mapping[str, str] = _NO_PATTERNS) -> None:
        self._patterns: list[tuple[str, Any]] = []
        for name, pattern in extra_patterns.items():
            if not _NAME.fullmatch(name) or name.lower() in BUILTIN_KINDS:
                raise ValueError(f"redaction pattern name {name!r} must be an identifier other than {BUILTIN_KINDS}")
            try:
                self._patterns.append((name, compile_pattern(pattern)))
            except ValueError as exc:
                raise ValueError(f"redaction pattern {name!r}: {exc}") from None

    @staticmethod
    def placeholder(kind: str) -> str:
        return f"[{kind.upper()}]"

    def redact_turns(self, turns: list[Turn], language: str) -> tuple[list[Turn], list[Redaction]]:
        new_turns: list[Turn] = []
        redactions: list[Redaction] = []
        for turn in turns:
            new_turn, found = self._redact_turn(turn, language)
            new_turns.append(new_turn)
            redactions.extend(found)
        return new_turns, redactions

    def find(self, text: str, language: str) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, kind) spans of PII in `text`, in order."""
        english = language.lower().startswith("en")
        norm = _normalise(text)
        excluded = [False] * len(norm)
        for number in _NOT_PII_NUMBERS.finditer(norm):
            excluded[number.start() : number.end()] = [True] * (number.end() - number.start())
        tokens = _tokenise(norm)
        matches = _find_numbers(tokens, norm, excluded, english) + _find_emails(tokens)
        if self._patterns:
            views = {norm, _digit_text(norm)}  # "会员号一二三四五六" must match 会员号\d{6} too
            for name, pattern in self._patterns:
                for view in views:
                    for hit in pattern.finditer(view):
                        start, end = hit.span()
                        while start < end and view[start].isspace():
                            start += 1
                        while end > start and view[end - 1].isspace():
                            end -= 1
                        if end > start:
                            matches.append(_Match(start, end, name, -1))
        # Longest first (an e-mail beats the phone number that is its local part); then rank
        # (configured patterns are the site's own, more specific knowledge), then position.
        matches.sort(key=lambda m: (m.start - m.end, m.rank, m.start))
        taken = [False] * len(norm)
        chosen: list[tuple[int, int, str]] = []
        for m in matches:
            if not any(taken[m.start : m.end]):
                taken[m.start : m.end] = [True] * (m.end - m.start)
                chosen.append((m.start, m.end, m.kind))
        return sorted(chosen)

    def _redact_turn(self, turn: Turn, language: str) -> tuple[Turn, list[Redaction]]:
        aligned = _align(turn)
        spans = self.find(aligned.text, language)
        if not spans:
            return turn.model_copy(deep=True), []
        words = turn.words
        pieces: list[str] = []
        redactions: list[Redaction] = []
        cursor = 0
        length = 0
        for start, end, kind in spans:
            pieces.append(aligned.text[cursor:start])
            length += start - cursor
            holder = self.placeholder(kind)
            first, last = aligned.owner[start], aligned.owner[end - 1]
            if first >= 0 and last >= 0:
                begin_ms = min(w.begin_ms for w in words[first : last + 1])
                end_ms = max(w.end_ms for w in words[first : last + 1])
            else:
                begin_ms, end_ms = turn.begin_ms, turn.end_ms
            redactions.append(Redaction(turn_id=turn.id, kind=kind, begin_ms=begin_ms, end_ms=end_ms,
                                        char_start=length, char_end=length + len(holder)))  # fmt: skip
            pieces.append(holder)
            length += len(holder)
            cursor = end
        pieces.append(aligned.text[cursor:])
        new_words = _redact_words(words, aligned, spans, self.placeholder)
        return turn.model_copy(update={"text": "".join(pieces), "words": new_words}, deep=True), redactions


def _align(turn: Turn) -> _Aligned:
    """Map each character of the turn's text to the word that carries it (ignoring whitespace).
    If text and words disagree, the text is rebuilt from the words so that the two stay consistent."""
    text = turn.text
    owner = [-1] * len(text)
    offset = [0] * len(text)
    if not turn.words:
        return _Aligned(text, owner, offset)
    p = 0
    ok = True
    for k, word in enumerate(turn.words):
        for q, ch in enumerate(word.text):
            if ch.isspace():
                continue
            while p < len(text) and text[p].isspace():
                p += 1
            if p >= len(text) or text[p] != ch:
                ok = False
                break
            owner[p], offset[p] = k, q
            p += 1
        if not ok:
            break
    if ok and not text[p:].strip():
        return _Aligned(text, owner, offset)
    owner, offset, chars = [], [], []
    for k, word in enumerate(turn.words):
        for q, ch in enumerate(word.text):
            chars.append(ch)
            owner.append(k)
            offset.append(q)
    rebuilt = "".join(chars)
    lead = len(rebuilt) - len(rebuilt.lstrip())
    keep = len(rebuilt.rstrip())
    return _Aligned(rebuilt[lead:keep], owner[lead:keep], offset[lead:keep])


def _redact_words(
    words: list[Word], aligned: _Aligned, spans: list[tuple[int, int, str]], placeholder: Callable[[str], str]
) -> list[Word]:
    """Words touched by one span (or by spans sharing a word) become one word with the placeholder."""
    clusters: list[tuple[int, int, list[tuple[int, int, str]]]] = []
    for start, end, kind in spans:
        first, last = aligned.owner[start], aligned.owner[end - 1]
        if first < 0 or last < 0:
            continue
        if clusters and clusters[-1][1] >= first:
            c_first, c_last, members = clusters[-1]
            clusters[-1] = (c_first, max(c_last, last), [*members, (start, end, kind)])
        else:
            clusters.append((first, last, [(start, end, kind)]))
    out: list[Word] = []
    k = 0
    for first, last, members in clusters:
        out.extend(w.model_copy() for w in words[k:first])
        base = {}
        pos = 0
        for j in range(first, last + 1):
            base[j] = pos
            pos += len(words[j].text)
        joined = "".join(w.text for w in words[first : last + 1])
        for start, end, kind in reversed(members):
            a = base[aligned.owner[start]] + aligned.offset[start]
            b = base[aligned.owner[end - 1]] + aligned.offset[end - 1] + 1
            joined = joined[:a] + placeholder(kind) + joined[b:]
        group = words[first : last + 1]
        out.append(
            Word(
                text=joined,
                begin_ms=group[0].begin_ms,
                end_ms=max(w.end_ms for w in group),
                probability=min(w.probability for w in group),
            )
        )
        k = last + 1
    out.extend(w.model_copy() for w in words[k:])
    return out


# --- audio ------------------------------------------------------------------------------------

_TONE_HZ = 1000
_TONE_AMPLITUDE = 0.25  # about -12 dBFS: clearly audible, never clipping when mixed with silence
_PCM_PREFIX = "pcm_"
# ffmpeg's native encoders for these are missing or experimental; the library ones are the usual choice.
_ENCODERS = {"mp3": "libmp3lame", "opus": "libopus", "vorbis": "libvorbis"}


@dataclass(frozen=True, slots=True)
class _AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    channel_layout: str
    bit_rate: int | None


def _probe(source: Path) -> _AudioInfo:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,sample_rate,channels,channel_layout,bit_rate", "-of", "json", str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    streams = json.loads(result.stdout or "{}").get("streams") if result.returncode == 0 else None
    if not streams:
        raise ValueError(f"{source}: no audio stream ({result.stderr.strip()[-300:]})")
    s = streams[0]
    bit_rate = s.get("bit_rate")
    return _AudioInfo(
        codec=str(s["codec_name"]),
        sample_rate=int(s["sample_rate"]),
        channels=int(s["channels"]),
        channel_layout=str(s.get("channel_layout") or ""),
        bit_rate=int(bit_rate) if bit_rate and str(bit_rate).isdigit() else None,
    )


def _windows(redactions: Sequence[Redaction], pad_ms: int) -> list[tuple[int, int]]:
    spans = sorted((max(0, r.begin_ms - pad_ms), r.end_ms + pad_ms) for r in redactions)
    merged: list[tuple[int, int]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def redact_audio(
    source: Path,
    target: Path,
    redactions: Sequence[Redaction],
    *,
    mode: Literal["tone", "silence"],
    pad_ms: int = 150,
) -> None:
    """Write a copy of `source` to `target` with every redaction span (± pad) silenced or replaced by
    a 1 kHz tone on all channels (either party may have spoken the PII; the other channel may echo it).

    ffmpeg streams the call, so memory does not grow with its length. The codec, sample rate and
    channel count are the source's; the container follows `target`'s suffix.
    """
    windows = _windows(redactions, pad_ms)
    if not windows:
        shutil.copyfile(source, target)
        return
    info = _probe(source)
    # The timeline (`enable=`) is evaluated once per frame: 10 ms frames bound the masking error.
    frame = max(1, info.sample_rate // 100)
    frame_s = frame / info.sample_rate
    gate = "+".join(f"between(t,{max(0.0, b / 1000 - frame_s):.4f},{e / 1000:.4f})" for b, e in windows)
    layout = info.channel_layout or f"{info.channels}c"
    fmt = f"aformat=sample_rates={info.sample_rate}:channel_layouts={layout}"
    graph = f"[0:a]asetpts=PTS-STARTPTS,asetnsamples=n={frame}:p=0,volume=volume=0:enable='{gate}'"
    if mode == "tone":
        graph += (
            f",{fmt}[muted];"
            f"aevalsrc=exprs={_TONE_AMPLITUDE}*sin(2*PI*{_TONE_HZ}*t):s={info.sample_rate}:c={layout}:n={frame},"
            f"volume=volume=0:enable='not({gate})',{fmt}[tone];"
            "[muted][tone]amix=inputs=2:duration=first:dropout_transition=0:normalize=0"
        )
    graph += "[out]"
    codec_args = [
        "-c:a",
        _ENCODERS.get(info.codec, info.codec),
        "-ar",
        str(info.sample_rate),
        "-ac",
        str(info.channels),
    ]
    if info.bit_rate and not info.codec.startswith(_PCM_PREFIX):
        codec_args += ["-b:a", str(info.bit_rate)]
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    graph_args = ["-filter_complex", graph]
    script: Path | None = None
    if len(graph) > 100_000:  # beyond one argv string's limit: hand it to ffmpeg as a file
        script = target.with_name(f".{target.stem}.filter")
        script.write_text(graph)
        graph_args = ["-filter_complex_script", str(script)]
    try:
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
             *graph_args, "-map", "[out]", "-map_metadata", "0", *codec_args, str(partial)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"ffmpeg could not redact {source}: {result.stderr.strip()[-500:]}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        if script is not None:
            script.unlink(missing_ok=True)
