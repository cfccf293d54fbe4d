"""Acknowledgement and appeal rules, free of storage: who may appeal what and when, where an appeal goes,
and what its resolution does to each item.

An agent appeals items of a released version within a window after its release and a limit of rounds;
each appealed item is resolved upheld (the result stands), overturned (the opposite result) or adjusted
(the resolver's result and points), always with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from coaching.scoring import FAIL, NA, PASS, InvalidDecision, ItemNotInScorecard, item_maximum


class Outcome(StrEnum):
    upheld = "upheld"
    overturned = "overturned"
    adjusted = "adjusted"


class Route(StrEnum):
    reviewer = "reviewer"  # the reviewer of the appealed version (a supervisor when it was automatic)
    supervisor = "supervisor"


class AppealRefused(Exception):
    """An appeal or acknowledgement the rules refuse now (409, with why)."""


@dataclass(frozen=True)
class Policy:
    window: timedelta
    max_rounds: int
    route: Route


def check_appeal(
    policy: Policy,
    *,
    released_at: datetime | None,
    now: datetime,
    rounds_so_far: int,
    open_appeal: bool,
    acknowledged: bool,
) -> None:
    if released_at is None or released_at > now:
        raise AppealRefused("the evaluation is not released")
    if acknowledged:
        raise AppealRefused("the evaluation was acknowledged: it can no longer be appealed")
    if open_appeal:
        raise AppealRefused("an appeal of this evaluation is still open")
    if rounds_so_far >= policy.max_rounds:
        raise AppealRefused(f"the evaluation was already appealed {rounds_so_far} times (limit {policy.max_rounds})")
    deadline = released_at + policy.window
    if now > deadline:
        raise AppealRefused(f"the appeal window closed at {deadline.isoformat()} ({policy.window.days} days)")


def check_items(item_ids: Sequence[str], items: Sequence[Mapping[str, Any]], prefix: str = "items") -> None:
    known = {item["item_id"] for item in items}
    seen: set[str] = set()
    for n, item_id in enumerate(item_ids):
        if item_id not in known:
            raise ItemNotInScorecard(item_id, f"{prefix}.{n}.item_id")
        if item_id in seen:
            raise InvalidDecision(f"item {item_id!r} is appealed twice", f"{prefix}.{n}.item_id")
        seen.add(item_id)


def route(policy: Policy, reviewer_of_version: str | None) -> str | None:
    """Who resolves it: a person's id, or None for any supervisor."""
    if policy.route is Route.reviewer and reviewer_of_version:
        return reviewer_of_version
    return None


@dataclass(frozen=True)
class Resolution:
    item_id: str
    outcome: Outcome
    reason: str
    result: str | None = None
    points: float | None = None


def resolve(
    items: Sequence[Mapping[str, Any]], appealed: Sequence[str], resolutions: Sequence[Resolution]
) -> list[dict[str, Any]]:
    """The items after the resolution; every appealed item must be resolved, and only those."""
    by_id = {item["item_id"]: item for item in items}
    wanted = set(appealed)
    decided: dict[str, Resolution] = {}
    for n, resolution in enumerate(resolutions):
        where = f"items.{n}"
        if resolution.item_id not in wanted:
            raise InvalidDecision(f"item {resolution.item_id!r} was not appealed", f"{where}.item_id")
        if resolution.item_id in decided:
            raise InvalidDecision(f"item {resolution.item_id!r} is resolved twice", f"{where}.item_id")
        if not resolution.reason.strip():
            raise InvalidDecision("a resolution needs a reason", f"{where}.reason")
        if resolution.outcome is Outcome.adjusted and resolution.result is None:
            raise InvalidDecision("an adjusted item needs its result", f"{where}.result")
        item = by_id[resolution.item_id]
        if resolution.points is not None and (
            resolution.points < 0 or (item.get("max_points") is not None and resolution.points > item_maximum(item))
        ):
            raise InvalidDecision(f"points must be between 0 and {item_maximum(item):g}", f"{where}.points")
        decided[resolution.item_id] = resolution
    if missing := wanted - set(decided):
        raise InvalidDecision(f"every appealed item needs a resolution; missing: {', '.join(sorted(missing))}", "items")
    out = []
    for item in items:
        new = dict(item)
        decision = decided.get(item["item_id"])
        if decision is not None and decision.outcome is not Outcome.upheld:
            if decision.outcome is Outcome.overturned:
                result = PASS if item["result"] == FAIL else FAIL if item["result"] == PASS else NA
                if item["result"] == NA:
                    raise InvalidDecision("a not-applicable item cannot be overturned; adjust it", "items")
            else:
                assert decision.result is not None
                result = decision.result
            new["result"] = result
            if decision.points is not None:
                new["points"] = decision.points
            else:
                new["points"] = item_maximum(item) if result == PASS and item.get("kind") != "auto_fail" else 0.0
            new["appeal_outcome"] = decision.outcome.value
        new["changed"] = new["result"] != new.get("auto_result", new["result"]) or float(new["points"]) != float(
            new.get("auto_points", new["points"])
        )
        out.append(new)
    return out
