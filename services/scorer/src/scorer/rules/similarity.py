"""Customer repetition: turns that say nearly the same thing, by the Jaccard similarity of their bigrams."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from itertools import pairwise

_SLACK = 1e-9  # the size window is a shortcut: rounding must not make it drop a pair that is alike


def similar_turns(
    units: Mapping[int, Sequence[str]], min_length: int, min_repeats: int, similarity: float
) -> list[int] | None:
    """Of the turns (index -> its units: characters or words) with at least `min_length` units, the first
    (fewest distinct unit bigrams first, then by index) that at least `min_repeats - 1` others resemble
    (Jaccard similarity of their distinct unit bigrams >= `similarity`, in (0, 1]), with those others: their
    indices, ascending. None when there is none."""
    if not 0 < similarity <= 1:
        raise ValueError("similarity must be in (0, 1]")  # 0 would make turns with nothing in common alike
    grams = {turn: set(pairwise(seq)) for turn, seq in units.items() if len(seq) >= min_length}
    ordered = sorted((len(bigrams), turn) for turn, bigrams in grams.items() if bigrams)
    sizes = [size for size, _ in ordered]
    for size, turn in ordered:
        mine = grams[turn]
        alike = [turn]
        # Jaccard <= smaller / larger: only turns of a comparable size can be similar enough.
        for other_size, other in ordered[
            bisect_left(sizes, similarity * size - _SLACK) : bisect_right(sizes, size / similarity + _SLACK)
        ]:
            if other != turn:
                shared = len(mine & grams[other])
                if shared and shared / (size + other_size - shared) >= similarity:
                    alike.append(other)
        if len(alike) >= min_repeats:
            return sorted(alike)
    return None
