"""Where an error's path lies in a JSON document: the scorer names the field at fault
(`sections[0].items[2].points`); the editor shows the document laid out again, with each error's line, so the
error can be shown beside its field and the cursor moved there."""

from __future__ import annotations

import json
import re
from typing import Any

_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def steps(path: str) -> list[str | int]:
    """`sections[0].items[2].points` -> ["sections", 0, "items", 2, "points"]."""
    return [int(index) if index else name for index, name in _STEP.findall(path)]


def layout(document: Any) -> tuple[str, dict[tuple[str | int, ...], int]]:
    """The document as `json.dumps(indent=2)` writes it, and the line (from 1) where each value starts."""
    lines: list[str] = []
    where: dict[tuple[str | int, ...], int] = {}

    def emit(value: Any, at: tuple[str | int, ...], prefix: str, indent: str, comma: str) -> None:
        where[at] = len(lines) + 1
        inner = indent + "  "
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{prefix}{{")
            for n, (key, item) in enumerate(value.items()):
                emit(
                    item,
                    (*at, key),
                    json.dumps(key, ensure_ascii=False) + ": ",
                    inner,
                    "," if n < len(value) - 1 else "",
                )
            lines.append(f"{indent}}}{comma}")
        elif isinstance(value, list) and value:
            lines.append(f"{indent}{prefix}[")
            for n, item in enumerate(value):
                emit(item, (*at, n), "", inner, "," if n < len(value) - 1 else "")
            lines.append(f"{indent}]{comma}")
        else:
            lines.append(f"{indent}{prefix}{json.dumps(value, ensure_ascii=False)}{comma}")

    emit(document, (), "", "", "")
    return "\n".join(lines), where


def line_of(where: dict[tuple[str | int, ...], int], path: str) -> int:
    """The line of the deepest part of `path` the document has (a missing field: its parent object's line)."""
    found: tuple[str | int, ...] = ()
    for step in steps(path):
        if (*found, step) not in where:
            break
        found = (*found, step)
    return where.get(found, 1)
