"""Sampling plans and how a run draws its calls: pure functions of a plan, a population and a seed.

A run is reproducible: the same plan version, seed and population give the same picks. Every draw is
systematic sampling over the calls in time order with a random start and a fractional step, so each call
of a pool is picked with the same probability (k / n) and the picks are spread evenly over the period.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callqa.http import NonBlankText

Name = Annotated[NonBlankText, Field(max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- the plan document -----------------------------------------------------------------------


class Scope(Strict):
    """Which calls a plan looks at; an empty list means any."""

    groups: list[Name] = Field(default_factory=list, max_length=200)
    queues: list[Name] = Field(default_factory=list, max_length=200)
    agents: list[Name] = Field(default_factory=list, max_length=1000)
    direction: Literal["inbound", "outbound", "internal"] | None = None
    min_duration_s: float | None = Field(default=None, ge=0)
    max_duration_s: float | None = Field(default=None, ge=0)
    tags: list[Name] = Field(default_factory=list, max_length=50, description="a call needs one of them")
    scorecard_id: Name | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        low, high = self.min_duration_s, self.max_duration_s
        if low is not None and high is not None and low > high:
            raise ValueError("min_duration_s must not exceed max_duration_s")
        return self


class PeriodKind(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    range = "range"


class Period(Strict):
    kind: PeriodKind
    start: date | None = Field(default=None, description="first day, for kind `range`")
    end: date | None = Field(default=None, description="last day (inclusive), for kind `range`")

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.kind is PeriodKind.range:
            if self.start is None or self.end is None:
                raise ValueError("a `range` period needs `start` and `end`")
            if self.end < self.start:
                raise ValueError("`end` must not be before `start`")
        elif self.start is not None or self.end is not None:
            raise ValueError("`start` and `end` are only for a `range` period")
        return self

    def window(self, on: date) -> tuple[datetime, datetime]:
        """[start, end) in UTC of the period that contains `on` (or the range itself)."""
        if self.kind is PeriodKind.range:
            assert self.start is not None
            assert self.end is not None
            first, last = self.start, self.end + timedelta(days=1)
        elif self.kind is PeriodKind.daily:
            first, last = on, on + timedelta(days=1)
        elif self.kind is PeriodKind.weekly:
            first = on - timedelta(days=on.weekday())
            last = first + timedelta(days=7)
        else:
            first = on.replace(day=1)
            last = (first + timedelta(days=32)).replace(day=1)
        return datetime.combine(first, time(), UTC), datetime.combine(last, time(), UTC)


class RandomMethod(Strict):
    """N calls per agent, or a percentage of each agent's calls with a floor; either capped per agent."""

    type: Literal["random"] = "random"
    per_agent: int | None = Field(default=None, ge=1, le=10_000)
    percentage: float | None = Field(default=None, gt=0, le=100)
    floor: int = Field(default=0, ge=0, le=10_000, description="at least this many per agent (percentage)")
    cap: int | None = Field(default=None, ge=1, le=10_000, description="at most this many per agent")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.per_agent is None) == (self.percentage is None):
            raise ValueError("give exactly one of `per_agent` or `percentage`")
        return self


class StratifiedMethod(Strict):
    """`size` calls split over groups or queues, proportionally to their volume or equally."""

    type: Literal["stratified"] = "stratified"
    by: Literal["group", "queue"]
    size: int | None = Field(default=None, ge=1, le=1_000_000, description="null: the plan's size (quota)")
    allocation: Literal["proportional", "equal"] = "proportional"


class PoolKind(StrEnum):
    auto_failed = "auto_failed"
    score_below = "score_below"
    item_failed = "item_failed"
    complaint_tags = "complaint_tags"
    new_agents = "new_agents"
    new_queues = "new_queues"
    customer_repetition = "customer_repetition"


