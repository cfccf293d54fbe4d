"""The quality reports of seed 004, computed from the rollups.

A `Definition` is everything a report's numbers depend on: period, time zone, filters, sources and the
exact scorecard versions (the pass rule is each version's own threshold, fixed when the call was scored).
A run stores its definition; computing the same definition again reads the same cells and gives the same
numbers, whatever scorecard edits came since (an edit is a new version, which a frozen definition does
not name). A new definition (a new run) picks the versions present in its period.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from reporting.forecast import forecast_pass_rate
from reporting.periods import Period, PeriodKind
from reporting.rollups import Evaluation, Source
from reporting.store import Scope

TOP_ITEMS = 10
NOTABLE_CASES = 10
MAX_GROUPS = 200
ATTENTION_AGENTS = 10
ATTENTION_MIN_CALLS = 5
DETAIL_LIMIT = 5000  # rows of a daily detail kept in a run; the API pages through all of them
HISTORY_PERIODS = {PeriodKind.daily: 28, PeriodKind.weekly: 12, PeriodKind.monthly: 12}
COMMON_SHARE = 0.3  # an item failed by at least this share of the agents evaluated is a common problem
PASS_RULE = "as_scored: each scorecard version's own pass_threshold, fixed when the call was scored"  # noqa: S105

CASES_PER_CATEGORY = 20
HUMAN_VERSIONS_READ = 5000  # human versions a case analysis looks through (the earliest calls of the period first)
PENDING = {
    "common_vs_individual": (
        "共性/个性问题由辅导服务的问题分析给出；此处为按坐席分布的自动估计 / the coaching service's problem analysis "
        "classifies problems; until it publishes coaching.* events this report estimates it from how many agents fail"
    ),
    "training_plan": "培训计划来自辅导服务（coaching.*）/ training plans come from coaching.* events",
    "coaching_effectiveness": "辅导效果需要辅导计划与跟进事件 / needs coaching plans and follow-ups (coaching.*)",
}


class ReportType(StrEnum):
    """What a run reports on; every type is computed for a daily, weekly or monthly period."""

    quality = "quality"  # seed 004's daily detail / weekly / monthly quality report
    case_analysis = "case_analysis"  # 案例分析: the notable calls of the period, why, and links
    agreement = "agreement"  # calibration and auto-scorer agreement: human versions beside the scorer, per item


class Definition(BaseModel):
    """What a report run is computed with; stored with the run and never changed."""

    report: ReportType = ReportType.quality
    kind: PeriodKind
    first: date
    last: date
    time_zone: str
    group: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    sources: list[Source] = Field(
        default_factory=lambda: [Source.auto],
        description="what the figures count: the scorer's evaluation of every call by default; human versions of "
        "the sampled calls are counted apart (by_source, human_review), never summed with them",
    )
    scorecard_versions: dict[str, list[int]] = Field(default_factory=dict)
    pass_rule: str = PASS_RULE
    history_periods: int = 12
    groups: list[str] | None = Field(
        None, description="the groups the requester was allowed to see, frozen with the run; null: every group"
    )

    @property
    def period(self) -> Period:
        return Period(self.kind, self.first, self.last)

    def scope(self, period: Period | None = None) -> Scope:
        period = period or self.period
        versions = tuple(sorted((card, v) for card, vs in self.scorecard_versions.items() for v in vs))
        return Scope(
            first=period.first,
            last=period.last,
            group=self.group,
            queue=self.queue,
            agent_id=self.agent_id,
            sources=tuple(s.value for s in self.sources),
            versions=versions,
            groups=tuple(self.groups) if self.groups is not None else None,
        )


class Figures(Protocol):
    """What a report reads (`store.RollupStore`)."""

    def tallies(self, scope: Scope, by: tuple[str, ...] = ()) -> list[dict[str, Any]]: ...
    def item_tallies(self, scope: Scope) -> list[dict[str, Any]]: ...
    def agent_count(self, scope: Scope) -> int: ...
    def versions(self, scope: Scope) -> list[tuple[str, int]]: ...
    def evaluations(
        self,
        scope: Scope,
        *,
        order: str = "started",
        limit: int = 100,
        offset: int = 0,
        auto_failed: bool | None = None,
    ) -> tuple[list[Evaluation], int]: ...
    def agreement(self, scope: Scope, by: tuple[str, ...] = ()) -> list[dict[str, Any]]: ...
    def human_versions(self, scope: Scope, limit: int) -> list[tuple[Evaluation, Evaluation | None]]: ...


def resolve_versions(figures: Figures, definition: Definition) -> Definition:
    """Freeze a new definition: name the scorecard versions present in its period (and its history)."""
    if definition.scorecard_versions:
        return definition
    history = definition.period.history(definition.history_periods)
    span = Scope(
        first=history[0].first if history else definition.first,
        last=definition.last,
        group=definition.group,
        queue=definition.queue,
        agent_id=definition.agent_id,
        sources=tuple(s.value for s in definition.sources),
        versions=None,
        groups=tuple(definition.groups) if definition.groups is not None else None,
    )
    chosen: dict[str, list[int]] = {}
    for card, version in figures.versions(span):
        chosen.setdefault(card, []).append(version)
    return definition.model_copy(update={"scorecard_versions": chosen})


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def change(now: float | None, before: float | None) -> float | None:
    return round(now - before, 4) if now is not None and before is not None else None


def direction(now: float | int | None, before: float | int | None) -> Literal["up", "down", "same"] | None:
    if now is None or before is None:
        return None
    return "up" if now > before else "down" if now < before else "same"


def summarise(tally: dict[str, Any] | None) -> dict[str, Any]:
    tally = tally or {}
    calls = int(tally.get("evaluations", 0))
    return {
        "calls": calls,
        "passed": int(tally.get("passed", 0)),
        "pass_rate": rate(int(tally.get("passed", 0)), calls),
        "average_score": round(int(tally.get("score_centi", 0)) / 100 / calls, 2) if calls else None,
        "auto_failed": int(tally.get("auto_failed", 0)),
        "problems": {
            "A": int(tally.get("failed_a", 0)),
            "B": int(tally.get("failed_b", 0)),
            "C": int(tally.get("failed_c", 0)),
        },
    }


def case_of(evaluation: Evaluation) -> dict[str, Any]:
    failed = [item for item in evaluation.items if item.result.value == "fail"]
    return {
        "evaluation_id": evaluation.evaluation_id,
        "recording_id": evaluation.recording_id,
        "started_at": evaluation.started_at.isoformat(),
        "day": evaluation.day.isoformat(),
        "agent_id": evaluation.agent_id,
        "group": evaluation.group,
        "queue": evaluation.queue,
        "scorecard": f"{evaluation.scorecard_id} v{evaluation.scorecard_version}",
        "score": round(evaluation.percentage, 2),
        "passed": evaluation.passed,
        "auto_failed": evaluation.auto_failed,
        "source": evaluation.source.value,
        "reviewer": evaluation.reviewer,
        "failed_items": [
            {"item_id": i.item_id, "section": i.section, "severity": i.severity, "quote": i.quote} for i in failed
        ],
        "links": {
            "evaluation": f"/v1/evaluations/{evaluation.evaluation_id}",
            "recording": f"/v1/recordings/{evaluation.recording_id}",
        },
    }


def compute(figures: Figures, definition: Definition) -> dict[str, Any]:
    """The report of `definition.report` as JSON."""
    if definition.report is ReportType.case_analysis:
        return compute_cases(figures, definition)
    if definition.report is ReportType.agreement:
        return compute_agreement(figures, definition)
    return compute_quality(figures, definition)


def header(definition: Definition, empty: bool, what: tuple[str, str]) -> dict[str, Any]:
    """What every report type starts with; `what` says, for an empty report, what was missing."""
    period, previous = definition.period, definition.period.previous()
    return {
        "report": definition.report.value,
        "kind": period.kind.value,
        "period": {"first": period.first.isoformat(), "last": period.last.isoformat(), "label": period.label},
        "previous_period": {
            "first": previous.first.isoformat(),
            "last": previous.last.isoformat(),
            "label": previous.label,
        },
        "definition": definition.model_dump(mode="json"),
        "empty": empty,
        "explanation": (
            f"{period.label} 没有符合条件的{what[0]}，所有数字为零 / no {what[1]} match this report in "
            f"{period.label} ({definition.time_zone}); every figure is zero. Check the filters "
            "(group, queue, agent) and the groups you may see."
        )
        if empty
        else None,
    }


def compute_quality(figures: Figures, definition: Definition) -> dict[str, Any]:
    """Every section of seed 004's weekly/monthly report (and the daily detail)."""
    period = definition.period
    previous = period.previous()
    scope, before = definition.scope(), definition.scope(previous)

    overall = figures.tallies(scope)
    overall_before = figures.tallies(before)
    summary = summarise(overall[0] if overall else None)
    summary_before = summarise(overall_before[0] if overall_before else None)
    monitored = replace(scope, sources=(Source.auto.value, Source.human.value))
    by_source = {row["source"]: int(row["evaluations"]) for row in figures.tallies(monitored, ("source",))}
    summary["by_source"] = {source: by_source.get(source, 0) for source in monitored.sources}

    groups_before = {row["group"]: summarise(row) for row in figures.tallies(before, ("group",))}
    groups = []
    for row in sorted(figures.tallies(scope, ("group",)), key=lambda r: (-int(r["evaluations"]), r["group"])):
        figures_now = summarise(row)
        was = groups_before.get(row["group"])
        groups.append(
            {"group": row["group"]}
            | figures_now
            | {
                "previous_pass_rate": was["pass_rate"] if was else None,
                "pass_rate_change": change(figures_now["pass_rate"], was["pass_rate"] if was else None),
            }
        )

    agents_evaluated = figures.agent_count(scope)
    items_before = {(r["scorecard_id"], r["item_id"]): r for r in figures.item_tallies(before)}
    items = []
    item_rows = figures.item_tallies(scope)
    for row in item_rows:
        if not row["failed"]:
            continue
        was = items_before.get((row["scorecard_id"], row["item_id"]))
        failure_rate = rate(row["failed"], row["applicable"])
        share = rate(row["agents_failed"], agents_evaluated) or 0.0
        items.append(
            {
                "scorecard_id": row["scorecard_id"],
                "item_id": row["item_id"],
                "section": row["section"],
                "severity": row["severity"] or None,
                "failed": row["failed"],
                "applicable": row["applicable"],
                "failure_rate": failure_rate,
                "agents_failed": row["agents_failed"],
                "agents_evaluated": agents_evaluated,
                "spread": "common" if share >= COMMON_SHARE else "individual",
                "previous_failure_rate": rate(was["failed"], was["applicable"]) if was else None,
                "failure_rate_change": change(failure_rate, rate(was["failed"], was["applicable"]) if was else None),
            }
        )
    items.sort(key=lambda i: (-i["failed"], i["scorecard_id"], i["item_id"]))

    now_items = {(r["scorecard_id"], r["item_id"]): r for r in item_rows}
    last_problems = []
    for (card, item_id), was in sorted(items_before.items(), key=lambda kv: (-kv[1]["failed"], kv[0]))[:TOP_ITEMS]:
        if not was["failed"]:
            continue
        now = now_items.get((card, item_id))
        rate_before = rate(was["failed"], was["applicable"])
        rate_now = rate(now["failed"], now["applicable"]) if now else None
        moved = direction(rate_now, rate_before)
        last_problems.append(
            {
                "scorecard_id": card,
                "item_id": item_id,
                "section": was["section"],
                "severity": was["severity"] or None,
                "failure_rate_before": rate_before,
                "failure_rate_now": rate_now,
                "verdict": {"down": "improved", "up": "worse", "same": "unchanged", None: "no_calls"}[moved],
            }
        )

    history = period.history(definition.history_periods)
    daily = {
        row["day"]: row
        for row in figures.tallies(
            definition.scope(Period(period.kind, history[0].first if history else period.first, period.last)),
            ("day",),
        )
    }
    trend: list[dict[str, Any]] = []
    for past in [*history, period]:
        calls = sum(int(daily[d]["evaluations"]) for d in past.each_day() if d in daily)
        passed = sum(int(daily[d]["passed"]) for d in past.each_day() if d in daily)
        trend.append(
            {"period": past.label, "first": past.first.isoformat(), "calls": calls, "pass_rate": rate(passed, calls)}
        )
    forecast = forecast_pass_rate([(t["pass_rate"] or 0.0, t["calls"]) for t in trend])
    following = period.following()

    days = []
    for day in period.each_day():
        cell = daily.get(day)
        days.append(
            {"day": day.isoformat(), "calls": int(cell["evaluations"]) if cell else 0}
            | {"pass_rate": rate(int(cell["passed"]), int(cell["evaluations"])) if cell else None}
        )

    worst, _ = figures.evaluations(scope, order="worst", limit=NOTABLE_CASES)
    agents = [summarise(row) | {"agent_id": row["agent_id"]} for row in figures.tallies(scope, ("agent_id",))]
    attention = sorted(
        (a for a in agents if a["calls"] >= ATTENTION_MIN_CALLS),
        key=lambda a: (a["pass_rate"], -a["calls"], a["agent_id"]),
    )[:ATTENTION_AGENTS]

    human_scope = replace(scope, sources=(Source.human.value,))
    human = figures.tallies(human_scope)
    agreement = _agreement_totals(figures.agreement(human_scope))
    report: dict[str, Any] = header(definition, summary["calls"] == 0, ("已评分通话", "evaluated calls")) | {
        "summary": summary,
        "human_review": summarise(human[0] if human else None) | {"agreement": agreement},
        "comparison": {
            "previous": summary_before,
            "pass_rate_change": change(summary["pass_rate"], summary_before["pass_rate"]),
            "calls_change": summary["calls"] - summary_before["calls"],
            "problems": {
                severity: {
                    "now": summary["problems"][severity],
                    "before": summary_before["problems"][severity],
                    "direction": direction(summary["problems"][severity], summary_before["problems"][severity]),
                }
                for severity in ("A", "B", "C")
            },
        },
        "groups": groups[:MAX_GROUPS],
        "groups_truncated": len(groups) > MAX_GROUPS,
        "top_failed_items": items[:TOP_ITEMS],
        "last_period_problems": last_problems,
        "training_advice": training_advice(items[:TOP_ITEMS]),
        "notable_cases": [case_of(e) for e in worst if not e.passed or e.auto_failed],
        "agents_needing_attention": attention,
        "days": days,
        "trend": trend,
        "forecast": asdict(forecast) | {"period": following.label},
        "pending_sections": {name: {"status": "unavailable", "reason": reason} for name, reason in PENDING.items()},
    }
    if period.kind is PeriodKind.daily:
        rows, total = figures.evaluations(scope, limit=DETAIL_LIMIT)
        report["detail"] = {"rows": [case_of(e) for e in rows], "total": total, "truncated": total > len(rows)}
    return report


