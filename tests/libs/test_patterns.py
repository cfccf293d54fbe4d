from __future__ import annotations

import random
import re
import time

import pytest

from callqa.patterns import compile_pattern, match_spans


def test_case_sensitivity_is_the_callers_choice() -> None:
    assert compile_pattern("ORD-\\d+").search("ord-12") is None
    assert compile_pattern("ORD-\\d+", case_sensitive=False).search("ord-12") is not None


@pytest.mark.parametrize("pattern", ["(unclosed", "(?<=a)b", "(a)\\1"], ids=["syntax", "lookbehind", "backreference"])
def test_what_re2_cannot_compile_is_refused_with_its_reason(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"not a valid RE2 pattern: .+"):
        compile_pattern(pattern)


def test_matching_time_is_linear_even_for_a_pathological_pattern() -> None:
    pattern = compile_pattern("(a+)+$")
    started = time.perf_counter()
    assert pattern.search("a" * 20_000 + "!") is None
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("pattern", [r"x+", r"y*", r"\b", r"(x)|(y)", r"(?m)^", r"(?m)$", "好?", r".", r"x*y?"])
def test_match_spans_finds_what_python_re_finditer_finds(pattern: str) -> None:
    """The same matches and group spans as `re.finditer` (the re2 module reports some empty matches twice)."""
    compiled = compile_pattern(pattern)
    rng = random.Random(pattern)
    # RE2's \b and \B know ASCII word characters only, Python's all of Unicode's: not what is compared here.
    alphabet = ["x", "y", " ", "\n"] + ([] if "\\b" in pattern.lower() else ["好"])
    for _ in range(300):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 8)))
        expected = [[m.span(g) for g in range(m.re.groups + 1)] for m in re.finditer(pattern, text)]
        assert list(match_spans(compiled, text)) == expected, (pattern, text)
