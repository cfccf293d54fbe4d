"""Plain helpers the reporting tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callqa.events import (
    EvaluationReviewed,
    EvaluationReviewedEvent,
    EvaluationScored,
    EvaluationScoredEvent,
    Evidence,
    ItemResult,
    ReviewedItem,
    ScoredItem,
    ScoreSource,
)
from reporting.periods import local_day

ZONE = ZoneInfo("Asia/Shanghai")


ITEMS = [  # (item_id, section, severity)
    ("opening", "service_language", "C"),
    ("closing", "service_language", "C"),
    ("verify_identity", "product_knowledge", "B"),
    ("forbidden_phrases", "service_language", "A"),
    ("empathy", "attitude", None),
]


def scored(
    *,
    recording_id: str | None = None,
    agent_id: str = "agent-1",
    group: str | None = "billing",
    queue: str | None = "billing-zh",
    started_at: datetime = datetime(2026, 11, 2, 1, 30, tzinfo=UTC),
    scorecard_id: str = "default-zh",
    scorecard_version: int = 1,
    transcript_version: str = "whisper-base@1",
    failed: tuple[str, ...] = (),
    not_applicable: tuple[str, ...] = (),
    percentage: float | None = None,
    evaluation_id: str | None = None,
    quote: str = "不知道，那你想好了再打来吧。",
) -> EvaluationScored:
    items = [
        ScoredItem(
            item_id=item_id,
            section=section,
            result=ItemResult.failed
            if item_id in failed
            else ItemResult.not_applicable
            if item_id in not_applicable
            else ItemResult.passed,
            points=0 if item_id in failed else 5,
            severity=severity,  # type: ignore[arg-type]
            evidence=[Evidence(turn_id="t2", text=quote)] if item_id in failed else [],
        )
        for item_id, section, severity in ITEMS
    ]
    auto_failed = "forbidden_phrases" in failed
    if percentage is None:
        applicable = len(ITEMS) - len(not_applicable)
        percentage = 0.0 if auto_failed else round(100 * (applicable - len(failed)) / max(applicable, 1), 2)
    return EvaluationScored(
        evaluation_id=evaluation_id or str(uuid.uuid4()),
        recording_id=recording_id or str(uuid.uuid4()),
        agent_id=agent_id,
        group=group,
        queue=queue,
        started_at=started_at,
        scorecard_id=scorecard_id,
        scorecard_version=scorecard_version,
        transcript_version=transcript_version,
        total_points=percentage / 4,
        max_points=25,
        percentage=percentage,
        passed=percentage >= 80 and not auto_failed,
        auto_failed=auto_failed,
        items=items,
    )


def reviewed(
    auto: EvaluationScored,
    version: int = 2,
    changes: dict[str, ItemResult] | None = None,
    cause: str = "review",
    source: ScoreSource = ScoreSource.human,
) -> EvaluationReviewed:
    """A human version of `auto` with some items' results changed (as coaching publishes it)."""
    changes = changes or {}
    items = [
        ReviewedItem(
            item_id=item.item_id,
            section=item.section,
            result=changes.get(item.item_id, item.result),
            points=0 if changes.get(item.item_id, item.result) is ItemResult.failed else 5,
            auto_result=item.result,
            auto_points=item.points,
            changed=item.item_id in changes and changes[item.item_id] is not item.result,
            severity=item.severity,
        )
        for item in auto.items
    ]
    failed = [i for i in items if i.result is ItemResult.failed]
    auto_failed = any(i.severity == "A" for i in failed)
    applicable = [i for i in items if i.result is not ItemResult.not_applicable]
    percentage = 0.0 if auto_failed else round(100 * (len(applicable) - len(failed)) / max(len(applicable), 1), 2)
    return EvaluationReviewed(
        evaluation_id=auto.evaluation_id,
        recording_id=auto.recording_id,
        agent_id=auto.agent_id,
        group=auto.group,
        queue=auto.queue,
        started_at=auto.started_at,
        scorecard_id=auto.scorecard_id,
        scorecard_version=auto.scorecard_version,
        version=version,
        source=source,
        cause=cause,  # type: ignore[arg-type]
        reviewer_id="qa-lin",
        reviewed_at=auto.started_at + timedelta(days=1, hours=version),
        released_at=None,
        total_points=percentage / 4,
        max_points=25,
        percentage=percentage,
        passed=percentage >= 80 and not auto_failed,
        auto_failed=auto_failed,
        items=items,
    )


def envelope(payload: EvaluationScored | EvaluationReviewed) -> EvaluationScoredEvent | EvaluationReviewedEvent:
    if isinstance(payload, EvaluationReviewed):
        return EvaluationReviewedEvent(correlation_id=payload.recording_id, producer="tests", payload=payload)
    return EvaluationScoredEvent(correlation_id=payload.recording_id, producer="tests", payload=payload)