def _agreement_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    compared = sum(r["compared"] for r in rows)
    agreed = sum(r["agreed"] for r in rows)
    return {
        "items_compared": compared,
        "agreed": agreed,
        "agreement_rate": rate(agreed, compared),
        "auto_stricter": sum(r["auto_stricter"] for r in rows),
        "auto_lenient": sum(r["auto_lenient"] for r in rows),
    }


REVIEW_SOURCES = (Source.human.value, Source.calibration.value)


def compute_agreement(figures: Figures, definition: Definition) -> dict[str, Any]:
    """Calibration and auto-scorer agreement: per item, how often the scorer's result was the human one.

    Read from the human versions (`evaluation.reviewed` carries both results per item): the latest version of
    each call counts. `auto_stricter`: the scorer failed what the human passed; `auto_lenient`: the reverse;
    the rest of the disagreements are not-applicable mismatches. Reviews and calibration sessions apart."""
    scope = replace(definition.scope(), sources=REVIEW_SOURCES)
    before = replace(definition.scope(definition.period.previous()), sources=REVIEW_SOURCES)
    rows = figures.agreement(scope, ("source",))
    previous: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in figures.agreement(before):
        previous.setdefault((row["scorecard_id"], row["item_id"]), []).append(row)
    per_item: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        per_item.setdefault((row["scorecard_id"], row["item_id"], row["section"], row["severity"]), []).append(row)
    items = []
    for (card, item_id, section, severity), cells in per_item.items():
        totals = _agreement_totals(cells)
        was = _agreement_totals(previous.get((card, item_id), []))
        items.append(
            {"scorecard_id": card, "item_id": item_id, "section": section, "severity": severity or None}
            | totals
            | {
                "by_source": {c["source"]: _agreement_totals([c]) for c in cells},
                "previous_agreement_rate": was["agreement_rate"],
                "agreement_rate_change": change(totals["agreement_rate"], was["agreement_rate"]),
            }
        )
    items.sort(key=lambda i: (i["agreement_rate"], -i["items_compared"], i["scorecard_id"], i["item_id"]))
    per_group: dict[str, list[dict[str, Any]]] = {}
    for row in figures.agreement(scope, ("group",)):
        per_group.setdefault(row["group"], []).append(row)
    reviewed = {row["source"]: int(row["evaluations"]) for row in figures.tallies(scope, ("source",))}
    groups = sorted(
        ({"group": group} | _agreement_totals(cells) for group, cells in per_group.items()),
        key=lambda g: (-g["items_compared"], g["group"]),
    )
    summary = _agreement_totals(rows) | {"versions": {source: reviewed.get(source, 0) for source in REVIEW_SOURCES}}
    return header(definition, not rows, ("人工复核", "human reviews or calibrations")) | {
        "summary": summary,
        "items": items,
        "groups": groups[:MAX_GROUPS],
        "groups_truncated": len(groups) > MAX_GROUPS,
    }


