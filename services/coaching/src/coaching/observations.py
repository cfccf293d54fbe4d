"""Reading scored items back from coaching's copy of the evaluations, one source at a time: `auto` (version 1, as
the scorer scored it) or `human` (the latest human version of each reviewed evaluation). Never both mixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from coaching.problems import Observation, observe
from coaching.tables import EvaluationRecord, EvaluationVersion

Source = Literal["auto", "human"]


@dataclass(frozen=True)
class Scope:
    groups: Sequence[str] = ()
    queues: Sequence[str] = ()
    agents: Sequence[str] = ()
    scorecard_id: str | None = None
    exclude_agents: Sequence[str] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": list(self.groups),
            "queues": list(self.queues),
            "agents": list(self.agents),
            "scorecard_id": self.scorecard_id,
        }


def observations(session: Session, scope: Scope, start: datetime, end: datetime, source: Source) -> list[Observation]:
    """Every item of every evaluation started in [start, end) in scope, from `source`'s version."""
    conditions: list[Any] = [col(EvaluationRecord.started_at) >= start, col(EvaluationRecord.started_at) < end]
    if scope.groups:
        conditions.append(col(EvaluationRecord.group).in_(list(scope.groups)))
    if scope.queues:
        conditions.append(col(EvaluationRecord.queue).in_(list(scope.queues)))
    if scope.agents:
        conditions.append(col(EvaluationRecord.agent_id).in_(list(scope.agents)))
    if scope.exclude_agents:
        conditions.append(col(EvaluationRecord.agent_id).not_in(list(scope.exclude_agents)))
    if scope.scorecard_id:
        conditions.append(col(EvaluationRecord.scorecard_id) == scope.scorecard_id)
    records = {r.id: r for r in session.exec(select(EvaluationRecord).where(*conditions)).all()}
    if not records:
        return []
    versions: dict[str, EvaluationVersion] = {}
    ids = list(records)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        statement = select(EvaluationVersion).where(col(EvaluationVersion.evaluation_id).in_(chunk))
        if source == "auto":
            statement = statement.where(EvaluationVersion.version == 1)
        else:
            statement = statement.where(EvaluationVersion.source == "human")
        for version in session.exec(statement):
            current = versions.get(version.evaluation_id)
            if current is None or version.version > current.version:
                versions[version.evaluation_id] = version
    out: list[Observation] = []
    for evaluation_id, version in sorted(versions.items()):
        record = records[evaluation_id]
        out += observe(
            evaluation_id=record.id,
            recording_id=record.recording_id,
            agent_id=record.agent_id,
            group=record.group,
            started_at=record.started_at,
            items=version.items,
            call_max_points=version.max_points,
        )
    return out


def call_outcomes(items: Sequence[Observation], focus: Sequence[str]) -> list[tuple[datetime, str, int]]:
    """Per call (time order): 1 when none of the focus items failed, 0 when one did; calls where every focus
    item was not applicable do not count. Returns (started_at, evaluation_id, passed)."""
    wanted = set(focus)
    calls: dict[str, tuple[datetime, bool, bool]] = {}  # id -> (started, any applicable, any failed)
    for o in items:
        if o.item_id not in wanted:
            continue
        started, applicable, failed = calls.get(o.evaluation_id, (o.started_at, False, False))
        calls[o.evaluation_id] = (started, applicable or o.applicable, failed or o.failed)
    rows = [(s, e, 0 if f else 1) for e, (s, a, f) in calls.items() if a]
    return sorted(rows)
