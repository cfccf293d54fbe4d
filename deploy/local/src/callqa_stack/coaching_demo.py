"""The demo's QA loop after scoring, against the coaching API: a sampling run picks calls, a scripted
analyst reviews one and overrides an item, the call's agent appeals, a supervisor resolves it. Each step
is printed. `walk(client, jwt_secret, evaluation_ids)` takes any httpx client (the demo's, or a test's)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from callqa.auth import Authenticator, Role
from callqa.settings import AuthSettings

ANALYST, SUPERVISOR = "qa-demo", "sup-demo"


def walk(client: httpx.Client, jwt_secret: str, evaluation_ids: set[str], wait_s: float = 60) -> int:
    auth = Authenticator(AuthSettings(jwt_secret=SecretStr(jwt_secret)))

    def as_(subject: str, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {auth.issue_token(subject, [role])}"}

    qa, supervisor = as_(ANALYST, Role.qa_analyst), as_(SUPERVISOR, Role.supervisor)
    print(f"\n==> coaching: waiting for its copy of the {len(evaluation_ids)} evaluations")
    deadline = time.monotonic() + wait_s
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = [
            e
            for e in client.get("/v1/evaluations", params={"limit": 500}, headers=qa).json()["items"]
            if e["id"] in evaluation_ids
        ]
        if len(seen) >= len(evaluation_ids):
            break
        time.sleep(0.5)
    if not seen:
        print("   coaching has none of them; see .callqa/logs/coaching.log")
        return 1
    days = sorted(datetime.fromisoformat(e["started_at"]).date() for e in seen)
    plan = {
        "name": "demo: every agent once, and every auto-fail",
        "period": {"kind": "range", "start": days[0].isoformat(), "end": days[-1].isoformat()},
        "methods": [{"type": "targeted", "pool": "auto_failed"}, {"type": "random", "per_agent": 1}],
        "exclude_reviewed": False,
        "due_days": 2,
    }
    answer = client.post("/v1/sampling-plans", json={"plan_id": "demo", **plan}, headers=qa)
    if answer.status_code == 409:  # an earlier demo made it: edit it (a new version)
        answer = client.put("/v1/sampling-plans/demo", json=plan, headers=qa)
    print(f"==> sampling plan 'demo' v{answer.json()['version']}: targeted auto-fails, then 1 random call per agent")
    run = client.post("/v1/sampling-plans/demo/runs", json={"seed": 2026, "reviewers": [{"id": ANALYST}]}, headers=qa)
    run_body = run.json()
    print(
        f"   run {run_body['id'][:8]}: seed {run_body['seed']}, {run_body['population_size']} calls in scope,"
        f" {run_body['picks']} picked"
    )
    picks = client.get(f"/v1/sampling-runs/{run_body['id']}/picks", headers=qa).json()["items"]
    for pick in picks:
        print(f"     {pick['evaluation_id'][:8]}  {pick['agent_id']:<12} {pick['reason']}  → {pick['reviewer_id']}")
    if not picks:
        return 1
    assignment = next(p["assignment_id"] for p in picks if p["assignment_id"])
    opened = client.post(f"/v1/assignments/{assignment}/open", headers=qa)
    work = opened.json()
    items = work["auto"]["items"]
    target = next((i for i in items if i["result"] == "fail"), items[0])
    flipped = "pass" if target["result"] == "fail" else "fail"
    print(
        f"==> {ANALYST} reviews {work['evaluation_id'][:8]} (auto {work['auto']['percentage']:.0f}%):"
        f" overrides {target['item_id']} {target['result']} → {flipped}"
    )
    decision = {
        "item_id": target["item_id"],
        "decision": "override",
        "result": flipped,
        "reason": "demo: heard otherwise",
    }
    submitted = client.post(
        f"/v1/assignments/{assignment}/submit",
        json={"items": [decision], "notes": "scripted review"},
        headers=qa | {"If-Match": opened.headers["ETag"]},
    ).json()["version"]
    print(
        f"   version {submitted['version']} (source {submitted['source']}): {submitted['percentage']:.0f}%,"
        f" {'passed' if submitted['passed'] else 'failed'}; released; evaluation.reviewed published"
    )
    agent = as_(work["agent_id"], Role.agent)
    other = next((i for i in items if i["item_id"] != target["item_id"]), target)
    appeal = client.post(
        f"/v1/evaluations/{work['evaluation_id']}/appeals",
        json={"items": [{"item_id": other["item_id"], "reason": "demo: I believe I did this"}]},
        headers=agent,
    )
    if appeal.status_code != 201:
        print(f"==> agent {work['agent_id']} appeals: refused ({appeal.json().get('detail')})")
        return 0
    body = appeal.json()
    print(
        f"==> agent {work['agent_id']} appeals {other['item_id']} (round {body['round']}), routed to {body['assignee']}"
    )
    outcome = "overturned" if other["result"] in ("pass", "fail") else "upheld"
    resolved = client.post(
        f"/v1/appeals/{body['id']}/resolution",
        json={"items": [{"item_id": other["item_id"], "outcome": outcome, "reason": "demo: checked the recording"}]},
        headers=supervisor,
    ).json()
    version = resolved["version"]
    after = f"version {version['version']}: {version['percentage']:.0f}%" if version else "no change"
    print(f"==> {SUPERVISOR} resolves it: {other['item_id']} {outcome} → {after}")
    timeline = client.get(f"/v1/evaluations/{work['evaluation_id']}/timeline", headers=agent).json()["items"]
    print("   timeline (as the agent sees it): " + " → ".join(f"{t['action']} ({t['actor']})" for t in timeline))
    return 0