def _verdict(passed: bool) -> str:
    return "pass" if passed else "fail"


def compute_cases(figures: Figures, definition: Definition) -> dict[str, Any]:
    """Seed 004's 案例分析: the notable calls of the period, each with why it is notable, its items and links.

    auto_failed: calls the scorer failed outright (an A item); lowest_score: the lowest-scoring of the rest;
    overturned_on_appeal: an appeal changed the result or items; overridden_by_reviewer: a reviewer changed items.
    """
    scope = replace(definition.scope(), sources=(Source.auto.value,))
    cases: list[dict[str, Any]] = []
    failed, failed_total = figures.evaluations(scope, order="worst", limit=CASES_PER_CATEGORY, auto_failed=True)
    for evaluation in failed:
        items = ", ".join(i.item_id for i in evaluation.items if i.result.value == "fail")
        cases.append(
            case_of(evaluation)
            | {"category": "auto_failed", "reasons": [f"自动否决（A类）/ auto-fail (A item failed): {items}"]}
        )
    lowest, _ = figures.evaluations(scope, order="worst", limit=CASES_PER_CATEGORY, auto_failed=False)
    for evaluation in lowest:
        if evaluation.passed:
            continue
        items = ", ".join(i.item_id for i in evaluation.items if i.result.value == "fail")
        cases.append(
            case_of(evaluation)
            | {
                "category": "lowest_score",
                "reasons": [f"低分 {evaluation.percentage:.1f} / low score {evaluation.percentage:.1f}: {items}"],
            }
        )
    counts = {"overturned_on_appeal": 0, "overridden_by_reviewer": 0}
    changed_cases: dict[str, list[dict[str, Any]]] = {name: [] for name in counts}
    for human, auto in figures.human_versions(scope, HUMAN_VERSIONS_READ):
        changed = [i for i in human.items if i.auto_result is not None and i.auto_result is not i.result]
        overturned = auto is not None and auto.passed != human.passed
        if not changed and not overturned:
            continue
        category = "overturned_on_appeal" if human.cause == "appeal" else "overridden_by_reviewer"
        counts[category] += 1
        reasons = [
            f"{i.item_id}: 自动 {i.auto_result.value if i.auto_result else '—'} → 人工 {i.result.value} / "
            f"auto {i.auto_result.value if i.auto_result else '—'} → human {i.result.value}"
            for i in changed
        ]
        if overturned and auto is not None:
            reasons.insert(
                0,
                f"结果改判 / result changed: {_verdict(auto.passed)} ({auto.percentage:.1f}) → "
                f"{_verdict(human.passed)} ({human.percentage:.1f})",
            )
        if len(changed_cases[category]) < CASES_PER_CATEGORY:
            changed_cases[category].append(
                case_of(human)
                | {
                    "category": category,
                    "reasons": reasons,
                    "auto_score": round(auto.percentage, 2) if auto is not None else None,
                    "auto_passed": auto.passed if auto is not None else None,
                    "changed_items": [
                        {
                            "item_id": i.item_id,
                            "section": i.section,
                            "auto_result": i.auto_result.value if i.auto_result else None,
                            "human_result": i.result.value,
                        }
                        for i in changed
                    ],
                }
            )
    for found in changed_cases.values():
        cases.extend(found)
    summary = {"auto_failed": failed_total, "lowest_score": sum(c["category"] == "lowest_score" for c in cases)}
    return header(definition, not cases, ("典型案例", "notable calls")) | {
        "summary": summary | counts,
        "cases": cases,
        "cases_per_category": CASES_PER_CATEGORY,
    }


def training_advice(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seed 004: common problems → group training request; individual ones → coaching of those agents."""
    advice = []
    for item in items:
        name = f"{item['section']}/{item['item_id']}"
        if item["spread"] == "common":
            text = (
                f"共性问题：{name} 失败率 {item['failure_rate']:.0%}，涉及 {item['agents_failed']} 名坐席，"
                f"建议提交培训需求 / common problem: {name} fails in {item['failure_rate']:.0%} of calls across "
                f"{item['agents_failed']} agents — request group training"
            )
        else:
            text = (
                f"个性问题：{name} 集中在 {item['agents_failed']} 名坐席，建议一对一辅导并跟踪 / individual problem: "
                f"{name} concentrated in {item['agents_failed']} agents — coach them one to one and follow up"
            )
        advice.append(
            {"item_id": item["item_id"], "scorecard_id": item["scorecard_id"], "kind": item["spread"], "advice": text}
        )
    return advice