class TargetedMethod(Strict):
    """Calls from a pool that points at problems; `limit` draws that many of them, else all."""

    type: Literal["targeted"] = "targeted"
    pool: PoolKind
    threshold: float | None = Field(default=None, ge=0, le=100, description="score_below: percentage under")
    item_ids: list[Name] = Field(default_factory=list, max_length=100, description="item_failed, repetition")
    tags: list[Name] = Field(default_factory=list, max_length=50, description="complaint_tags")
    days: int | None = Field(default=None, ge=1, le=3650, description="new_agents / new_queues: first N days")
    limit: int | None = Field(default=None, ge=1, le=1_000_000)
    per_agent_cap: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _parameters(self) -> Self:
        needs = {
            PoolKind.score_below: ("threshold", self.threshold is not None),
            PoolKind.item_failed: ("item_ids", bool(self.item_ids)),
            PoolKind.new_agents: ("days", self.days is not None),
            PoolKind.new_queues: ("days", self.days is not None),
        }
        if self.pool in needs and not needs[self.pool][1]:
            raise ValueError(f"pool `{self.pool.value}` needs `{needs[self.pool][0]}`")
        return self


Method = Annotated[RandomMethod | StratifiedMethod | TargetedMethod, Field(discriminator="type")]


class QuotaInput(Strict):
    """Seed 004's daily review capacity; the plan's size is capacity × days of the period."""

    qa_staff: int = Field(ge=1, le=10_000)
    effective_hours: float = Field(gt=0, le=24)
    review_overhead_s: float = Field(default=0, ge=0, le=86_400)
    average_handle_time_s: float | None = Field(
        default=None, gt=0, le=86_400, description="null: observed from the calls in scope"
    )


class PlanDocument(Strict):
    name: Annotated[NonBlankText, Field(max_length=200)]
    scope: Scope = Field(default_factory=Scope)
    period: Period
    methods: list[Method] = Field(min_length=1, max_length=20)
    size: int | None = Field(default=None, ge=1, le=1_000_000, description="at most this many picks per run")
    quota: QuotaInput | None = Field(default=None, description="take the size from the quota calculator")
    exclude_reviewed: bool = Field(default=True, description="skip calls already picked or reviewed")
    due_days: int = Field(default=3, ge=0, le=365, description="assignments are due this many days after the run")

    @model_validator(mode="after")
    def _size(self) -> Self:
        if self.size is not None and self.quota is not None:
            raise ValueError("give `size` or `quota`, not both")
        for method in self.methods:
            if isinstance(method, StratifiedMethod) and method.size is None and self.size is None and not self.quota:
                raise ValueError("a stratified method without `size` needs the plan's `size` or `quota`")
        return self

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "billing weekly",
                    "scope": {"groups": ["billing"], "min_duration_s": 30},
                    "period": {"kind": "weekly"},
                    "methods": [
                        {"type": "targeted", "pool": "auto_failed"},
                        {"type": "random", "percentage": 5, "floor": 2, "cap": 10},
                        {"type": "stratified", "by": "queue", "size": 20, "allocation": "proportional"},
                    ],
                    "quota": {"qa_staff": 2, "effective_hours": 6, "review_overhead_s": 120},
                    "due_days": 3,
                }
            ]
        },
    )


# --- the population ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """What a run knows of one automatic evaluation."""

    evaluation_id: str
    agent_id: str
    started_at: datetime
    group: str | None = None
    queue: str | None = None
    direction: str | None = None
    duration_ms: int | None = None
    tags: tuple[str, ...] = ()
    scorecard_id: str = ""
    percentage: float = 100.0
    auto_failed: bool = False
    failed_items: frozenset[str] = frozenset()


def in_scope(call: Call, scope: Scope) -> bool:
    if scope.groups and call.group not in scope.groups:
        return False
    if scope.queues and call.queue not in scope.queues:
        return False
    if scope.agents and call.agent_id not in scope.agents:
        return False
    if scope.direction is not None and call.direction != scope.direction:
        return False
    if scope.min_duration_s is not None or scope.max_duration_s is not None:
        if call.duration_ms is None:
            return False
        seconds = call.duration_ms / 1000
        if scope.min_duration_s is not None and seconds < scope.min_duration_s:
            return False
        if scope.max_duration_s is not None and seconds > scope.max_duration_s:
            return False
    if scope.tags and not set(scope.tags) & set(call.tags):
        return False
    return not (scope.scorecard_id is not None and call.scorecard_id != scope.scorecard_id)


