"""Type stubs for the C extension built from `services/scorer/native/` (the scorer's inner loops)."""

from array import array
from collections.abc import Callable, Sequence
from typing import Any

class Automaton:
    """All phrases in one Aho-Corasick automaton; a phrase's id is its index (empty phrases never match).
    Per phrase, `joints`: the offsets inside it where a clause break may fall, or None; `aligned`:
    whether to check its word boundaries (by default, all are checked)."""

    def __init__(
        self,
        phrases: Sequence[str],
        joints: Sequence[Sequence[int] | None] | None = None,
        aligned: Sequence[bool] | None = None,
    ) -> None: ...
    def scan(
        self,
        text: str,
        bounds: Sequence[int],
        breaks: Sequence[int] = (),
        dictionary: Dictionary | None = None,
        logtotal: float = 0.0,
    ) -> Hits:
        """Every occurrence of every phrase that lies within one turn `[bounds[t], bounds[t + 1])`, with
        its flags: 1 whole (no clause break of `breaks` inside but at the phrase's joints), 2 aligned
        (starts and ends on word boundaries: from `dictionary`'s cut of the clause around it, else where
        the text has spaces; never set for a phrase not to be checked)."""

class Hits:
    """A call's raw hits, from `Automaton.scan`, grouped by phrase id (each phrase's in text order)."""

    def __len__(self) -> int: ...
    def select(
        self, groups: Sequence[Sequence[int]], members: bytes | bytearray, required: int
    ) -> list[list[tuple[int, int, int]]]:
        """Per group of phrase ids, the hits of its phrases in member turns (`members[turn]` non-zero)
        that carry all `required` flags, as (turn, start, end): a phrase's hits in text order, phrase
        after phrase."""
    def tally(
        self, groups: Sequence[Sequence[int]], members: bytes | bytearray, required: int, limit: int
    ) -> tuple[int, int, list[tuple[int, int, int]]]:
        """What `select` selects, summed up without a Python object per hit: how many groups have a hit,
        how many hits `non_overlapping` would keep of them all, and the first `limit` of those."""
    def near(
        self,
        firsts: Sequence[int],
        seconds: Sequence[int],
        members: bytes | bytearray,
        required: int,
        within: int,
        ordered: bool,
        words: str | None,
        limit: int,
    ) -> list[tuple[int, int, int]]:
        """`near` of the hits of the phrases `firsts` and those of `seconds`, each selected as `select`
        selects them, without a Python object per hit."""
    def by_phrase(self) -> dict[int, list[tuple[int, int, int, int]]]:
        """Every hit as (turn, start, end, flags), by phrase id."""

class Dictionary:
    """A copy of jieba's frequency table (`FREQ`: each word, and each prefix of a word with count 0)."""

    def __init__(self, freq: dict[str, int]) -> None: ...
    def set(self, key: str, count: int) -> None:
        """Add a key or change its count, as jieba's `add_word` changes `FREQ`."""
    def set_shape(self, phrase: str, inner: Sequence[int]) -> None:
        """Where the words of a phrase meet: word boundaries wherever the phrase is cut out whole."""
    def segment(self, text: str, logtotal: float) -> list[tuple[int, int]]:
        """jieba's dictionary-only cut of `text` as (start, end) per word, given `log(total)`; a run of
        single ASCII letters/digits is one word."""

class Normaliser:
    """A transcript's full and match views (see normalise.py) from a table of 0x110000 packed 32-bit
    entries, one per code point (the layout is in normalise._CodePoints)."""

    def __init__(
        self,
        table: array[int],
        expansions: dict[int, str],
        convert: Callable[[str], str | None],
        measures: str,
        measure_words: tuple[str, ...],
    ) -> None: ...
    def views(
        self, texts: Sequence[str], cjk: bool
    ) -> tuple[str, str, list[int], list[int], list[int], Origins, list[int]] | set[int]:
        """(full, match, full_starts, match_starts, breaks, origins, utf8_starts): utf8_starts where each
        turn starts in the full view's UTF-8; or the code points the table does not know yet (to learn
        first)."""

class Origins:
    """The way back from a call's views to the original text (the turns joined by newlines)."""

    @property
    def original(self) -> str: ...
    def match(self, start: int, end: int) -> str:
        """The original text behind the (non-empty) match-view span [start, end)."""
    def full(self, start: int, end: int) -> str:
        """The original text behind the full-view span [start, end) ("" when it is empty)."""
    def evidence(
        self, hits: Sequence[tuple[int, int, int]], ids: list[str], begins: list[int], ends: list[int]
    ) -> list[dict[str, Any]]:
        """The fields of a `callqa.events.Evidence` for each match-view hit (turn, start, end): the turn's
        id, begin and end (from the lists), and the original text behind the hit."""

def columns(objects: Sequence[object], names: tuple[str, ...]) -> tuple[list[Any], ...]:
    """For each name, that attribute of every object, in order (what a comprehension per field gives)."""

def similar_turns(
    text: str,
    bounds: Sequence[int],
    members: Sequence[int],
    words: bool,
    min_length: int,
    min_repeats: int,
    similarity: float,
) -> list[int] | None:
    """Of the `members` (turns `text[bounds[t]:bounds[t + 1]]`) with at least `min_length` units (its
    characters, or with `words` its words: `text` is a match view, words separated by single spaces),
    the first (fewest distinct unit bigrams first, then in order) that at least `min_repeats - 1` others
    resemble (Jaccard similarity of distinct bigrams >= `similarity`, which must be in (0, 1]), with
    those others: their turn indices, ascending."""

def near(
    firsts: Sequence[tuple[int, int, int]],
    seconds: Sequence[tuple[int, int, int]],
    within: int,
    ordered: bool,
    words: str | None = None,
    limit: int = ...,
) -> list[tuple[int, int, int]]:
    """In each turn that has both, each distinct first hit (in text order) paired with the first distinct
    second hit that is at most `within` apart: characters, or words of `words` (a match view, words
    separated by single spaces) when given; overlapping hits are 0 or less apart. With `ordered`, the
    second must start at or after the first's end. Each pair gives the span from the earlier start to
    the later end. Turns in order, stopping once `limit` spans are found (a turn is finished first)."""

def non_overlapping(groups: Sequence[list[tuple[int, int, int]]]) -> list[tuple[int, int, int]]:
    """The hits of all groups sorted by start, longer first, keeping each that does not overlap the last
    one kept (leftmost-longest; equal hits keep the first given)."""
