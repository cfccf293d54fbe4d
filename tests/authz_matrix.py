"""Who may call what: every endpoint of every service and the roles allowed on it, in one place.

`tests/api/test_authz.py` checks every endpoint of every running service against this table, for every
role and without or with bad credentials, and checks that the table covers each service's OpenAPI exactly;
README.md's "Who may call what" section is `render_markdown()` of it (a test fails when it is stale).

`admin` implicitly holds every role (callqa.auth), so it is allowed wherever any role is. `PUBLIC`
endpoints take no credentials at all (health, readiness and metrics for probes and scrapers).
Per-object rules come on top of the table: agents read only their own recordings and evaluations (in coaching:
only released ones) and appeals; only an assignment's reviewer works on it; an appeal is resolved by the one it is
routed to or a supervisor; a calibration session is its lead's, its analysts' and supervisors';
agents read only reports about themselves; agents read only their own improvement plans (403 on another's) and only
the plan's agent acknowledges it; a training request named for a trainer is scheduled and delivered by that trainer
(or a supervisor); agents read only the library items assigned to them and their own learning assignments and
records.
"""

from __future__ import annotations

from dataclasses import dataclass

from callqa.auth import Role

PUBLIC: frozenset[Role] = frozenset()  # no credentials needed
READERS = frozenset({Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.agent})
AUTHORS = frozenset({Role.qa_analyst, Role.supervisor})
STAFF = frozenset({Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor})

OPERATIONS: dict[str, frozenset[Role]] = {
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
}


@dataclass(frozen=True)
class Service:
    package: str
    env_prefix: str
    endpoints: dict[str, frozenset[Role]]  # "METHOD /path" -> roles allowed (PUBLIC: anyone)


