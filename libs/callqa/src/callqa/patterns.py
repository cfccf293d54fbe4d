"""Regular expressions that users configure (scorecard rules, redaction patterns), compiled with RE2.

RE2 matches in time linear in the text, so a pathological pattern such as `(a+)+$` cannot stall a worker
the way a backtracking engine would. The price is RE2's syntax: no lookaround, no backreferences; such a
pattern is refused when it is configured, with RE2's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2

_UNANCHORED = re2._Anchor.UNANCHORED


def compile_pattern(pattern: str, *, case_sensitive: bool = True) -> Any:
    """The compiled RE2 pattern; ValueError naming the problem when RE2 cannot compile it."""
    options = re2.Options()
    options.log_errors = False  # the error goes to the caller, not to stderr from the C++ library
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not a valid RE2 pattern: {detail}") from None


def match_spans(pattern: Any, data: bytes) -> Iterator[list[tuple[int, int]]]:
    """The successive matches of a compiled pattern in UTF-8 `data`, each as its spans in bytes: the whole
    match, then each group's ((-1, -1) for a group that took no part).

    What `pattern.finditer(data)` finds, read from RE2 directly: no match object is built (a worker pays
    for those on every call it scores), and an empty match is reported once, never inside a character
    (the re2 module steps over bytes and may report an empty match twice). A search resumes at the end of
    a match, or at the next character after an empty one.
    """
    search = pattern._regexp.Match  # the module's own search (google-re2 is pinned to a minor version)
    position, end = 0, len(data)
    while position <= end:
        spans: list[tuple[int, int]] = search(_UNANCHORED, data, position, end)
        start, stop = spans[0]
        if start < 0:
            return
        if start < stop:
            position = stop
        else:
            position = stop + 1
            while position < end and 0x80 <= data[position] < 0xC0:
                position += 1
            if start < end and 0x80 <= data[start] < 0xC0:
                continue
        yield spans