@dataclass(frozen=True)
class Firsts:
    """When each agent and queue was first seen (for the new-agent and new-queue pools)."""

    agents: dict[str, datetime] = field(default_factory=dict)
    queues: dict[str, datetime] = field(default_factory=dict)


DEFAULT_COMPLAINT_TAGS = ("complaint",)
DEFAULT_REPETITION_ITEMS = ("customer_repetition",)


def pool_filter(method: TargetedMethod, firsts: Firsts) -> Callable[[Call], bool]:
    pool = method.pool
    if pool is PoolKind.auto_failed:
        return lambda c: c.auto_failed
    if pool is PoolKind.score_below:
        threshold = method.threshold
        assert threshold is not None
        return lambda c: c.percentage < threshold
    if pool is PoolKind.item_failed or pool is PoolKind.customer_repetition:
        items = set(method.item_ids or DEFAULT_REPETITION_ITEMS)
        return lambda c: bool(c.failed_items & items)
    if pool is PoolKind.complaint_tags:
        tags = set(method.tags or DEFAULT_COMPLAINT_TAGS)
        return lambda c: bool(tags & set(c.tags))
    assert method.days is not None
    span = timedelta(days=method.days)
    if pool is PoolKind.new_agents:
        return lambda c: c.agent_id in firsts.agents and c.started_at < firsts.agents[c.agent_id] + span
    return lambda c: c.queue is not None and c.queue in firsts.queues and c.started_at < firsts.queues[c.queue] + span


# --- drawing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pick:
    evaluation_id: str
    agent_id: str
    started_at: datetime
    method: int  # index of the plan's method that picked it
    reason: str


def rng_for(seed: int, *parts: object) -> random.Random:
    """An independent, reproducible generator per (seed, method, stratum)."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def systematic(calls: Sequence[Call], k: int, rng: random.Random) -> list[Call]:
    """k of `calls` (in time order), each with probability k/n, spread evenly: a random start in
    [0, n/k) and a step of n/k."""
    n = len(calls)
    if k >= n:
        return list(calls)
    if k <= 0:
        return []
    step = n / k
    start = rng.random() * step
    return [calls[min(n - 1, math.floor(start + i * step))] for i in range(k)]


def chronological(calls: Iterable[Call]) -> list[Call]:
    return sorted(calls, key=lambda c: (c.started_at, c.evaluation_id))


def allocate(sizes: dict[str, int], total: int, allocation: str) -> dict[str, int]:
    """Split `total` over strata: proportionally (largest remainder) or equally, never above a stratum's size."""
    available = sum(sizes.values())
    total = min(total, available)
    if allocation == "proportional":
        exact = {s: total * n / available for s, n in sizes.items()} if available else {}
        shares = {s: math.floor(x) for s, x in exact.items()}
        rest = total - sum(shares.values())
        for s in sorted(exact, key=lambda s: (-(exact[s] - shares[s]), s))[:rest]:
            shares[s] += 1
        return shares
    shares = dict.fromkeys(sizes, 0)
    open_strata = sorted(s for s, n in sizes.items() if n > 0)
    left = total
    while left > 0 and open_strata:
        each, extra = divmod(left, len(open_strata))
        for i, s in enumerate(open_strata):
            shares[s] += min(each + (1 if i < extra else 0), sizes[s] - shares[s])
        left = total - sum(shares.values())
        open_strata = [s for s in open_strata if shares[s] < sizes[s]]
    return shares


def by_agent(calls: Iterable[Call]) -> dict[str, list[Call]]:
    grouped: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        grouped[call.agent_id].append(call)
    return grouped