SERVICES: dict[str, Service] = {
    "recorder-ingest": Service(
        "recorder_ingest",
        "CALLQA_INGEST_",
        {
            "POST /v1/recordings": frozenset({Role.ingest}),
            "GET /v1/recordings": READERS,
            "GET /v1/recordings/{recording_id}": READERS,
            "GET /v1/recordings/{recording_id}/audio": READERS,
            "PUT /v1/recordings/{recording_id}/legal-hold": frozenset({Role.supervisor}),
            "DELETE /v1/recordings/{recording_id}/legal-hold": frozenset({Role.supervisor}),
            "DELETE /v1/recordings/{recording_id}": frozenset({Role.supervisor}),
            "GET /v1/audit": frozenset({Role.auditor}),
        }
        | OPERATIONS,
    ),
    "transcriber": Service("transcriber", "CALLQA_TRANSCRIBER_", dict(OPERATIONS)),
    "scorer": Service(
        "scorer",
        "CALLQA_SCORER_",
        {
            "POST /v1/scorecards": AUTHORS,
            "GET /v1/scorecards": READERS,
            "POST /v1/scorecards/validate": AUTHORS,
            "GET /v1/scorecards/{scorecard_id}": READERS,
            "PUT /v1/scorecards/{scorecard_id}": AUTHORS,
            "GET /v1/scorecards/{scorecard_id}/versions": READERS,
            "GET /v1/scorecards/{scorecard_id}/versions/{version}": READERS,
            "POST /v1/scorecards/dry-run": AUTHORS,
            "POST /v1/scorecards/{scorecard_id}/dry-run": AUTHORS,
            "POST /v1/scorecards/{scorecard_id}/rescore": AUTHORS,
            "GET /v1/rescore-jobs/{job_id}": AUTHORS,
            "GET /v1/evaluations": READERS,
            "GET /v1/evaluations/{evaluation_id}": READERS,
        }
        | OPERATIONS,
    ),
    "coaching": Service(
        "coaching",
        "CALLQA_COACHING_",
        {
            "POST /v1/sampling-plans": AUTHORS,
            "GET /v1/sampling-plans": STAFF,
            "GET /v1/sampling-plans/{plan_id}": STAFF,
            "PUT /v1/sampling-plans/{plan_id}": AUTHORS,
            "GET /v1/sampling-plans/{plan_id}/versions": STAFF,
            "GET /v1/sampling-plans/{plan_id}/versions/{version}": STAFF,
            "POST /v1/sampling-plans/{plan_id}/runs": AUTHORS,
            "POST /v1/quota": AUTHORS,
            "GET /v1/sampling-runs": STAFF,
            "GET /v1/sampling-runs/{run_id}": STAFF,
            "GET /v1/sampling-runs/{run_id}/picks": STAFF,
            "GET /v1/assignments": AUTHORS | {Role.auditor},
            "GET /v1/assignments/queue": AUTHORS,
            "POST /v1/assignments": frozenset({Role.supervisor}),
            "GET /v1/assignments/{assignment_id}": AUTHORS | {Role.auditor},
            "POST /v1/assignments/{assignment_id}/open": AUTHORS,
            "PUT /v1/assignments/{assignment_id}/review": AUTHORS,
            "POST /v1/assignments/{assignment_id}/submit": AUTHORS,
            "POST /v1/assignments/{assignment_id}/reassign": frozenset({Role.supervisor}),
            "POST /v1/assignments/{assignment_id}/cancel": frozenset({Role.supervisor}),
            "GET /v1/evaluations": READERS,
            "GET /v1/evaluations/{evaluation_id}": READERS,
            "GET /v1/evaluations/{evaluation_id}/versions": READERS,
            "GET /v1/evaluations/{evaluation_id}/timeline": READERS,
            "POST /v1/evaluations/{evaluation_id}/acknowledgement": frozenset({Role.agent}),
            "POST /v1/evaluations/{evaluation_id}/appeals": frozenset({Role.agent}),
            "GET /v1/auto-scorer/agreement": STAFF,
            "GET /v1/appeals": AUTHORS | {Role.auditor, Role.agent},
            "GET /v1/appeals/{appeal_id}": AUTHORS | {Role.auditor, Role.agent},
            "POST /v1/appeals/{appeal_id}/resolution": AUTHORS,
            "POST /v1/calibrations": AUTHORS,
            "GET /v1/calibrations": AUTHORS,
            "GET /v1/calibrations/{session_id}": AUTHORS,
            "GET /v1/calibrations/{session_id}/calls/{evaluation_id}": AUTHORS,
            "PUT /v1/calibrations/{session_id}/calls/{evaluation_id}/score": AUTHORS,
            "POST /v1/calibrations/{session_id}/submit": AUTHORS,
            "POST /v1/calibrations/{session_id}/close": AUTHORS,
            "GET /v1/calibrations/{session_id}/report": AUTHORS,
            "POST /v1/problem-analyses": AUTHORS,
            "GET /v1/problem-analyses": STAFF,
            "GET /v1/problem-analyses/{analysis_id}": STAFF,
            "POST /v1/improvement-plans": AUTHORS,
            "GET /v1/improvement-plans": READERS,
            "GET /v1/improvement-plans/{plan_id}": READERS,
            "PUT /v1/improvement-plans/{plan_id}": AUTHORS,
            "POST /v1/improvement-plans/{plan_id}/activate": AUTHORS,
            "POST /v1/improvement-plans/{plan_id}/coached": AUTHORS,
            "POST /v1/improvement-plans/{plan_id}/follow-up": AUTHORS,
            "POST /v1/improvement-plans/{plan_id}/acknowledgement": frozenset({Role.agent}),
            "POST /v1/improvement-plans/{plan_id}/reminders": AUTHORS,
            "POST /v1/improvement-plans/{plan_id}/reassign": AUTHORS,
            "POST /v1/improvement-plans/{plan_id}/cancel": AUTHORS,
            "GET /v1/improvement-plans/{plan_id}/check-ins": READERS,
            "POST /v1/improvement-plans/{plan_id}/check-ins/{number}/done": AUTHORS,
            "POST /v1/training-requests": AUTHORS,
            "GET /v1/training-requests": STAFF,
            "GET /v1/training-requests/{request_id}": STAFF,
            "POST /v1/training-requests/{request_id}/schedule": frozenset({Role.trainer, Role.supervisor}),
            "POST /v1/training-requests/{request_id}/delivered": frozenset({Role.trainer, Role.supervisor}),
            "POST /v1/training-requests/{request_id}/recheck": AUTHORS | {Role.trainer},
            "POST /v1/library-items": frozenset({Role.trainer, Role.supervisor}),
            "GET /v1/library-items": READERS,
            "GET /v1/library-items/{item_id}": READERS,
            "PUT /v1/library-items/{item_id}": frozenset({Role.trainer, Role.supervisor}),
            "GET /v1/library-items/{item_id}/breakpoints/{index}/audio": READERS,
            "POST /v1/learning-assignments": AUTHORS | {Role.trainer},
            "GET /v1/learning-assignments": READERS,
            "POST /v1/learning-assignments/{assignment_id}/complete": frozenset({Role.agent}),
            "POST /v1/learning-records": frozenset({Role.agent}),
            "GET /v1/learning-records": READERS,
            "GET /v1/learning-records/{record_id}": READERS,
            "GET /v1/faq": READERS,
            "POST /v1/faq/refresh": AUTHORS | {Role.trainer},
            "GET /v1/scheduled-tasks": frozenset({Role.supervisor, Role.auditor}),
        }
        | OPERATIONS,
    ),
    "reporting": Service(
        "reporting",
        "CALLQA_REPORTING_",
        {
            "POST /v1/report-runs": READERS,
            "GET /v1/report-runs": READERS,
            "GET /v1/report-runs/{run_id}": READERS,
            "POST /v1/report-runs/{run_id}/rerun": READERS,
            "GET /v1/report-runs/{run_id}/download": READERS,
            "GET /v1/monitoring-detail": READERS,
            "POST /v1/schedules": AUTHORS,
            "GET /v1/schedules": AUTHORS,
            "GET /v1/schedules/{schedule_id}": AUTHORS,
            "DELETE /v1/schedules/{schedule_id}": AUTHORS,
            "GET /v1/downloads": frozenset({Role.auditor}),
        }
        | OPERATIONS,
    ),
}

# Where a service answers otherwise today, known and being fixed: (service, endpoint) -> (the roles it lets in
# that the table refuses, why). The matrix test expects those cells to fail (xfail, not strict) until the fix
# lands. Empty: issue 13's "re-score jobs readable by every reader" was fixed in 4318211.
KNOWN_DEVIATIONS: dict[tuple[str, str], tuple[frozenset[Role], str]] = {}


def allowed(service: str, endpoint: str, role: Role) -> bool:
    roles = SERVICES[service].endpoints[endpoint]
    return roles == PUBLIC or role is Role.admin or role in roles


def render_markdown() -> str:
    """The README table: one row per endpoint, the roles allowed (admin always is)."""
    lines = ["| service | endpoint | roles allowed (and `admin`) |", "|---|---|---|"]
    for name, service in SERVICES.items():
        rows = [(e, r) for e, r in service.endpoints.items() if e not in OPERATIONS]
        for endpoint, roles in rows:
            names = ", ".join(role.value for role in Role if role in roles)
            lines.append(f"| {name} | `{endpoint}` | {names} |")
    everyone = ", ".join(f"`{e}`" for e in OPERATIONS)
    lines.append(f"| every service | {everyone} | anyone, no credentials |")
    return "\n".join(lines) + "\n"