def human_versions(seed: int, events: list[EvaluationScored]) -> list[EvaluationReviewed]:
    """Reviews and appeals of a sample of the calls: several versions of some, duplicates, calibrations."""
    rng = random.Random(seed)
    found: list[EvaluationReviewed] = []
    for auto in events:
        if rng.random() > 0.3:
            continue
        for version in range(2, 2 + rng.choice([1, 1, 2, 3])):
            changes = {item_id: rng.choice(list(ItemResult)) for item_id, _, _ in ITEMS if rng.random() < 0.2}
            cause = "appeal" if version > 2 else "review"
            source = ScoreSource.calibration if rng.random() < 0.1 else ScoreSource.human
            found.append(reviewed(auto, version, changes, cause, source))
            if rng.random() < 0.1:
                found.append(found[-1].model_copy())  # a duplicate delivery
    rng.shuffle(found)
    return found


def stream(
    seed: int, count: int, start: datetime = datetime(2026, 10, 1, tzinfo=UTC), days: int = 60
) -> list[EvaluationScored]:
    """A random stream with what real ones have: duplicates, re-transcriptions, re-scores with a new version,
    calls without group or queue, calls around local midnight."""
    rng = random.Random(seed)
    agents = [f"agent-{n}" for n in range(12)]
    groups = {a: rng.choice(["billing", "broadband", "mobile", None]) for a in agents}
    events: list[EvaluationScored] = []
    for _ in range(count):
        agent = rng.choice(agents)
        started = start + timedelta(seconds=rng.randrange(days * 86400))
        failed = tuple(item for item, _, _ in ITEMS if rng.random() < 0.15)
        na = tuple(item for item, _, _ in ITEMS if item not in failed and rng.random() < 0.05)
        event = scored(
            agent_id=agent,
            group=groups[agent],
            queue=rng.choice(["q1", "q2", None]),
            started_at=started,
            failed=failed,
            not_applicable=na,
        )
        events.append(event)
        roll = rng.random()
        if roll < 0.1:
            events.append(event.model_copy())  # a duplicate delivery
        elif roll < 0.15:  # the same call scored again from a newer transcript
            events.append(
                event.model_copy(
                    update={
                        "evaluation_id": str(uuid.uuid4()),
                        "transcript_version": "whisper-base@2",
                        "percentage": 50.0,
                        "passed": False,
                    }
                )
            )
        elif roll < 0.2:  # re-scored with a new scorecard version
            events.append(event.model_copy(update={"evaluation_id": str(uuid.uuid4()), "scorecard_version": 2}))
    rng.shuffle(events)
    return events


def brute_force(events: list[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The rollups recomputed the obvious way from the raw stream (scored and reviewed events): the winner per
    call × version × source, then sums."""
    best: dict[tuple[str, str, int, str], Any] = {}

    def rank(e: Any) -> tuple[int, str, str]:
        if isinstance(e, EvaluationReviewed):
            return (e.version, "", e.evaluation_id)
        return (0, e.transcript_version, e.evaluation_id)

    for e in events:
        source = e.source.value if isinstance(e, EvaluationReviewed) else "auto"
        key = (e.recording_id, e.scorecard_id, e.scorecard_version, source)
        if key not in best or rank(e) > rank(best[key]):
            best[key] = e
    cells: dict[tuple[Any, ...], Counter[str]] = {}
    items: dict[tuple[Any, ...], Counter[str]] = {}
    for (_, _, _, source), e in best.items():
        key = (
            local_day(e.started_at, ZONE),
            e.agent_id,
            e.group or "",
            e.queue or "",
            e.scorecard_id,
            e.scorecard_version,
            source,
        )
        cell = cells.setdefault(key, Counter())
        cell["evaluations"] += 1
        cell["passed"] += e.passed
        cell["auto_failed"] += e.auto_failed
        cell["score_centi"] += round(e.percentage * 100)
        for item in e.items:
            if item.result is ItemResult.failed:
                cell[f"failed_{(item.severity or 'x').lower()}"] += 1
            item_cell = items.setdefault((*key, item.item_id, item.section, item.severity or ""), Counter())
            if item.result is ItemResult.not_applicable:
                item_cell["not_applicable"] += 1
            else:
                item_cell["applicable"] += 1
                item_cell["failed"] += item.result is ItemResult.failed
            if isinstance(item, ReviewedItem):
                item_cell["compared"] += 1
                item_cell["agreed"] += item.auto_result is item.result
                item_cell["auto_stricter"] += item.auto_result is ItemResult.failed and item.result is ItemResult.passed
                item_cell["auto_lenient"] += item.auto_result is ItemResult.passed and item.result is ItemResult.failed
    columns = ("evaluations", "passed", "auto_failed", "score_centi", "failed_a", "failed_b", "failed_c")
    item_columns = ("applicable", "failed", "not_applicable", "compared", "agreed", "auto_stricter", "auto_lenient")
    return {
        "evaluations": sorted((*k, *(c[n] for n in columns)) for k, c in cells.items()),
        "items": sorted((*k, *(c[n] for n in item_columns)) for k, c in items.items()),
    }
