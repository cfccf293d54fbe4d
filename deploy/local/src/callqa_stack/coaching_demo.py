"""The demo's QA loop after scoring, against the coaching API: a sampling run picks calls, a scripted
analyst reviews one and overrides an item, the call's agent appeals, a supervisor resolves it. Each step
is printed. `walk(client, jwt_secret, evaluation_ids)` takes any httpx client (the demo's, or a test's).
`follow_up(...)`: the problem analysis of the demo's calls, one proposed plan and its verified follow-up verdict on
generated later calls (issue 16)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from callqa.auth import Authenticator, Role
from callqa.bus import Bus
from callqa.events import EvaluationScored, EvaluationScoredEvent
from callqa.settings import AuthSettings, KafkaSettings
from callqa_stack.factories import evaluation_scored

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


def follow_up(
    client: httpx.Client,
    jwt_secret: str,
    kafka_bootstrap: str,
    evaluations: list[dict[str, Any]],
    wait_s: float = 90,
    seed: int = 2026,
) -> int:
    """Issue 16 on the demo: the problem analysis of the demo's calls; then generated history and later calls of
    one demo agent and six generated colleagues (the sample card, `evaluation.scored` on the broker) so that a plan
    proposed from the analysis gets a verified follow-up verdict."""
    auth = Authenticator(AuthSettings(jwt_secret=SecretStr(jwt_secret)))
    qa = {"Authorization": f"Bearer {auth.issue_token(ANALYST, [Role.qa_analyst])}"}
    started = sorted(datetime.fromisoformat(e["started_at"]) for e in evaluations)
    if not started:
        return 1
    analysis = client.post(
        "/v1/problem-analyses",
        json={
            "period_start": started[0].isoformat(),
            "period_end": (started[-1] + timedelta(seconds=1)).isoformat(),
        },
        headers=qa,
    ).json()
    print(f"\n==> problem analysis of the demo's {analysis['result']['calls']} calls (automatic scores)")
    for item in analysis["result"]["items"]:
        org = item["organisation"]
        if org["failures"]:
            print(f"   {item['item_id']:<28} fails {org['failures']}/{org['calls']} calls ({item['severity']})")
    problems = analysis["result"]["problems"]
    why = " (a problem needs at least 10 calls per agent and item to be told from chance)"
    print(f"   problems: {len(problems)}" + ("" if problems else why))

    agent, group = evaluations[0]["agent_id"], evaluations[0]["group"] or "demo"
    now = datetime.now(UTC).replace(microsecond=0)
    coached_at = now - timedelta(days=15)
    rng = random.Random(seed)
    generated = []
    colleagues = [f"{agent}-peer{n}" for n in range(6)]
    for who in [agent, *colleagues]:
        for start, rate in ((coached_at - timedelta(days=28), 0.6), (coached_at, 0.04)):
            closing = rate if who == agent else 0.06
            for _ in range(20):
                failed = tuple(i for i, r in (("closing", closing), ("greeting", 0.05)) if rng.random() < r)
                generated.append(
                    evaluation_scored(
                        agent_id=who,
                        group=group,
                        failed=failed,
                        started_at=start + timedelta(seconds=rng.uniform(0, 13 * 86400)),
                    )
                )
    print(f"==> {len(generated)} generated evaluations on the sample card for {agent} and 6 colleagues in {group}:")
    print(f"   {agent} fails 'closing' in 60 % of their calls before {coached_at:%Y-%m-%d}, rarely after coaching")

    def on_card() -> int:
        answer = client.get("/v1/evaluations", params={"scorecard_id": "test-card", "limit": 1}, headers=qa)
        return int(answer.json()["total"])

    already = on_card()
    asyncio.run(_publish(kafka_bootstrap, generated))
    deadline = time.monotonic() + wait_s
    while on_card() < already + len(generated) and time.monotonic() < deadline:
        time.sleep(0.5)
    before = client.post(
        "/v1/problem-analyses",
        json={
            "period_start": (coached_at - timedelta(days=28)).isoformat(),
            "period_end": coached_at.isoformat(),
            "groups": [group],
            "scorecard_id": "test-card",
        },
        headers=qa,
    ).json()
    found = [p for p in before["result"]["problems"] if p["kind"] == "individual" and p["agent_id"] == agent]
    if not found:
        print("   the analysis found no individual problem; see .callqa/logs/coaching.log")
        return 1
    problem = found[0]
    print(
        f"==> analysis before coaching: {agent} fails {problem['item_id']} in {problem['rate']:.0%} of"
        f" {problem['calls']} calls vs {problem['comparison']['rate']:.0%} for the rest of {group}"
        f" (q = {problem['q_value']:.2g}): an individual problem"
    )
    plan = client.post(
        "/v1/improvement-plans",
        json={"analysis_id": before["id"], "problem_id": problem["id"], "goal_days": 14, "goal_pass_rate": 0.9},
        headers=qa,
    ).json()
    print(f"==> improvement plan {plan['id'][:8]} proposed: focus {plan['focus_items']}, goal ≥ 90 % over 14 days")
    client.post(f"/v1/improvement-plans/{plan['id']}/activate", headers=qa)
    client.post(f"/v1/improvement-plans/{plan['id']}/coached", json={"at": coached_at.isoformat()}, headers=qa)
    closed = client.post(f"/v1/improvement-plans/{plan['id']}/follow-up", headers=qa).json()
    evidence = closed.get("evidence") or {}
    if closed.get("status") != "closed":
        print(f"   follow-up: {closed.get('detail')}")
        return 1
    b, a = evidence["before"], evidence["after"]
    low, high = evidence["effect_ci"]
    gb, ga = evidence["group_before"], evidence["group_after"]
    print(
        f"==> follow-up verdict: {closed['verdict']} (goal met: {closed['goal_met']})\n"
        f"   {agent}: {b['passed']}/{b['calls']} → {a['passed']}/{a['calls']} calls passed the focus items;"
        f" change {evidence['effect']:+.0%} (95 % CI {low:+.0%} … {high:+.0%}),"
        f" exact test p = {evidence['p_value']:.2g}\n"
        f"   rest of {group}: {gb['rate']:.0%} → {ga['rate']:.0%}; difference in differences"
        f" {evidence['difference_in_differences']:+.0%} (p = {evidence['did_p_value']:.2g})"
    )
    return 0


async def _publish(bootstrap: str, payloads: list[EvaluationScored]) -> None:
    async with Bus(KafkaSettings(bootstrap_servers=bootstrap)) as bus:
        for payload in payloads:
            await bus.publish(
                EvaluationScoredEvent(correlation_id=payload.recording_id, producer="demo", payload=payload)
            )
