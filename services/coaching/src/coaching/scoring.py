"""A human version of an evaluation from the automatic one and a reviewer's decisions: pure functions.

An item is confirmed (the automatic result stands) or overridden (result and points, with a reason).
Totals are recomputed the way the scorer computes them: points earned over the applicable maximum,
an auto-fail item failing zeroes the evaluation, the card's pass mark decides `passed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PASS, FAIL, NA = "pass", "fail", "not_applicable"


class ItemNotInScorecard(ValueError):
    """A decision names an item the evaluation's scorecard version does not have."""

    def __init__(self, item_id: str, field: str) -> None:
        super().__init__(f"item {item_id!r} is not in the evaluation's scorecard")
        self.errors = [{"field": field, "message": str(self)}]


class InvalidDecision(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.errors = [{"field": field, "message": message}]


@dataclass(frozen=True)
class Decision:
    item_id: str
    override: bool
    result: str | None = None
    points: float | None = None
    comment: str | None = None
    reason: str | None = None


def item_maximum(item: Mapping[str, Any]) -> float:
    """What an item can earn: the scorer's `max_points` when it sent it, else what it earned."""
    maximum = item.get("max_points")
    return float(maximum) if maximum is not None else float(item.get("points", 0.0))


def check(decisions: Sequence[Decision], items: Sequence[Mapping[str, Any]], prefix: str = "items") -> None:
    """Refuse decisions on unknown items, overrides without a reason, points out of range."""
    known = {item["item_id"]: item for item in items}
    seen: set[str] = set()
    for n, decision in enumerate(decisions):
        where = f"{prefix}.{n}"
        if decision.item_id not in known:
            raise ItemNotInScorecard(decision.item_id, f"{where}.item_id")
        if decision.item_id in seen:
            raise InvalidDecision(f"item {decision.item_id!r} is decided twice", f"{where}.item_id")
        seen.add(decision.item_id)
        if not decision.override:
            continue
        if not (decision.reason or "").strip():
            raise InvalidDecision("an override needs a reason", f"{where}.reason")
        if decision.result is None:
            raise InvalidDecision("an override needs a result", f"{where}.result")
        if decision.points is not None:
            maximum = item_maximum(known[decision.item_id])
            if decision.points < 0 or (
                known[decision.item_id].get("max_points") is not None and decision.points > maximum
            ):
                raise InvalidDecision(f"points must be between 0 and {maximum:g}", f"{where}.points")


def default_points(item: Mapping[str, Any], result: str) -> float:
    if result == PASS and item.get("kind") != "auto_fail":
        return item_maximum(item) if item.get("result") != PASS else float(item["points"])
    return 0.0


def apply(items: Sequence[Mapping[str, Any]], decisions: Sequence[Decision]) -> list[dict[str, Any]]:
    """The human items: each automatic item with its decision applied (confirmed when undecided)."""
    by_item = {d.item_id: d for d in decisions}
    out = []
    for item in items:
        decision = by_item.get(item["item_id"])
        new = dict(item)
        new["auto_result"], new["auto_points"] = (
            item.get("auto_result", item["result"]),
            item.get("auto_points", item["points"]),
        )
        if decision is not None and decision.override:
            assert decision.result is not None
            new["result"] = decision.result
            new["points"] = decision.points if decision.points is not None else default_points(item, decision.result)
            new["override_reason"] = decision.reason
        if decision is not None and decision.comment:
            new["comment"] = decision.comment
        new["changed"] = new["result"] != new["auto_result"] or float(new["points"]) != float(new["auto_points"])
        out.append(new)
    return out


@dataclass(frozen=True)
class Totals:
    total_points: float
    max_points: float
    percentage: float
    passed: bool
    auto_failed: bool


def totals(
    items: Sequence[Mapping[str, Any]], *, max_points: float, pass_threshold: float, auto: Totals | None = None
) -> Totals:
    """Totals of a human version. The maximum is the automatic one unless applicability changed (an item
    turned not applicable, or back, moves its maximum out of or into it)."""
    maximum = max_points
    for item in items:
        before, after = item.get("auto_result", item["result"]), item["result"]
        counted = item.get("kind") not in ("bonus", "auto_fail")
        if counted and before != after and NA in (before, after):
            maximum += item_maximum(item) if before == NA else -item_maximum(item)
    earned = sum(float(item["points"]) for item in items)
    kinds_known = any(item.get("kind") for item in items)
    if kinds_known:
        auto_failed = any(item.get("kind") == "auto_fail" and item["result"] == FAIL for item in items)
    else:  # the scorer did not say which items auto-fail: keep its verdict unless every failed A item was cleared
        auto_failed = bool(auto and auto.auto_failed) and any(
            item["result"] == FAIL and item.get("severity") == "A" for item in items
        )
    if auto_failed:
        earned = 0.0
    percentage = 0.0 if auto_failed else (min(100.0, earned / maximum * 100) if maximum > 0 else 100.0)
    return Totals(earned, max(maximum, 0.0), percentage, not auto_failed and percentage >= pass_threshold, auto_failed)