def draw(
    plan: PlanDocument,
    population: Iterable[Call],
    seed: int,
    *,
    size: int | None = None,
    firsts: Firsts | None = None,
) -> tuple[list[Pick], int]:
    """The run's picks (each call once, the first method that picked it named) and the size of the
    population in scope. `size` caps the total (the plan's `size`, or its quota); methods are applied
    in the plan's order and a later method gets what is left (default: the plan's `size`)."""
    firsts = firsts or Firsts()
    scoped = chronological(c for c in population if in_scope(c, plan.scope))
    picked: dict[str, Pick] = {}
    size = size if size is not None else plan.size
    budget = size if size is not None else math.inf

    def take(calls: Iterable[Call], index: int, reason: str) -> None:
        for call in calls:
            if len(picked) >= budget:
                return
            if call.evaluation_id not in picked:
                picked[call.evaluation_id] = Pick(call.evaluation_id, call.agent_id, call.started_at, index, reason)

    for index, method in enumerate(plan.methods):
        remaining = [c for c in scoped if c.evaluation_id not in picked]
        if isinstance(method, RandomMethod):
            for agent, calls in sorted(by_agent(remaining).items()):
                if method.per_agent is not None:
                    k = method.per_agent
                    why = f"random: {k} per agent"
                else:
                    assert method.percentage is not None
                    k = max(method.floor, math.ceil(len(calls) * method.percentage / 100))
                    why = f"random: {method.percentage:g}% of the agent's {len(calls)} calls (floor {method.floor})"
                if method.cap is not None:
                    k = min(k, method.cap)
                take(systematic(calls, k, rng_for(seed, index, agent)), index, why)
        elif isinstance(method, StratifiedMethod):
            total = method.size if method.size is not None else (size or 0)
            strata: dict[str, list[Call]] = defaultdict(list)
            for call in remaining:
                strata[(call.group if method.by == "group" else call.queue) or "(none)"].append(call)
            shares = allocate({s: len(c) for s, c in strata.items()}, total, method.allocation)
            for stratum in sorted(strata):
                why = f"stratified by {method.by} ({method.allocation}): {stratum}"
                take(systematic(strata[stratum], shares[stratum], rng_for(seed, index, stratum)), index, why)
        else:
            matches = pool_filter(method, firsts)
            pool = [c for c in remaining if matches(c)]
            if method.per_agent_cap is not None:
                capped: list[Call] = []
                for agent, calls in sorted(by_agent(pool).items()):
                    capped.extend(systematic(calls, method.per_agent_cap, rng_for(seed, index, "cap", agent)))
                pool = chronological(capped)
            if method.limit is not None:
                pool = systematic(pool, method.limit, rng_for(seed, index))
            take(pool, index, f"targeted: {method.pool.value}{pool_detail(method)}")
    return sorted(picked.values(), key=lambda p: (p.started_at, p.evaluation_id)), len(scoped)


def pool_detail(method: TargetedMethod) -> str:
    if method.pool is PoolKind.score_below:
        return f" (< {method.threshold:g}%)"
    if method.pool in (PoolKind.item_failed, PoolKind.customer_repetition):
        return f" ({', '.join(method.item_ids or DEFAULT_REPETITION_ITEMS)})"
    if method.pool is PoolKind.complaint_tags:
        return f" ({', '.join(method.tags or DEFAULT_COMPLAINT_TAGS)})"
    if method.pool in (PoolKind.new_agents, PoolKind.new_queues):
        return f" (first {method.days} days)"
    return ""


# --- distribution over reviewers ----------------------------------------------------------------


@dataclass(frozen=True)
class Reviewer:
    id: str
    capacity: int | None = None  # at most this many of the run's picks


def distribute(picks: Sequence[Pick], reviewers: Sequence[Reviewer]) -> dict[str, str | None]:
    """evaluation id -> reviewer id (None: nobody eligible had room). Even split by load over capacity,
    never a reviewer's own call, ties to the reviewer listed first."""
    load = {r.id: 0 for r in reviewers}
    room = {r.id: r.capacity if r.capacity is not None else max(1, len(picks)) for r in reviewers}
    assigned: dict[str, str | None] = {}
    for pick in picks:
        eligible = [r for r in reviewers if r.id != pick.agent_id and load[r.id] < room[r.id]]
        if not eligible:
            assigned[pick.evaluation_id] = None
            continue
        chosen = min(eligible, key=lambda r: load[r.id] / room[r.id])  # min keeps the first on ties
        load[chosen.id] += 1
        assigned[pick.evaluation_id] = chosen.id
    return assigned
