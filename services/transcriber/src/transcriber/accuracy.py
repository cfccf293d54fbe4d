"""Word and character error rates, for tests and the ASR benchmark.

Both texts are normalised the same way first, so only recognition errors count, not the writing
conventions: case, punctuation, hyphenation and common abbreviations (English); punctuation, spacing,
traditional characters and Arabic numerals (Mandarin, where whisper writes "3" or "三" at random).
Several utterances are scored as a corpus: total edits over total reference length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

import cn2an
import zhconv

# Whisper writes these abbreviated; reference transcripts (LibriSpeech style) spell them out.
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
_EN_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def normalise_en(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    return [_ABBREVIATIONS.get(w, w) for w in _EN_TOKEN.findall(text.replace("-", " "))]


def normalise_zh(text: str) -> list[str]:
    text = zhconv.convert(unicodedata.normalize("NFKC", text), "zh-cn")
    text = cn2an.transform(text, "an2cn")  # "3个" and "三个" are the same words
    return [ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith(("P", "S"))]


_NUMERALS = re.compile(r"[0-9零〇一二两三四五六七八九十百千万亿幺]")


def normalise_zh_without_numerals(text: str) -> list[str]:
    """`normalise_zh` with every numeral character left out (some ordinary words lose a character too, on both
    sides alike): the reference writes "135 0982 6617" and "一百九十九元", whisper "13 5 9 82" or "一三五…", and
    `an2cn` reads digit groups as cardinals, so a call's phone number can weigh more than its sentences."""
    return [ch for ch in normalise_zh(text) if not _NUMERALS.match(ch)]


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance (substitutions + deletions + insertions), O(len(reference) * len(hypothesis))."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def wer(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """Word error rate of English text; pass equal-length sequences to score a corpus of utterances."""
    return _error_rate(reference, hypothesis, normalise_en)


def cer(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """Character error rate of Mandarin text; pass equal-length sequences to score a corpus of utterances."""
    return _error_rate(reference, hypothesis, normalise_zh)


def cer_without_numerals(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    return _error_rate(reference, hypothesis, normalise_zh_without_numerals)


def _error_rate(
    reference: str | Sequence[str], hypothesis: str | Sequence[str], normalise: Callable[[str], list[str]]
) -> float:
    references = [reference] if isinstance(reference, str) else list(reference)
    hypotheses = [hypothesis] if isinstance(hypothesis, str) else list(hypothesis)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    edits = length = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref_units = normalise(ref)
        edits += edit_distance(ref_units, normalise(hyp))
        length += len(ref_units)
    if length == 0:
        raise ValueError("the reference is empty after normalisation")
    return edits / length
