from __future__ import annotations

import time

import pytest

from callqa.patterns import compile_pattern


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
