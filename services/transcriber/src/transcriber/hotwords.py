"""Key phrases QA listens for, as faster-whisper `hotwords`: decoding biased towards a scorecard's wording.

faster-whisper puts `hotwords` before the prompt of every 30 s window (after `<|startofprev|>`), as if the
phrases had been said just before: words the model hesitates over lean towards them. What to put there comes
from configuration (`AsrSettings.hotwords`: a text per language) and/or scorecard files
(`AsrSettings.hotwords_scorecards`: the YAML or JSON documents the scorer serves, default-zh.yaml …): the
phrases an item's condition looks for (`phrases`, and `first`/`second` of a proximity) of the items of the
chosen kinds, taken in turn (each item's first phrase in card order, then each item's second, ...). Phrases for
the customer's side (`role: customer`), negations, exclusions, synonyms, regexes and the scorer's built-in
lexicons are left out, and so are one-character phrases (您, 请: no wording to bias towards). The result is cut
at a phrase boundary to a token budget, because the hotwords share the model's 448-token window with the prompt
and the decoded text.

Deliberately small and generic: it reads a scorecard as plain data and never imports the scorer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

PHRASE_KEYS = ("phrases", "first", "second")
DEFAULT_KINDS = ("requirement", "bonus")  # what an agent should say; see docs/benchmarks.md "accuracy from audio"
SEPARATORS = {"zh": " ", "ja": " "}  # joiner of the phrases (", " for the others); a "，" gets copied as "４"


class HotwordsError(ValueError):
    """A scorecard file that cannot be read as a scorecard."""


def base_language(language: str) -> str:
    """'zh-CN' -> 'zh', 'EN' -> 'en'."""
    return language.split("-")[0].lower()


def load_scorecard(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        card = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise HotwordsError(f"cannot read the scorecard {path}: {exc}") from exc
    if not isinstance(card, Mapping) or not isinstance(card.get("language"), str):
        raise HotwordsError(f"{path} is not a scorecard (a mapping with a language)")
    return card


def key_phrases(card: Mapping[str, Any], kinds: Collection[str] | None = DEFAULT_KINDS) -> list[str]:
    """The phrases the card's items (of `kinds`; None = all) look for in the agent's speech, taken in turn from
    item (each item's first phrase in card order, then each item's second ...), so that a token budget that holds
    only some of them still holds some of every item's."""
    per_item: list[list[str]] = []
    for section in card.get("sections") or []:
        for item in section.get("items") or []:
            if kinds is None or item.get("kind") in kinds:
                per_item.append([phrase for phrase in _phrases(item.get("condition")) if len(phrase) > 1])
    found: dict[str, None] = {}
    for rank in range(max(map(len, per_item), default=0)):
        for phrases in per_item:
            if rank < len(phrases):
                found.setdefault(phrases[rank], None)
    return list(found)


def _phrases(condition: Any) -> Iterator[str]:
    if isinstance(condition, list):
        for part in condition:
            yield from _phrases(part)
        return
    if not isinstance(condition, Mapping) or condition.get("role") == "customer":
        return
    for key in PHRASE_KEYS:
        values = condition.get(key)
        if isinstance(values, list):
            yield from (str(value).strip() for value in values if str(value).strip())
    yield from _phrases(condition.get("conditions"))
    # A phrase under `not` is what must be absent: biasing towards it would make the item fail.
    if condition.get("type") != "not":
        yield from _phrases(condition.get("condition"))


def join(phrases: Iterable[str], language: str) -> str:
    return SEPARATORS.get(base_language(language), ", ").join(phrases)


def fit(phrases: Sequence[str], language: str, count_tokens: Callable[[str], int], max_tokens: int) -> tuple[str, int]:
    """The longest prefix of `phrases` (whole phrases) whose joined text has at most `max_tokens` tokens,
    and how many phrases it holds."""
    low, high = 0, len(phrases)
    while low < high:  # tokens grow with each phrase added: binary search for the last prefix that fits
        middle = (low + high + 1) // 2
        if count_tokens(join(phrases[:middle], language)) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return join(phrases[:low], language), low


def by_language(
    configured: Mapping[str, str], scorecards: Iterable[Path], kinds: Collection[str] | None = DEFAULT_KINDS
) -> dict[str, list[str]]:
    """language -> phrases: the configured text first (as one phrase), then each scorecard's key phrases."""
    result: dict[str, list[str]] = {}
    for language, text in configured.items():
        if text.strip():
            result.setdefault(base_language(language), []).append(text.strip())
    for path in scorecards:
        card = load_scorecard(path)
        phrases = result.setdefault(base_language(card["language"]), [])
        phrases += [phrase for phrase in key_phrases(card, kinds) if phrase not in phrases]
    return {language: phrases for language, phrases in result.items() if phrases}
