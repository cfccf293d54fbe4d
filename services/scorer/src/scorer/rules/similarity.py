"""Customer repetition: turns that say nearly the same thing, by the Jaccard similarity of their bigrams."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Literal

_SLACK = 1e-9  # the size window is a shortcut: rounding must not make it drop a pair that is alike


def similar_turns(
    units: Mapping[int, Sequence[str]],
    min_length: int,
    min_repeats: int,
    similarity: float,
    measure: Literal["jaccard", "containment"] = "jaccard",
) -> list[int] | None:
    """Of the turns (index -> its units: characters or words) with at least `min_length` units, the first
    (fewest distinct unit bigrams first, then by index) that at least `min_repeats - 1` others resemble
    (Jaccard similarity of their distinct unit bigrams >= `similarity`, in (0, 1]; or with `containment`, the
    share of the smaller turn's bigrams that the other has: a request said again inside a longer turn), with
    those others: their indices, ascending. None when there is none."""
    if not 0 < similarity <= 1:
        raise ValueError("similarity must be in (0, 1]")  # 0 would make turns with nothing in common alike
    grams = {turn: set(pairwise(seq)) for turn, seq in units.items() if len(seq) >= min_length}
    ordered = sorted((len(bigrams), turn) for turn, bigrams in grams.items() if bigrams)
    sizes = [size for size, _ in ordered]
    for size, turn in ordered:
        mine = grams[turn]
        alike = [turn]
        if measure == "jaccard":  # Jaccard <= smaller / larger: only turns of a comparable size can be alike
            low, high = bisect_left(sizes, similarity * size - _SLACK), bisect_right(sizes, size / similarity + _SLACK)
        else:
            low, high = 0, len(ordered)
        for other_size, other in ordered[low:high]:
            if other != turn:
                shared = len(mine & grams[other])
                whole = size + other_size - shared if measure == "jaccard" else min(size, other_size)
                if shared and shared / whole >= similarity:
                    alike.append(other)
        if len(alike) >= min_repeats:
            return sorted(alike)
    return None
