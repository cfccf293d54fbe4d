"""Regular expressions that users configure (scorecard rules, redaction patterns), compiled with RE2.

RE2 matches in time linear in the text, so a pathological pattern such as `(a+)+$` cannot stall a worker
the way a backtracking engine would. The price is RE2's syntax: no lookaround, no backreferences; such a
pattern is refused when it is configured, with RE2's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2


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


def match_spans(pattern: Any, text: str) -> Iterator[list[tuple[int, int]]]:
    """The successive matches of a compiled pattern in `text`, each as its spans: the whole match, then each
    group's ((-1, -1) for a group that took no part). As `re.finditer` finds them: a search resumes at the end
    of a match, an empty match is reported once (the re2 module may report one twice)."""
    groups = range(pattern.groups + 1)
    previous: tuple[int, int] | None = None
    for match in pattern.finditer(text):
        span = match.span()
        if span[0] == span[1] and span == previous:
            continue
        previous = span
        yield [match.span(group) for group in groups]
