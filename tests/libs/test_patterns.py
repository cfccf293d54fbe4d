from __future__ import annotations

import random
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


@pytest.mark.parametrize("pattern", [r"x+", r"y*", r"\b", r"(x)|(y)", r"(?m)^", r"(?m)$", "好?", r".", r"\B"])
def test_match_spans_finds_what_finditer_finds(pattern: str) -> None:
    """The same matches as the module's finditer, without its doubles and without empty matches inside a
    character (好 is three bytes of UTF-8)."""
    compiled = compile_pattern(pattern)
    rng = random.Random(pattern)
    for _ in range(200):
        data = "".join(rng.choices(["x", "y", " ", "好", "\n"], k=rng.randint(0, 8))).encode()
        expected, last = [], None
        for match in compiled.finditer(data):
            span = match.span()
            if span[0] == span[1] and (span == last or (span[0] < len(data) and 0x80 <= data[span[0]] < 0xC0)):
                continue
            last = span
            expected.append([match.span(group) for group in range(compiled.groups + 1)])
        assert list(match_spans(compiled, data)) == expected, (pattern, data)
