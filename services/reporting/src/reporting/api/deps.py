"""Dependency aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from callqa.auth import Principal, Role, require_roles
from callqa.http import ProblemError
from reporting.runs import ReportRuns, Schedules
from reporting.store import RollupStore

STAFF = {Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.admin}


def get_runs(request: Request) -> ReportRuns:
    runs: ReportRuns = request.app.state.runs
    return runs


def get_schedules(request: Request) -> Schedules:
    schedules: Schedules = request.app.state.schedules
    return schedules


def get_store(request: Request) -> RollupStore:
    store: RollupStore = request.app.state.store
    return store


def agent_only(principal: Principal) -> bool:
    """An agent (and nothing more) sees only its own figures."""
    return not principal.roles & STAFF


def allowed_groups(principal: Principal, group: str | None) -> list[str] | None:
    """The groups a report for `principal` may read: None for every group (no `groups` claim).

    A filter on a group outside the claim is refused (403); without a filter, the report covers the allowed groups.
    """
    if principal.groups is None:
        return None
    if group is not None and not principal.may_see(group):
        raise ProblemError(403, "Forbidden", f"you may not see the figures of group {group!r}")
    return sorted(principal.groups)


RunsDep = Annotated[ReportRuns, Depends(get_runs)]
SchedulesDep = Annotated[Schedules, Depends(get_schedules)]
StoreDep = Annotated[RollupStore, Depends(get_store)]
# Who reads reports (agents: their own figures only).
Reader = Annotated[
    Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.agent))
]
# Who sets up scheduled reports and their recipients.
Planner = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor))]
Auditor = Annotated[Principal, Depends(require_roles(Role.auditor))]
