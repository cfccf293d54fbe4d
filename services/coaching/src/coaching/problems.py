"""Problem analysis (seed 004: is a problem common or individual?), free of SQL and HTTP.

For a period and scope, per scorecard item, the failure rate of every agent, every group and the
organisation, from one source of scores (automatic or human, never mixed). Then:

- an item is a **common** problem of a group when it fails for at least `common_agent_share` of the group's
  agents (an agent "fails" an item when their failure rate on it reaches `agent_fail_rate`, with at least
  `min_calls` calls), or when the group's rate is significantly above the rest of the organisation's;
- an agent has an **individual** problem when their rate is significantly above the rest of their group's
  (and the item is not already common in the group: then the agent is listed under the common problem).

"Significantly": Fisher's exact test, one-sided (scipy), only with `min_calls` calls on both sides, and a rate at
least `min_difference` above. Every test of one analysis (groups × items and agents × items) is one family whose
false discoveries are controlled with Benjamini-Hochberg (statsmodels): on a stream with no problem beyond chance,
the chance of any alarm stays near `alpha` (tests/coaching/test_problems.py measures it over many seeded streams).

Problems are ranked by frequency × points impact: failures × the points at stake on the item (an auto-fail item
puts the whole call at stake).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

ProblemKind = Literal["common", "individual"]
NO_GROUP = "(no group)"


class AnalysisParams(BaseModel):
    """How problems are told from chance; the defaults suit a week or a month of calls."""

    min_calls: int = Field(10, ge=1, le=100_000, description="calls an agent (or a side of a test) needs on an item")
    alpha: float = Field(0.05, gt=0, lt=1, description="false discovery rate over every test of the analysis")
    common_agent_share: float = Field(
        0.5, gt=0, le=1, description="share of a group's agents failing an item that makes it a common problem"
    )
    agent_fail_rate: float = Field(
        0.3, gt=0, le=1, description="an agent 'fails' an item when their failure rate on it reaches this"
    )
    min_agents: int = Field(3, ge=1, le=10_000, description="agents with enough calls for the share rule to apply")
    min_difference: float = Field(
        0.1, ge=0, le=1, description="a significant rate must also exceed the comparison by this much"
    )
    examples: int = Field(3, ge=0, le=20, description="example calls per problem")


@dataclass(frozen=True)
class Observation:
    """One item of one evaluated call, from one source's version of the evaluation."""

    evaluation_id: str
    recording_id: str
    agent_id: str
    group: str | None
    started_at: datetime
    item_id: str
    section: str
    result: str  # pass | fail | not_applicable
    max_points: float
    call_max_points: float
    kind: str | None = None
    severity: str | None = None
    begin_ms: int | None = None

    @property
    def applicable(self) -> bool:
        return self.result != "not_applicable"

    @property
    def failed(self) -> bool:
        return self.result == "fail"

    @property
    def at_stake(self) -> float:
        """Points a failure of this item costs: the item's, or the whole call's for an auto-fail item."""
        return self.call_max_points if self.kind == "auto_fail" else self.max_points


@dataclass
class Tally:
    calls: int = 0
    failures: int = 0
    at_stake: float = 0.0
    failed: list[Observation] = field(default_factory=list)

    def add(self, o: Observation) -> None:
        if not o.applicable:
            return
        self.calls += 1
        if o.failed:
            self.failures += 1
            self.at_stake += o.at_stake
            self.failed.append(o)

    @property
    def rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None

    def rest(self, part: Tally) -> Tally:
        """This tally without `part` (counts only)."""
        return Tally(self.calls - part.calls, self.failures - part.failures)

    def summary(self) -> dict[str, Any]:
        return {"calls": self.calls, "failures": self.failures, "rate": _round(self.rate)}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def greater(a: Tally, b: Tally) -> float:
    """One-sided Fisher exact p-value that `a`'s failure rate is above `b`'s."""
    table = [[a.failures, a.calls - a.failures], [b.failures, b.calls - b.failures]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def two_sided(a: Tally, b: Tally) -> float:
    table = [[a.failures, a.calls - a.failures], [b.failures, b.calls - b.failures]]
    return float(fisher_exact(table, alternative="two-sided").pvalue)


def observe(
    *,
    evaluation_id: str,
    recording_id: str,
    agent_id: str,
    group: str | None,
    started_at: datetime,
    items: Sequence[dict[str, Any]],
    call_max_points: float,
) -> list[Observation]:
    """The observations of one version of an evaluation (its items as stored or as the event carries them)."""
    out = []
    for item in items:
        evidence = item.get("evidence") or []
        out.append(
            Observation(
                evaluation_id=evaluation_id,
                recording_id=recording_id,
                agent_id=agent_id,
                group=group,
                started_at=started_at,
                item_id=str(item["item_id"]),
                section=str(item.get("section") or ""),
                result=str(item["result"]),
                max_points=float(item.get("max_points") or item.get("points") or 0.0),
                call_max_points=call_max_points,
                kind=item.get("kind"),
                severity=item.get("severity"),
                begin_ms=evidence[0].get("begin_ms") if evidence else None,
            )
        )
    return out


def group_of(o: Observation) -> str:
    return o.group or NO_GROUP


@dataclass
class Rates:
    """Tallies per item: organisation, group, agent (agent keyed by (group, agent))."""

    org: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    groups: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    agents: dict[tuple[str, str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    sections: dict[str, str] = field(default_factory=dict)
    severities: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @classmethod
    def of(cls, observations: Iterable[Observation]) -> Rates:
        rates = cls()
        for o in observations:
            g = group_of(o)
            rates.org[o.item_id].add(o)
            rates.groups[(g, o.item_id)].add(o)
            rates.agents[(g, o.agent_id, o.item_id)].add(o)
            rates.sections.setdefault(o.item_id, o.section)
            rates.severities[o.item_id][_severity(o)] += 1
        return rates

    def severity(self, item_id: str) -> str:
        counts = self.severities.get(item_id)
        return counts.most_common(1)[0][0] if counts else "C"


def _severity(o: Observation) -> str:
    if o.kind == "auto_fail":
        return "A"
    return o.severity if o.severity in ("A", "B", "C") else "C"


@dataclass
class Test:
    kind: Literal["group", "agent"]
    group: str
    item_id: str
    agent_id: str | None
    subject: Tally
    comparison: Tally
    p_value: float
    q_value: float = 1.0
    rejected: bool = False


def analyse(
    observations: Sequence[Observation],
    params: AnalysisParams,
    previous: Sequence[Observation] = (),
) -> dict[str, Any]:
    """The analysis of one period: rates per item, and the problems found, ranked (highest impact first)."""
    rates = Rates.of(observations)
    before = Rates.of(previous)
    tests = _tests(rates, params)
    if tests:
        rejected, q_values, _, _ = multipletests([t.p_value for t in tests], alpha=params.alpha, method="fdr_bh")
        for test, reject, q in zip(tests, rejected, q_values, strict=True):
            test.q_value, test.rejected = float(q), bool(reject) and _far_enough(test, params)

    problems: list[dict[str, Any]] = []
    common: set[tuple[str, str]] = set()
    group_tests = {(t.group, t.item_id): t for t in tests if t.kind == "group"}
    for (g, item_id), tally in sorted(rates.groups.items()):
        agents = {
            a: t for (gg, a, i), t in rates.agents.items() if gg == g and i == item_id and t.calls >= params.min_calls
        }
        failing = sorted(a for a, t in agents.items() if (t.rate or 0) >= params.agent_fail_rate)
        share = len(failing) / len(agents) if agents else 0.0
        criteria = []
        if len(agents) >= params.min_agents and share >= params.common_agent_share:
            criteria.append("share_of_agents")
        group_test = group_tests.get((g, item_id))
        if group_test is not None and group_test.rejected:
            criteria.append("above_organisation")
        if not criteria:
            continue
        common.add((g, item_id))
        rest = rates.org[item_id].rest(tally)
        problems.append(
            _problem(
                "common", g, None, item_id, tally, rest, group_test, criteria, rates, before, params,
                agents_affected=failing, share=share, agents_counted=len(agents),
            )
        )  # fmt: skip
    for test in tests:
        if test.kind != "agent" or not test.rejected or (test.group, test.item_id) in common:
            continue
        problems.append(
            _problem(
                "individual", test.group, test.agent_id, test.item_id, test.subject, test.comparison, test,
                ["above_group"], rates, before, params,
            )
        )  # fmt: skip
    problems.sort(key=lambda p: (-p["impact"], p["id"]))
    for rank, problem in enumerate(problems, 1):
        problem["rank"] = rank
    return {
        "params": params.model_dump(),
        "calls": len({o.evaluation_id for o in observations}),
        "tests": len(tests),
        "items": _item_rates(rates),
        "problems": problems,
    }


def _tests(rates: Rates, params: AnalysisParams) -> list[Test]:
    tests: list[Test] = []
    for (g, item_id), tally in sorted(rates.groups.items()):
        rest = rates.org[item_id].rest(tally)
        if _testable(tally, rest, params):
            tests.append(Test("group", g, item_id, None, tally, rest, greater(tally, rest)))
    for (g, agent_id, item_id), tally in sorted(rates.agents.items()):
        rest = rates.groups[(g, item_id)].rest(tally)
        if _testable(tally, rest, params):
            tests.append(Test("agent", g, item_id, agent_id, tally, rest, greater(tally, rest)))
    return tests


def _testable(subject: Tally, comparison: Tally, params: AnalysisParams) -> bool:
    """Enough calls on both sides (every such pair is tested and counted in the family, whatever its rates)."""
    return subject.calls >= params.min_calls and comparison.calls >= params.min_calls


def _far_enough(test: Test, params: AnalysisParams) -> bool:
    return (test.subject.rate or 0.0) - (test.comparison.rate or 0.0) >= params.min_difference


def _problem(
    kind: ProblemKind,
    group: str,
    agent_id: str | None,
    item_id: str,
    tally: Tally,
    comparison: Tally,
    test: Test | None,
    criteria: list[str],
    rates: Rates,
    before: Rates,
    params: AnalysisParams,
    **extra: Any,
) -> dict[str, Any]:
    previous = before.agents.get((group, agent_id, item_id)) if agent_id else before.groups.get((group, item_id))
    examples = sorted(tally.failed, key=lambda o: (o.started_at, o.evaluation_id))[-params.examples :]
    ident = f"{kind}:{group}:{agent_id or '*'}:{item_id}"
    return {
        "id": ident,
        "kind": kind,
        "group": None if group == NO_GROUP else group,
        "agent_id": agent_id,
        "item_id": item_id,
        "section": rates.sections.get(item_id, ""),
        "severity": rates.severity(item_id),
        "criteria": criteria,
        "calls": tally.calls,
        "failures": tally.failures,
        "rate": _round(tally.rate),
        "comparison": {"of": "rest of group" if agent_id else "rest of organisation", **comparison.summary()},
        "p_value": _round(test.p_value, 6) if test else None,
        "q_value": _round(test.q_value, 6) if test else None,
        "trend": _trend(tally, previous, params),
        "impact": round(tally.at_stake, 2),
        "examples": [
            {
                "evaluation_id": o.evaluation_id,
                "recording_id": o.recording_id,
                "agent_id": o.agent_id,
                "started_at": o.started_at.isoformat(),
                "begin_ms": o.begin_ms,
                "link": f"/v1/evaluations/{o.evaluation_id}",
            }
            for o in reversed(examples)
        ],
        **extra,
    }


def _trend(now: Tally, previous: Tally | None, params: AnalysisParams) -> dict[str, Any]:
    """Against the previous period of the same length: rising, falling, stable, or no history."""
    if previous is None or previous.calls < params.min_calls:
        return {"direction": "no_history", "previous": previous.summary() if previous else None, "p_value": None}
    p = two_sided(now, previous)
    direction = "stable"
    if p < params.alpha:
        direction = "rising" if (now.rate or 0) > (previous.rate or 0) else "falling"
    return {"direction": direction, "previous": previous.summary(), "p_value": _round(p, 6)}


def _item_rates(rates: Rates) -> list[dict[str, Any]]:
    out = []
    for item_id, tally in sorted(rates.org.items()):
        out.append(
            {
                "item_id": item_id,
                "section": rates.sections.get(item_id, ""),
                "severity": rates.severity(item_id),
                "organisation": tally.summary(),
                "groups": [
                    {"group": None if g == NO_GROUP else g, **t.summary()}
                    for (g, i), t in sorted(rates.groups.items())
                    if i == item_id
                ],
                "agents": [
                    {"group": None if g == NO_GROUP else g, "agent_id": a, **t.summary()}
                    for (g, a, i), t in sorted(rates.agents.items())
                    if i == item_id
                ],
            }
        )
    return out
